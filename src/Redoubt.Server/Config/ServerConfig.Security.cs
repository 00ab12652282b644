namespace Redoubt.Server.Config;

/// <summary>ACL and protection directives.</summary>
public sealed partial class ServerConfig
{
    /// <summary>aclfile: where ACL LOAD/SAVE read and write users; "" = users live in redis.conf.</summary>
    public string AclFile = "";
    public long AclLogMaxLen;
    /// <summary>acl-pubsub-default: "allchannels" gives new users every channel; 7.0's default is "resetchannels".</summary>
    public bool AclPubsubDefaultAllChannels;
    /// <summary>"no", "yes" or "local" (loopback and unix socket clients only).</summary>
    public string EnableProtectedConfigs = "no", EnableDebugCommand = "no", EnableModuleCommand = "no";

    partial void DeclareSecurity()
    {
        Add(new StringConfig("aclfile", () => AclFile, v => AclFile = v, "") { Flags = ConfigFlags.Immutable });
        Add(new NumberConfig("acllog-max-len", () => AclLogMaxLen, v => AclLogMaxLen = v, 128, 0, long.MaxValue));
        Add(new EnumConfig("acl-pubsub-default", () => AclPubsubDefaultAllChannels ? "allchannels" : "resetchannels",
            v => AclPubsubDefaultAllChannels = v == "allchannels", "resetchannels", "allchannels", "resetchannels"));
        Add(new EnumConfig("enable-protected-configs", () => EnableProtectedConfigs, v => EnableProtectedConfigs = v,
            "no", "no", "yes", "local") { Flags = ConfigFlags.Immutable });
        Add(new EnumConfig("enable-debug-command", () => EnableDebugCommand, v => EnableDebugCommand = v,
            "no", "no", "yes", "local") { Flags = ConfigFlags.Immutable });
        Add(new EnumConfig("enable-module-command", () => EnableModuleCommand, v => EnableModuleCommand = v,
            "no", "no", "yes", "local") { Flags = ConfigFlags.Immutable });
    }
}
