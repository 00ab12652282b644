using Redoubt.Server.Config;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>The maxmemory-policy values, with Redis's grouping into LRU, LFU, TTL and random policies.</summary>
public enum EvictionPolicy
{
    NoEviction,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
}

/// <summary>
/// Memory accounting: the figure INFO reports as used_memory and that maxmemory is compared with.
///
/// The managed heap cannot answer "how much is in use" cheaply and honestly: GC.GetTotalMemory counts
/// garbage not yet collected (a generation-0 budget is megabytes), and the heap size after the last
/// collection is stale. So the figure is built the way an allocator's counter would be, from parts
/// that are each kept current as they change:
///   start-up memory   the managed heap measured once (after a full collection) when the server starts;
///   keys and values   each key table counts its objects as they are stored, replaced and removed
///                     (string records exactly; other values by their O(1) MemoryUsage estimate, measured
///                     again after every command that looked them up, see <see cref="MemoryLedger"/>);
///   key tables        the entry, bucket and expire-index arrays at their allocated capacity;
///   clients           query and reply buffers, output being sent, queued MULTI commands, per client,
///                     updated after each command, when others write to it and by the cron;
///   caches            script and function caches, replication backlog, AOF buffer as their
///                     subsystems report them.
/// Reading the figure costs a few dozen field reads, so it is computed before every command when
/// maxmemory is set, as Redis does. docs/architecture.md compares it with RSS.
/// </summary>
public sealed partial class RedisServer
{
    /// <summary>Values noted by lookups, measured again after each command (see <see cref="MemoryLedger"/>).</summary>
    public MemoryLedger Ledger { get; } = new();

    private long _startupMemory;
    private long _peakMemory;
    // Client memory by ClientType, as last counted per client.
    private readonly long[] _clientMemory = new long[4];

    /// <summary>Called once when commands are bound: hooks the cron, command completion and client removal.</summary>
    internal void AttachMemory()
    {
        CronHooks.Add(MemoryCron);
        AfterCallHooks.Add(static (c, _, _) => c.Server.AfterCommandMemory(c));
        ClientUnlinkedHooks += UncountClient;
        Config.MaxMemoryChanged = OnMaxMemoryChanged;
        Stats.AfterReset += ResetEvictionStats;
    }

    /// <summary>
    /// Measures the managed heap after start-up (one full collection) as the start-up memory: what the
    /// server holds before any key or client. The empty databases are counted apart, as keys are.
    /// </summary>
    internal void MeasureStartupMemory()
    {
        long heap = GC.GetTotalMemory(forceFullCollection: true);
        long dbs = 0;
        foreach (var db in Databases) dbs += db.MemoryBytes;
        _startupMemory = Math.Max(0, heap - dbs);
        if (Config.MaxMemory > 0 && (ulong)Config.MaxMemory < 1024 * 1024)
            Log.Warning($"WARNING: You specified a maxmemory value that is less than 1MB (current value is {(ulong)Config.MaxMemory} bytes). Are you sure this is what you really want?");
    }

    // ---- the figure -------------------------------------------------------

    /// <summary>
    /// Bytes in use: start-up memory, keys and values, key tables, clients and caches. INFO used_memory,
    /// MEMORY STATS and the maxmemory checks all read this.
    /// </summary>
    public long UsedMemory()
    {
        Ledger.Settle();
        return CountedMemory();
    }

    /// <summary>
    /// The figure without first measuring the values noted since the last command: for decisions
    /// taken inside a command, which must not settle values it is still editing.
    /// </summary>
    private long CountedMemory()
    {
        var cm = _clientMemory;
        long used = _startupMemory + cm[0] + cm[1] + cm[2] + cm[3] + CachesMemory();
        var dbs = Databases;
        for (int i = 0; i < dbs.Length; i++) used += dbs[i].MemoryBytes;
        if (used > _peakMemory) _peakMemory = used;
        return used;
    }

    private long CachesMemory()
        => ScriptingStatus.UsedMemoryScriptsEval + ScriptingStatus.UsedMemoryFunctions + ReplBacklogMemory + AofBufferMemory
           + (_tracking?.MemoryBytes ?? 0);

    private long ReplBacklogMemory => ReplicationStatus.BacklogActive ? ReplicationStatus.BacklogHistlen : 0;
    private long AofBufferMemory => PersistenceStatus.AofEnabled ? PersistenceStatus.AofBufferLength : 0;

    /// <summary>
    /// Memory left out when comparing with maxmemory (INFO mem_not_counted_for_evict): the AOF buffer and
    /// replica output buffers. Deleting keys makes them grow (each eviction is propagated), so counting
    /// them would feed eviction with itself.
    /// </summary>
    public long NotCountedForEviction => AofBufferMemory + _clientMemory[(int)ClientType.Replica];

    /// <summary>
    /// Measures memory the way Redis's getMemoryOverheadData splits it: overhead is start-up memory,
    /// client buffers, caches and the key tables' own arrays; the dataset is the keys and values.
    /// The GC's view (allocated including garbage, committed) is reported as the allocator's.
    /// </summary>
    public MemorySnapshot MeasureMemory()
    {
        var m = new MemorySnapshot { Used = UsedMemory(), Rss = ProcessMetrics.ResidentSetSize(), TotalSystem = ProcessMetrics.TotalSystemMemory };
        m.Peak = _peakMemory;
        m.Startup = _startupMemory;

        m.AllocatorAllocated = GC.GetTotalMemory(false);
        var gc = GC.GetGCMemoryInfo();
        m.AllocatorActive = Math.Max(gc.TotalCommittedBytes, m.AllocatorAllocated);
        m.AllocatorResident = m.AllocatorActive;

        var cm = _clientMemory;
        m.ClientsNormal = cm[(int)ClientType.Normal] + cm[(int)ClientType.PubSub] + cm[(int)ClientType.Master];
        m.ClientsReplicas = cm[(int)ClientType.Replica];
        m.LuaCaches = ScriptingStatus.UsedMemoryScriptsEval;
        m.FunctionsCaches = ScriptingStatus.UsedMemoryFunctions;
        m.ReplBacklog = ReplBacklogMemory;
        m.AofBuffer = AofBufferMemory;
        long overhead = m.Startup + m.ClientsNormal + m.ClientsReplicas + m.ReplBacklog + m.AofBuffer + m.LuaCaches + m.FunctionsCaches;
        foreach (var db in Databases)
        {
            long main = db.MainTableBytes, expires = db.ExpiresTableBytes;
            overhead += main + expires;
            if (db.Count == 0) continue;
            m.TotalKeys += db.Count;
            m.Dbs.Add((db.Id, main, expires));
        }
        m.Overhead = overhead;
        m.Dataset = Math.Max(0, m.Used - overhead);
        m.PeakPerc = m.Peak == 0 ? 0 : (double)m.Used * 100 / m.Peak;
        long net = m.Used > m.Startup ? m.Used - m.Startup : 1;
        m.DatasetPerc = (double)m.Dataset * 100 / net;
        m.BytesPerKey = m.TotalKeys > 0 ? net / m.TotalKeys : 0;
        return m;
    }

    // ---- clients ------------------------------------------------------------

    /// <summary>What one client costs beyond its buffers: the objects and bookkeeping of a connection.</summary>
    public const long ClientFixedBytes = 1024;

    /// <summary>Estimated cost of one watched key: its registry record, key copies and index entries.</summary>
    public const long WatchedKeyBytes = 160;

    /// <summary>Estimated cost of one subscription: the client's set entry and the registry's entry.</summary>
    public const long SubscriptionBytes = 100;

    /// <summary>Estimated cost of one tracking prefix: its sorted-set node, its copy and the table's entry.</summary>
    public const long TrackingPrefixBytes = 120;

    /// <summary>
    /// Bytes held for one client: query buffer, reply buffer, the buffer being sent (or the spare one
    /// kept for the next send), queued MULTI commands, watched keys and subscriptions, and a fixed cost.
    /// </summary>
    public long ClientMemory(Client c)
    {
        long mem = c.QueryBuf.Length + c.Reply.Buffer.Length + ClientFixedBytes + c.MultiQueueBytes();
        if (c.Connection is { } conn) mem += conn.SendBufferBytes;
        int subscriptions = c.SubscribedChannels + c.SubscribedPatterns + c.SubscribedShardChannels;
        if (subscriptions > 0) mem += subscriptions * SubscriptionBytes;
        if (Watches.Count > 0) mem += Watches.CountFor(c) * WatchedKeyBytes;
        // Broadcast-mode tracking prefixes are held per client, so client eviction must see them.
        if (c.TrackingPrefixes is { Count: > 0 } prefixes) mem += prefixes.Count * TrackingPrefixBytes;
        return mem;
    }

    /// <summary>Counts the client's current memory in the per-type totals (Redis's updateClientMemoryUsage).</summary>
    public void UpdateClientMemory(Client c)
    {
        // Internal clients (scripts, loading) have no buffers of their own worth counting; a client
        // already unlinked must not be counted again.
        if (c.Connection is null || c.MemoryUncounted) return;
        // A client being closed ASAP (output buffer limit) is as good as freed, as Redis frees it
        // before serving the next client: what it holds must not get others evicted meanwhile.
        if ((c.Flags & ClientFlags.CloseAsap) != 0)
        {
            UncountClient(c);
            return;
        }
        long mem = ClientMemory(c);
        var type = GetClientType(c);
        _clientMemory[(int)c.MemoryCountedType] -= c.MemoryCounted;
        _clientMemory[(int)type] += mem;
        c.MemoryCounted = mem;
        c.MemoryCountedType = type;
    }

    private void UncountClient(Client c)
    {
        if (c.MemoryUncounted) return;
        _clientMemory[(int)c.MemoryCountedType] -= c.MemoryCounted;
        c.MemoryCounted = 0;
        c.MemoryUncounted = true;
    }

    /// <summary>Memory of normal and pub/sub clients: what maxmemory-clients limits.</summary>
    public long EvictableClientsMemory => _clientMemory[(int)ClientType.Normal] + _clientMemory[(int)ClientType.PubSub];

    /// <summary>After each command: values it edited are measured, and its client's buffers counted.</summary>
    private void AfterCommandMemory(Client c)
    {
        Ledger.Settle();
        UpdateClientMemory(c);
    }

    /// <summary>
    /// Called by the connection after it processed input (and others' output reached it): the client's
    /// buffers are counted, and clients are evicted if maxmemory-clients is exceeded.
    /// </summary>
    public void AfterClientIo(Client c)
    {
        UpdateClientMemory(c);
        if (Config.MaxMemoryClients != 0) EvictClients();
    }

    private void MemoryCron()
    {
        // Sends that completed since a client's last command have shrunk what it holds.
        foreach (var c in Clients.Values) UpdateClientMemory(c);
        if (Config.MaxMemoryClients != 0) EvictClients();
        // Values edited without a lookup (none are known) would be missed until measured again: a slow
        // sweep bounds how long any count can stay stale.
        foreach (var db in Databases)
            if (db.Count > 0) db.AuditSizes(AuditSlotsPerTick);
        UsedMemory();
    }

    private const int AuditSlotsPerTick = 1024;

    // ---- policy and access stamps --------------------------------------------

    private string? _policyText;
    private EvictionPolicy _policy;

    /// <summary>The configured maxmemory-policy, parsed once per change of the directive.</summary>
    public EvictionPolicy Policy
    {
        get
        {
            var text = Config.MaxMemoryPolicy;
            if (!ReferenceEquals(text, _policyText))
            {
                _policy = ParsePolicy(text);
                _policyText = text;
            }
            return _policy;
        }
    }

    private static EvictionPolicy ParsePolicy(string text) => text switch
    {
        "volatile-lru" => EvictionPolicy.VolatileLru,
        "volatile-lfu" => EvictionPolicy.VolatileLfu,
        "volatile-random" => EvictionPolicy.VolatileRandom,
        "volatile-ttl" => EvictionPolicy.VolatileTtl,
        "allkeys-lru" => EvictionPolicy.AllKeysLru,
        "allkeys-lfu" => EvictionPolicy.AllKeysLfu,
        "allkeys-random" => EvictionPolicy.AllKeysRandom,
        _ => EvictionPolicy.NoEviction,
    };

    /// <summary>True for allkeys-lfu / volatile-lfu: the 24 access bits hold an LFU counter, not an LRU clock.</summary>
    public bool LfuPolicy => Policy is EvictionPolicy.AllKeysLfu or EvictionPolicy.VolatileLfu;

    private bool LruPolicy => Policy is EvictionPolicy.AllKeysLru or EvictionPolicy.VolatileLru;

    private bool AllKeysPolicy => Policy is EvictionPolicy.AllKeysLru or EvictionPolicy.AllKeysLfu or EvictionPolicy.AllKeysRandom;

    /// <summary>True for the LRU and LFU policies, under which Redis stops sharing small integer strings.</summary>
    public bool NoSharedIntegers => LruPolicy || LfuPolicy;

    /// <summary>Redis's LFU_INIT_VAL: the counter of a new key, so it is not the first one evicted.</summary>
    public const int LfuInitValue = 5;

    /// <summary>
    /// The access stamp of a key just looked up: the LRU clock, or under an LFU policy the decayed
    /// counter incremented logarithmically, with the current minutes.
    /// </summary>
    public int AccessStamp(int previousMeta)
    {
        if (!LfuPolicy) return LruClock;
        int counter = LfuLogIncrement(LfuDecrAndReturnInt(previousMeta));
        return (LfuMinutes() << 8) | counter;
    }

    /// <summary>The stamp of a new key: the LRU clock, or under LFU the starting counter.</summary>
    public int NewKeyStamp() => LfuPolicy ? (LfuMinutes() << 8) | LfuInitValue : LruClock;

    /// <summary>Unix time in minutes, 16 bits (the LFU data's "last decrement time").</summary>
    public int LfuMinutes() => (int)((NowMs / 60000) & 0xFFFF);

    /// <summary>
    /// Redis's LFULogIncr: the counter grows by one with probability 1/((counter - 5) * lfu-log-factor + 1),
    /// so it takes about 10^6 accesses to saturate at 255 with the default factor of 10.
    /// </summary>
    public int LfuLogIncrement(int counter)
    {
        if (counter == 255) return 255;
        double r = Rng.NextDouble();
        double baseValue = Math.Max(0, counter - LfuInitValue);
        double p = 1.0 / (baseValue * Config.LfuLogFactor + 1);
        return r < p ? counter + 1 : counter;
    }

    /// <summary>
    /// Redis's LFUDecrAndReturn: the counter of LFU data (16 bits of minutes, 8 bits of counter) less
    /// one for every lfu-decay-time minutes since its last decrement. Nothing is stored.
    /// </summary>
    public long LfuDecrAndReturn(int meta)
    {
        int lastMinutes = (meta >> 8) & 0xFFFF;
        int counter = meta & 0xFF;
        long decay = Config.LfuDecayTime;
        if (decay <= 0) return counter;
        int now = LfuMinutes();
        long elapsed = now >= lastMinutes ? now - lastMinutes : 65535 - lastMinutes + now;
        long periods = elapsed / decay;
        return periods > counter ? 0 : counter - periods;
    }

    private int LfuDecrAndReturnInt(int meta) => (int)LfuDecrAndReturn(meta);

    /// <summary>Milliseconds since an LRU stamp, across the 24-bit clock's wrap (Redis's estimateObjectIdleTime).</summary>
    public long EstimateIdleMs(int stamp)
    {
        int clock = LruClock;
        long seconds = clock >= stamp ? clock - stamp : clock + (KeyTable.LruMask - stamp);
        return seconds * 1000;
    }
}
