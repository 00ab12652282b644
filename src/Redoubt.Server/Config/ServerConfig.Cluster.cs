namespace Redoubt.Server.Config;

/// <summary>Cluster directives.</summary>
public sealed partial class ServerConfig
{
    public bool ClusterEnabled;
    public string ClusterConfigFile = "";
    public long ClusterPort;
    public long ClusterNodeTimeout;
    public bool ClusterRequireFullCoverage, ClusterReplicaNoFailover, ClusterAllowReadsWhenDown;
    public bool ClusterAllowPubsubshardWhenDown, ClusterAllowReplicaMigration;
    public long ClusterReplicaValidityFactor, ClusterMigrationBarrier;
    public string ClusterAnnounceIp = "", ClusterAnnounceHostname = "";
    public long ClusterAnnouncePort, ClusterAnnounceBusPort, ClusterAnnounceTlsPort;
    public string ClusterPreferredEndpointType = "ip";
    /// <summary>Per-link send buffer limit in bytes (0 = none).</summary>
    public long ClusterLinkSendbufLimit;

    /// <summary>Set by the cluster layer: republishes this node's flags, address or ports after a change.</summary>
    public Action? ClusterMyselfChanged;

    private const int MaxHostnameLength = 256;

    partial void DeclareCluster()
    {
        Action myselfChanged = () => ClusterMyselfChanged?.Invoke();
        Add(new BoolConfig("cluster-enabled", () => ClusterEnabled, v => ClusterEnabled = v, false) { Flags = ConfigFlags.Immutable });
        Add(new StringConfig("cluster-config-file", () => ClusterConfigFile, v => ClusterConfigFile = v, "nodes.conf") { Flags = ConfigFlags.Immutable });
        Add(new NumberConfig("cluster-port", () => ClusterPort, v => ClusterPort = v, 0, 0, 65535) { Flags = ConfigFlags.Immutable });
        Add(new NumberConfig("cluster-node-timeout", () => ClusterNodeTimeout, v => ClusterNodeTimeout = v, 15000, 0, long.MaxValue));
        Add(new BoolConfig("cluster-require-full-coverage", () => ClusterRequireFullCoverage, v => ClusterRequireFullCoverage = v, true));
        Add(new BoolConfig("cluster-replica-no-failover", () => ClusterReplicaNoFailover, v => ClusterReplicaNoFailover = v, false)
        {
            Aliases = ["cluster-slave-no-failover"], OnChange = myselfChanged,
        });
        Add(new BoolConfig("cluster-allow-reads-when-down", () => ClusterAllowReadsWhenDown, v => ClusterAllowReadsWhenDown = v, false));
        Add(new BoolConfig("cluster-allow-pubsubshard-when-down", () => ClusterAllowPubsubshardWhenDown, v => ClusterAllowPubsubshardWhenDown = v, true));
        Add(new BoolConfig("cluster-allow-replica-migration", () => ClusterAllowReplicaMigration, v => ClusterAllowReplicaMigration = v, true));
        Add(new NumberConfig("cluster-replica-validity-factor", () => ClusterReplicaValidityFactor, v => ClusterReplicaValidityFactor = v, 10, 0, int.MaxValue)
        {
            Aliases = ["cluster-slave-validity-factor"],
        });
        Add(new NumberConfig("cluster-migration-barrier", () => ClusterMigrationBarrier, v => ClusterMigrationBarrier = v, 1, 0, int.MaxValue));
        Add(new StringConfig("cluster-announce-ip", () => ClusterAnnounceIp, v => ClusterAnnounceIp = v, "")
        {
            EmptyIsNull = true, OnChange = myselfChanged,
        });
        Add(new StringConfig("cluster-announce-hostname", () => ClusterAnnounceHostname, v => ClusterAnnounceHostname = v, "")
        {
            EmptyIsNull = true, OnChange = myselfChanged, Validate = ValidateHostname,
        });
        Add(new NumberConfig("cluster-announce-port", () => ClusterAnnouncePort, v => ClusterAnnouncePort = v, 0, 0, 65535) { OnChange = myselfChanged });
        Add(new NumberConfig("cluster-announce-bus-port", () => ClusterAnnounceBusPort, v => ClusterAnnounceBusPort = v, 0, 0, 65535) { OnChange = myselfChanged });
        Add(new NumberConfig("cluster-announce-tls-port", () => ClusterAnnounceTlsPort, v => ClusterAnnounceTlsPort = v, 0, 0, 65535) { OnChange = myselfChanged });
        Add(new EnumConfig("cluster-preferred-endpoint-type", () => ClusterPreferredEndpointType, v => ClusterPreferredEndpointType = v, "ip",
            "ip", "hostname", "unknown-endpoint"));
        Add(new NumberConfig("cluster-link-sendbuf-limit", () => ClusterLinkSendbufLimit, v => ClusterLinkSendbufLimit = v, 0, 0, NumberConfig.ULongMax)
        {
            IsMemory = true, IsUnsigned = true,
        });
    }

    private static string? ValidateHostname(string v)
    {
        if (v.Length >= MaxHostnameLength) return $"Hostnames must be less than {MaxHostnameLength} characters";
        foreach (char c in v)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '.'))
                return "Hostnames may only contain alphanumeric characters, hyphens or dots";
        }
        return null;
    }
}
