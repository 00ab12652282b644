namespace Redoubt.Server.Config;

/// <summary>Replication directives (replica side and master side).</summary>
public sealed partial class ServerConfig
{
    /// <summary>replicaof / slaveof: the master to follow, or null for a master.</summary>
    public string? MasterHost;
    public int MasterPort;
    public string MasterUser = "", MasterAuth = "";
    public bool ReplicaServeStaleData, ReplicaReadOnly, ReplicaIgnoreMaxmemory, ReplicaLazyFlush, ReplicaAnnounced;
    public bool ReplicaIgnoreDiskWriteErrors;
    public string ReplicaAnnounceIp = "";
    public long ReplicaAnnouncePort, ReplicaPriority;
    public bool ReplDisableTcpNodelay, ReplDisklessSync;
    public long ReplDisklessSyncDelay, ReplDisklessSyncMaxReplicas;
    public string ReplDisklessLoad = "disabled";
    public long ReplTimeout, ReplPingReplicaPeriod;
    public long ReplBacklogSize, ReplBacklogTtl;
    public long MinReplicasToWrite, MinReplicasMaxLag;
    public string PropagationErrorBehavior = "ignore";

    /// <summary>Set by the replication layer: resizes the backlog after repl-backlog-size changes.</summary>
    public Action? ReplBacklogSizeChanged;
    /// <summary>Set by the replication layer: recounts good replicas after min-replicas-* change.</summary>
    public Action? MinReplicasChanged;

    partial void DeclareReplication()
    {
        Add(new CustomConfig("replicaof", GetReplicaOf, SetReplicaOf, "", setDefault: false)
        {
            Aliases = ["slaveof"],
            Flags = ConfigFlags.Immutable | ConfigFlags.MultiArg,
            RewriteWith = RewriteReplicaOf,
        });
        Add(new StringConfig("masteruser", () => MasterUser, v => MasterUser = v, "") { Flags = ConfigFlags.Sensitive, EmptyIsNull = true });
        Add(new StringConfig("masterauth", () => MasterAuth, v => MasterAuth = v, "") { Flags = ConfigFlags.Sensitive, EmptyIsNull = true });
        Add(new BoolConfig("replica-serve-stale-data", () => ReplicaServeStaleData, v => ReplicaServeStaleData = v, true) { Aliases = ["slave-serve-stale-data"] });
        Add(new BoolConfig("replica-read-only", () => ReplicaReadOnly, v => ReplicaReadOnly = v, true)
        {
            Aliases = ["slave-read-only"], Flags = ConfigFlags.Debug,
        });
        Add(new BoolConfig("replica-ignore-maxmemory", () => ReplicaIgnoreMaxmemory, v => ReplicaIgnoreMaxmemory = v, true) { Aliases = ["slave-ignore-maxmemory"] });
        Add(new BoolConfig("replica-lazy-flush", () => ReplicaLazyFlush, v => ReplicaLazyFlush = v, false) { Aliases = ["slave-lazy-flush"] });
        Add(new BoolConfig("replica-announced", () => ReplicaAnnounced, v => ReplicaAnnounced = v, true));
        Add(new BoolConfig("replica-ignore-disk-write-errors", () => ReplicaIgnoreDiskWriteErrors, v => ReplicaIgnoreDiskWriteErrors = v, false));
        Add(new StringConfig("replica-announce-ip", () => ReplicaAnnounceIp, v => ReplicaAnnounceIp = v, "")
        {
            Aliases = ["slave-announce-ip"], EmptyIsNull = true,
        });
        Add(new NumberConfig("replica-announce-port", () => ReplicaAnnouncePort, v => ReplicaAnnouncePort = v, 0, 0, 65535) { Aliases = ["slave-announce-port"] });
        Add(new NumberConfig("replica-priority", () => ReplicaPriority, v => ReplicaPriority = v, 100, 0, int.MaxValue) { Aliases = ["slave-priority"] });

        Add(new BoolConfig("repl-disable-tcp-nodelay", () => ReplDisableTcpNodelay, v => ReplDisableTcpNodelay = v, false));
        Add(new BoolConfig("repl-diskless-sync", () => ReplDisklessSync, v => ReplDisklessSync = v, true) { Flags = ConfigFlags.Debug });
        Add(new NumberConfig("repl-diskless-sync-delay", () => ReplDisklessSyncDelay, v => ReplDisklessSyncDelay = v, 5, 0, int.MaxValue));
        Add(new NumberConfig("repl-diskless-sync-max-replicas", () => ReplDisklessSyncMaxReplicas, v => ReplDisklessSyncMaxReplicas = v, 0, 0, int.MaxValue));
        Add(new EnumConfig("repl-diskless-load", () => ReplDisklessLoad, v => ReplDisklessLoad = v, "disabled", "disabled", "on-empty-db", "swapdb")
        {
            Flags = ConfigFlags.Debug | ConfigFlags.DenyLoading,
        });
        Add(new NumberConfig("repl-timeout", () => ReplTimeout, v => ReplTimeout = v, 60, 1, int.MaxValue));
        Add(new NumberConfig("repl-ping-replica-period", () => ReplPingReplicaPeriod, v => ReplPingReplicaPeriod = v, 10, 1, int.MaxValue)
        {
            Aliases = ["repl-ping-slave-period"],
        });
        Add(new NumberConfig("repl-backlog-size", () => ReplBacklogSize, v => ReplBacklogSize = v, 1024 * 1024, 1, long.MaxValue)
        {
            IsMemory = true,
            OnChange = () => ReplBacklogSizeChanged?.Invoke(),
        });
        Add(new NumberConfig("repl-backlog-ttl", () => ReplBacklogTtl, v => ReplBacklogTtl = v, 60 * 60, 0, long.MaxValue));
        Add(new NumberConfig("min-replicas-to-write", () => MinReplicasToWrite, v => MinReplicasToWrite = v, 0, 0, int.MaxValue)
        {
            Aliases = ["min-slaves-to-write"],
            OnChange = () => MinReplicasChanged?.Invoke(),
        });
        Add(new NumberConfig("min-replicas-max-lag", () => MinReplicasMaxLag, v => MinReplicasMaxLag = v, 10, 0, int.MaxValue)
        {
            Aliases = ["min-slaves-max-lag"],
            OnChange = () => MinReplicasChanged?.Invoke(),
        });
        Add(new EnumConfig("propagation-error-behavior", () => PropagationErrorBehavior, v => PropagationErrorBehavior = v, "ignore",
            "ignore", "panic", "panic-on-replicas"));
    }

    private string GetReplicaOf() => MasterHost is null ? "" : $"{MasterHost} {MasterPort}";

    private string? SetReplicaOf(string[] args)
    {
        if (args.Length != 2) return "wrong number of arguments";
        MasterHost = null;
        if (ConfigEntry.AsciiEquals(args[0], "no") && ConfigEntry.AsciiEquals(args[1], "one")) return null;
        // strtol: leading blanks and a sign are accepted, but the whole argument must be a number.
        string p = args[1].TrimStart(' ', '\t', '\n', '\v', '\f', '\r');
        if (p.StartsWith('+')) p = p[1..];
        if (!long.TryParse(p, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long port)
            && p.Length > 0)
            return "Invalid master port";
        if (port < 0 || port > 65535) return "Invalid master port";
        MasterPort = (int)port;
        MasterHost = args[0];
        return null;
    }

    private void RewriteReplicaOf(ConfigRewriter state)
    {
        // A master (or a cluster node) has no replicaof line: old ones are removed.
        if (ClusterEnabled || MasterHost is null)
        {
            state.MarkProcessed("replicaof");
            return;
        }
        state.RewriteLine("replicaof", $"replicaof {MasterHost} {MasterPort}", true);
    }
}
