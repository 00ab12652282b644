using System.Globalization;
using System.Text;

namespace Redoubt.Server.Commands;

/// <summary>INFO [section ...]: every section and field of Redis 7.0, in Redis's order.</summary>
public static partial class ServerCommands
{
    /// <summary>What INFO with no argument, or "default", prints.</summary>
    private static readonly string[] DefaultInfoSections =
        ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "module_list", "errorstats", "cluster", "keyspace"];

    private static void Info(Client c)
    {
        var sections = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        bool all = false;
        if (c.Argc == 1) sections.UnionWith(DefaultInfoSections);
        for (int i = 1; i < c.Argc; i++)
        {
            string s = c.ArgString(i);
            if (s.Equals("default", StringComparison.OrdinalIgnoreCase)) sections.UnionWith(DefaultInfoSections);
            else if (s.Equals("all", StringComparison.OrdinalIgnoreCase) || s.Equals("everything", StringComparison.OrdinalIgnoreCase)) all = true;
            else sections.Add(s);
        }
        c.Reply.Verbatim(GenerateInfo(c.Server, sections, all));
    }

    /// <summary>The INFO text for the requested sections (all of them when <paramref name="all"/>).</summary>
    public static string GenerateInfo(RedisServer server, IReadOnlySet<string> sections, bool all)
    {
        var sb = new StringBuilder(4096);
        int count = 0;
        void Section(string name, string title, Action<StringBuilder> body, string? alias = null)
        {
            if (!all && !sections.Contains(name) && (alias is null || !sections.Contains(alias))) return;
            if (count++ > 0) sb.Append("\r\n");
            sb.Append("# ").Append(title).Append("\r\n");
            if (server.InfoSectionProviders.TryGetValue(name, out var provider)) sb.Append(provider());
            else body(sb);
        }
        Section("server", "Server", s => InfoServer(server, s));
        Section("clients", "Clients", s => InfoClients(server, s));
        Section("memory", "Memory", s => InfoMemory(server, s));
        Section("persistence", "Persistence", s => InfoPersistence(server, s));
        Section("stats", "Stats", s => InfoStats(server, s));
        Section("replication", "Replication", s => InfoReplication(server, s));
        Section("cpu", "CPU", InfoCpu);
        Section("module_list", "Modules", _ => { }, alias: "modules");
        Section("commandstats", "Commandstats", s => InfoCommandStats(server, s));
        Section("errorstats", "Errorstats", s => InfoErrorStats(server, s));
        Section("latencystats", "Latencystats", s => InfoLatencyStats(server, s));
        Section("cluster", "Cluster", s => s.Append("cluster_enabled:").Append(server.ClusterEnabled ? 1 : 0).Append("\r\n"));
        Section("keyspace", "Keyspace", s => InfoKeyspace(server, s));
        return sb.ToString();
    }

    private static StringBuilder Field(this StringBuilder sb, string name, string value) => sb.Append(name).Append(':').Append(value).Append("\r\n");
    private static StringBuilder Field(this StringBuilder sb, string name, long value) => sb.Append(name).Append(':').Append(value.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
    private static StringBuilder Field(this StringBuilder sb, string name, bool value) => sb.Append(name).Append(':').Append(value ? '1' : '0').Append("\r\n");
    private static string F2(double d) => d.ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>INFO replaces the characters that would break its line format (Redis's getSafeInfoString).</summary>
    private static string SafeInfo(string s)
        => s.AsSpan().IndexOfAny("#:\r\n") < 0 ? s : s.Replace('#', '_').Replace(':', '_').Replace('\r', '_').Replace('\n', '_');

    private static void InfoServer(RedisServer server, StringBuilder s)
    {
        long nowUs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10;
        long uptime = (server.NowMs - server.StartTimeMs) / 1000;
        s.Field("redis_version", RedisServer.Version)
         .Field("redis_git_sha1", "00000000")
         .Field("redis_git_dirty", 0)
         .Field("redis_build_id", "0000000000000000")
         .Field("redis_mode", server.ClusterEnabled ? "cluster" : "standalone")
         .Field("os", ProcessMetrics.OsString)
         .Field("arch_bits", IntPtr.Size * 8)
         .Field("monotonic_clock", "POSIX clock_gettime")
         .Field("multiplexing_api", "epoll")
         .Field("atomicvar_api", "c11-builtin")
         .Field("gcc_version", "0.0.0")
         .Field("process_id", Environment.ProcessId)
         .Field("process_supervised", "no")
         .Field("run_id", server.RunId)
         .Field("tcp_port", server.Config.Port)
         .Field("server_time_usec", nowUs)
         .Field("uptime_in_seconds", uptime)
         .Field("uptime_in_days", uptime / (3600 * 24))
         .Field("hz", server.Config.Hz)
         .Field("configured_hz", server.Config.Hz)
         .Field("lru_clock", server.LruClock)
         .Field("executable", Environment.ProcessPath ?? "")
         .Field("config_file", server.Config.ConfigFile ?? "")
         .Field("io_threads_active", 0);
        server.AppendShutdownInfo(s);
    }

    private static void InfoClients(RedisServer server, StringBuilder s)
    {
        long replicas = 0, blocked = 0, tracking = 0;
        foreach (var c in server.Clients.Values)
        {
            if ((c.Flags & ClientFlags.Replica) != 0) replicas++;
            // Clients held back by CLIENT PAUSE count as blocked, as Redis blocks them to postpone.
            if ((c.Flags & (ClientFlags.Blocked | ClientFlags.Paused)) != 0) blocked++;
            if ((c.Flags & ClientFlags.TrackingOn) != 0) tracking++;
        }
        s.Field("connected_clients", server.Clients.Count - replicas)
         .Field("cluster_connections", 0)
         .Field("maxclients", server.Config.MaxClients)
         .Field("client_recent_max_input_buffer", server.ClientRecentMaxInputBuffer)
         .Field("client_recent_max_output_buffer", server.ClientRecentMaxOutputBuffer)
         .Field("blocked_clients", blocked)
         .Field("tracking_clients", tracking)
         .Field("clients_in_timeout_table", server.ClientsInTimeoutTable);
    }

    /// <summary>A directive's current value by name, for settings other subsystems declare.</summary>
    private static string ConfigValue(RedisServer server, string name, string fallback) => server.Config.Find(name)?.Get() ?? fallback;

    private static void InfoMemory(RedisServer server, StringBuilder s)
    {
        var m = server.MeasureMemory();
        var sc = server.ScriptingStatus;
        long maxmemory = server.Config.MaxMemory;
        s.Field("used_memory", m.Used)
         .Field("used_memory_human", RedisServer.BytesToHuman(m.Used))
         .Field("used_memory_rss", m.Rss)
         .Field("used_memory_rss_human", RedisServer.BytesToHuman(m.Rss))
         .Field("used_memory_peak", m.Peak)
         .Field("used_memory_peak_human", RedisServer.BytesToHuman(m.Peak))
         .Field("used_memory_peak_perc", F2(m.PeakPerc) + "%")
         .Field("used_memory_overhead", m.Overhead)
         .Field("used_memory_startup", m.Startup)
         .Field("used_memory_dataset", m.Dataset)
         .Field("used_memory_dataset_perc", F2(m.DatasetPerc) + "%")
         .Field("allocator_allocated", m.AllocatorAllocated)
         .Field("allocator_active", m.AllocatorActive)
         .Field("allocator_resident", m.AllocatorResident)
         .Field("total_system_memory", m.TotalSystem)
         .Field("total_system_memory_human", RedisServer.BytesToHuman(m.TotalSystem))
         .Field("used_memory_lua", sc.UsedMemoryVmEval)
         .Field("used_memory_vm_eval", sc.UsedMemoryVmEval)
         .Field("used_memory_lua_human", RedisServer.BytesToHuman(sc.UsedMemoryVmEval))
         .Field("used_memory_scripts_eval", sc.UsedMemoryScriptsEval)
         .Field("number_of_cached_scripts", sc.NumberOfCachedScripts)
         .Field("number_of_functions", sc.NumberOfFunctions)
         .Field("number_of_libraries", sc.NumberOfLibraries)
         .Field("used_memory_vm_functions", sc.UsedMemoryVmFunctions)
         .Field("used_memory_vm_total", sc.UsedMemoryVmFunctions + sc.UsedMemoryVmEval)
         .Field("used_memory_vm_total_human", RedisServer.BytesToHuman(sc.UsedMemoryVmFunctions + sc.UsedMemoryVmEval))
         .Field("used_memory_functions", sc.UsedMemoryFunctions)
         .Field("used_memory_scripts", sc.UsedMemoryScriptsEval + sc.UsedMemoryFunctions)
         .Field("used_memory_scripts_human", RedisServer.BytesToHuman(sc.UsedMemoryScriptsEval + sc.UsedMemoryFunctions))
         .Field("maxmemory", maxmemory)
         .Field("maxmemory_human", RedisServer.BytesToHuman(maxmemory))
         .Field("maxmemory_policy", ConfigValue(server, "maxmemory-policy", "noeviction"))
         .Field("allocator_frag_ratio", F2(m.AllocatorFragRatio))
         .Field("allocator_frag_bytes", m.AllocatorFragBytes)
         .Field("allocator_rss_ratio", F2(m.AllocatorRssRatio))
         .Field("allocator_rss_bytes", m.AllocatorRssBytes)
         .Field("rss_overhead_ratio", F2(m.RssOverheadRatio))
         .Field("rss_overhead_bytes", m.RssOverheadBytes)
         .Field("mem_fragmentation_ratio", F2(m.FragmentationRatio))
         .Field("mem_fragmentation_bytes", m.FragmentationBytes)
         .Field("mem_not_counted_for_evict", server.NotCountedForEviction)
         .Field("mem_replication_backlog", m.ReplBacklog)
         .Field("mem_total_replication_buffers", m.ReplBacklog + m.ClientsReplicas)
         .Field("mem_clients_slaves", m.ClientsReplicas)
         .Field("mem_clients_normal", m.ClientsNormal)
         .Field("mem_cluster_links", 0)
         .Field("mem_aof_buffer", m.AofBuffer)
         .Field("mem_allocator", "libc")
         .Field("active_defrag_running", 0)
         .Field("lazyfree_pending_objects", 0)
         .Field("lazyfreed_objects", 0);
    }

    private static void InfoPersistence(RedisServer server, StringBuilder s)
    {
        server.BeforePersistenceInfo?.Invoke();
        server.RefreshPersistenceStatus();
        var p = server.PersistenceStatus;
        s.Field("loading", p.Loading && !p.AsyncLoading)
         .Field("async_loading", p.AsyncLoading)
         .Field("current_cow_peak", p.CurrentCowPeak)
         .Field("current_cow_size", p.CurrentCowSize)
         .Field("current_cow_size_age", p.CurrentCowSizeAgeSec)
         .Field("current_fork_perc", F2(p.CurrentForkPerc))
         .Field("current_save_keys_processed", p.CurrentSaveKeysProcessed)
         .Field("current_save_keys_total", p.CurrentSaveKeysTotal)
         .Field("rdb_changes_since_last_save", server.Stats.Dirty)
         .Field("rdb_bgsave_in_progress", p.RdbBgsaveInProgress)
         .Field("rdb_last_save_time", p.LastSaveUnix)
         .Field("rdb_last_bgsave_status", p.LastBgsaveOk ? "ok" : "err")
         .Field("rdb_last_bgsave_time_sec", p.RdbLastBgsaveTimeSec)
         .Field("rdb_current_bgsave_time_sec", p.RdbCurrentBgsaveTimeSec)
         .Field("rdb_saves", p.RdbSaves)
         .Field("rdb_last_cow_size", p.RdbLastCowSize)
         .Field("rdb_last_load_keys_expired", p.RdbLastLoadKeysExpired)
         .Field("rdb_last_load_keys_loaded", p.RdbLastLoadKeysLoaded)
         .Field("aof_enabled", p.AofEnabled)
         .Field("aof_rewrite_in_progress", p.AofRewriteInProgress)
         .Field("aof_rewrite_scheduled", p.AofRewriteScheduled)
         .Field("aof_last_rewrite_time_sec", p.AofLastRewriteTimeSec)
         .Field("aof_current_rewrite_time_sec", p.AofCurrentRewriteTimeSec)
         .Field("aof_last_bgrewrite_status", p.AofLastBgrewriteOk ? "ok" : "err")
         .Field("aof_rewrites", p.AofRewrites)
         .Field("aof_rewrites_consecutive_failures", p.AofRewritesConsecutiveFailures)
         .Field("aof_last_write_status", p.AofLastWriteOk ? "ok" : "err")
         .Field("aof_last_cow_size", p.AofLastCowSize)
         .Field("module_fork_in_progress", p.ModuleForkInProgress)
         .Field("module_fork_last_cow_size", p.ModuleForkLastCowSize);
        if (p.AofEnabled)
        {
            s.Field("aof_current_size", p.AofCurrentSize)
             .Field("aof_base_size", p.AofBaseSize)
             .Field("aof_pending_rewrite", p.AofRewriteScheduled)
             .Field("aof_buffer_length", p.AofBufferLength)
             .Field("aof_pending_bio_fsync", p.AofPendingBioFsync)
             .Field("aof_delayed_fsync", p.AofDelayedFsync);
        }
        if (p.Loading)
        {
            double perc = 0;
            long remaining = 1;
            if (p.LoadingTotalBytes > 0)
            {
                perc = (double)p.LoadingLoadedBytes / p.LoadingTotalBytes * 100;
                remaining = p.LoadingTotalBytes - p.LoadingLoadedBytes;
            }
            else if (p.LoadingRdbUsedMem > 0)
            {
                perc = Math.Min(99.99, (double)p.LoadingLoadedBytes / p.LoadingRdbUsedMem * 100);
                remaining = Math.Max(1, p.LoadingRdbUsedMem - p.LoadingLoadedBytes);
            }
            long elapsed = server.NowMs / 1000 - p.LoadingStartTime;
            long eta = elapsed == 0 ? 1 : elapsed * remaining / (p.LoadingLoadedBytes + 1);
            s.Field("loading_start_time", p.LoadingStartTime)
             .Field("loading_total_bytes", p.LoadingTotalBytes)
             .Field("loading_rdb_used_mem", p.LoadingRdbUsedMem)
             .Field("loading_loaded_bytes", p.LoadingLoadedBytes)
             .Field("loading_loaded_perc", F2(perc))
             .Field("loading_eta_seconds", eta);
        }
    }

    private static void InfoStats(RedisServer server, StringBuilder s)
    {
        var st = server.Stats;
        s.Field("total_connections_received", st.TotalConnectionsReceived)
         .Field("total_commands_processed", st.TotalCommandsProcessed)
         .Field("instantaneous_ops_per_sec", st.InstantaneousOps)
         .Field("total_net_input_bytes", st.NetInputBytes + st.NetReplInputBytes)
         .Field("total_net_output_bytes", st.NetOutputBytes + st.NetReplOutputBytes)
         .Field("total_net_repl_input_bytes", st.NetReplInputBytes)
         .Field("total_net_repl_output_bytes", st.NetReplOutputBytes)
         .Field("instantaneous_input_kbps", F2(st.InstantaneousInputKbps))
         .Field("instantaneous_output_kbps", F2(st.InstantaneousOutputKbps))
         .Field("instantaneous_input_repl_kbps", F2(0))
         .Field("instantaneous_output_repl_kbps", F2(0))
         .Field("rejected_connections", st.RejectedConnections)
         .Field("sync_full", st.SyncFull)
         .Field("sync_partial_ok", st.SyncPartialOk)
         .Field("sync_partial_err", st.SyncPartialErr)
         .Field("expired_keys", st.ExpiredKeys)
         .Field("expired_stale_perc", F2(st.ExpiredStalePercentage))
         .Field("expired_time_cap_reached_count", st.ExpiredTimeCapReachedCount)
         .Field("expire_cycle_cpu_milliseconds", st.ExpireCycleCpuMilliseconds)
         .Field("evicted_keys", st.EvictedKeys)
         .Field("evicted_clients", st.EvictedClients)
         .Field("total_eviction_exceeded_time", server.TotalEvictionExceededMs)
         .Field("current_eviction_exceeded_time", server.CurrentEvictionExceededMs)
         .Field("keyspace_hits", st.KeyspaceHits)
         .Field("keyspace_misses", st.KeyspaceMisses)
         .Field("pubsub_channels", server.PubSub.ChannelCount)
         .Field("pubsub_patterns", server.PubSub.PatternCount)
         .Field("pubsubshard_channels", server.PubSub.ShardChannelCount)
         .Field("latest_fork_usec", st.LatestForkUsec)
         .Field("total_forks", st.TotalForks)
         .Field("migrate_cached_sockets", server.MigrateCachedSockets)
         .Field("slave_expires_tracked_keys", 0)
         .Field("active_defrag_hits", 0)
         .Field("active_defrag_misses", 0)
         .Field("active_defrag_key_hits", 0)
         .Field("active_defrag_key_misses", 0)
         .Field("total_active_defrag_time", 0)
         .Field("current_active_defrag_time", 0)
         .Field("tracking_total_keys", st.TrackingTotalKeys)
         .Field("tracking_total_items", st.TrackingTotalItems)
         .Field("tracking_total_prefixes", st.TrackingTotalPrefixes)
         .Field("unexpected_error_replies", st.UnexpectedErrorReplies)
         .Field("total_error_replies", st.TotalErrorReplies)
         .Field("dump_payload_sanitizations", st.DumpPayloadSanitizations)
         .Field("total_reads_processed", st.TotalReadsProcessed)
         .Field("total_writes_processed", st.TotalWritesProcessed)
         .Field("io_threaded_reads_processed", 0)
         .Field("io_threaded_writes_processed", 0)
         .Field("reply_buffer_shrinks", st.ReplyBufferShrinks)
         .Field("reply_buffer_expands", st.ReplyBufferExpands);
    }

    private static void InfoReplication(RedisServer server, StringBuilder s)
    {
        var r = server.ReplicationStatus;
        long backlogSize = server.Config.Find("repl-backlog-size") is { } e && long.TryParse(e.Get(), out long v) ? v : 1024 * 1024;
        bool replica = server.Config.MasterHost != null;
        s.Field("role", replica ? "slave" : "master");
        if (replica) server.AppendMasterLinkInfo(s);
        s.Field("connected_slaves", server.Replicas.Count);
        if (server.Config.MinReplicasToWrite > 0 && server.Config.MinReplicasMaxLag > 0)
            s.Field("min_slaves_good_slaves", server.GoodReplicas());
        server.AppendReplicaInfo(s);
        s.Field("master_failover_state", r.FailoverState)
         .Field("master_replid", r.ReplId)
         .Field("master_replid2", r.ReplId2)
         .Field("master_repl_offset", r.MasterReplOffset)
         .Field("second_repl_offset", r.SecondReplOffset)
         .Field("repl_backlog_active", r.BacklogActive)
         .Field("repl_backlog_size", backlogSize)
         .Field("repl_backlog_first_byte_offset", r.BacklogFirstByteOffset)
         .Field("repl_backlog_histlen", r.BacklogHistlen);
    }

    private static void InfoCpu(StringBuilder s)
    {
        var self = ProcessMetrics.Self();
        var children = ProcessMetrics.Children();
        var thread = ProcessMetrics.CurrentThread();
        s.Field("used_cpu_sys", ProcessMetrics.Seconds(self.SystemMicros))
         .Field("used_cpu_user", ProcessMetrics.Seconds(self.UserMicros))
         .Field("used_cpu_sys_children", ProcessMetrics.Seconds(children.SystemMicros))
         .Field("used_cpu_user_children", ProcessMetrics.Seconds(children.UserMicros))
         .Field("used_cpu_sys_main_thread", ProcessMetrics.Seconds(thread.SystemMicros))
         .Field("used_cpu_user_main_thread", ProcessMetrics.Seconds(thread.UserMicros));
    }

    private static void InfoCommandStats(RedisServer server, StringBuilder s)
    {
        // AllCommands lists each container right before its subcommands, as Redis walks them.
        foreach (var cmd in server.Commands.AllCommands)
        {
            if (cmd.Calls == 0 && cmd.FailedCalls == 0 && cmd.RejectedCalls == 0) continue;
            double perCall = cmd.Calls == 0 ? 0 : (float)cmd.MicrosecondsTotal / cmd.Calls;
            s.Append("cmdstat_").Append(SafeInfo(cmd.FullName))
             .Append(":calls=").Append(cmd.Calls.ToString(CultureInfo.InvariantCulture))
             .Append(",usec=").Append(cmd.MicrosecondsTotal.ToString(CultureInfo.InvariantCulture))
             .Append(",usec_per_call=").Append(F2(perCall))
             .Append(",rejected_calls=").Append(cmd.RejectedCalls.ToString(CultureInfo.InvariantCulture))
             .Append(",failed_calls=").Append(cmd.FailedCalls.ToString(CultureInfo.InvariantCulture))
             .Append("\r\n");
        }
    }

    private static void InfoErrorStats(RedisServer server, StringBuilder s)
    {
        // Sorted by code, as Redis's radix tree yields them.
        foreach (var (code, count) in server.Stats.ErrorCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            s.Append("errorstat_").Append(SafeInfo(code)).Append(":count=").Append(count.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
    }

    private static void InfoLatencyStats(RedisServer server, StringBuilder s)
    {
        if (!server.Config.LatencyTracking) return;
        var percentiles = server.Config.LatencyTrackingInfoPercentiles;
        foreach (var cmd in server.Commands.AllCommands)
        {
            if (cmd.Latency is not { } h) continue;
            s.Append("latency_percentiles_usec_").Append(SafeInfo(cmd.FullName)).Append(':');
            for (int i = 0; i < percentiles.Length; i++)
            {
                if (i > 0) s.Append(',');
                s.Append('p').Append(Config.ServerConfig.FormatPercentile(percentiles[i])).Append('=')
                 .Append((h.ValueAtPercentile(percentiles[i]) / 1000.0).ToString("F3", CultureInfo.InvariantCulture));
            }
            s.Append("\r\n");
        }
    }

    private static void InfoKeyspace(RedisServer server, StringBuilder s)
    {
        foreach (var db in server.Databases)
        {
            if (db.Count == 0 && db.ExpiresCount == 0) continue;
            s.Append("db").Append(db.Id.ToString(CultureInfo.InvariantCulture))
             .Append(":keys=").Append(db.Count.ToString(CultureInfo.InvariantCulture))
             .Append(",expires=").Append(db.ExpiresCount.ToString(CultureInfo.InvariantCulture))
             .Append(",avg_ttl=").Append(server.AverageTtl(db.Id).ToString(CultureInfo.InvariantCulture))
             .Append("\r\n");
        }
    }
}
