namespace Redoubt.Server.Config;

/// <summary>Process, logging, shutdown, keyspace-event, expiry, tracking and TLS directives.</summary>
public sealed partial class ServerConfig
{
    // Process
    public bool AlwaysShowLogo;
    public bool IoThreadsDoReads;
    public long IoThreads;
    public bool SetProcTitle;
    public string ProcTitleTemplate = "";
    public bool DynamicHz;
    public bool DisableThp;
    public string Supervised = "no";
    public string ServerCpuList = "", BioCpuList = "", AofRewriteCpuList = "", BgsaveCpuList = "";
    public string IgnoreWarnings = "";

    // Logging and crash reports
    public bool SyslogEnabled;
    public string SyslogIdent = "";
    public string SyslogFacility = "local0";
    public bool CrashLogEnabled;
    public bool CrashMemcheckEnabled;
    public bool UseExitOnPanic;
    public long WatchdogPeriod;

    // Shutdown
    public long ShutdownTimeout;
    /// <summary>SHUTDOWN flags applied on SIGINT / SIGTERM (see <see cref="ShutdownFlags"/>).</summary>
    public int ShutdownOnSigint, ShutdownOnSigterm;

    // Keyspace and commands
    /// <summary>notify-keyspace-events; kept in step with RedisServer.NotifyFlags.</summary>
    public KeyspaceEventClass NotifyKeyspaceEvents;
    public long ActiveExpireEffort;
    public bool ActiveRehashing;
    public long TrackingTableMaxKeys;
    public string SanitizeDumpPayload = "no";
    /// <summary>busy-reply-threshold (alias lua-time-limit), milliseconds.</summary>
    public long BusyReplyThreshold;

    // TLS
    public int TlsPort;
    public long TlsSessionCacheSize, TlsSessionCacheTimeout;
    public bool TlsCluster, TlsReplication, TlsPreferServerCiphers, TlsSessionCaching;
    public string TlsAuthClients = "yes";
    public string TlsCertFile = "", TlsKeyFile = "", TlsKeyFilePass = "", TlsClientCertFile = "", TlsClientKeyFile = "",
        TlsClientKeyFilePass = "", TlsDhParamsFile = "", TlsCaCertFile = "", TlsCaCertDir = "",
        TlsProtocols = "", TlsCiphers = "", TlsCiphersuites = "";

    /// <summary>
    /// Set by the TLS layer: (re)loads certificates and listeners after a TLS directive changes; returns null or
    /// why it failed. Without a TLS layer, turning TLS on is refused.
    /// </summary>
    public Func<string?>? TlsReconfigure;

    /// <summary>Whether any TLS listener or link is configured.</summary>
    public bool TlsInUse => TlsPort != 0 || TlsReplication || TlsCluster;

    /// <summary>Bits of shutdown-on-sigint / shutdown-on-sigterm (the SHUTDOWN command's modifiers).</summary>
    public static class ShutdownFlags
    {
        public const int Save = 1, NoSave = 2, Now = 4, Force = 8;
    }

    private const string DefaultProcTitleTemplate = "{title} {listen-addr} {server-mode}";

    partial void DeclareMore()
    {
        Add(new BoolConfig("always-show-logo", () => AlwaysShowLogo, v => AlwaysShowLogo = v, false) { Flags = ConfigFlags.Immutable });
        Add(new BoolConfig("io-threads-do-reads", () => IoThreadsDoReads, v => IoThreadsDoReads = v, false) { Flags = ConfigFlags.Immutable | ConfigFlags.Debug });
        Add(new NumberConfig("io-threads", () => IoThreads, v => IoThreads = v, 1, 1, 128) { Flags = ConfigFlags.Immutable | ConfigFlags.Debug });
        Add(new BoolConfig("set-proc-title", () => SetProcTitle, v => SetProcTitle = v, true) { Flags = ConfigFlags.Immutable });
        Add(new StringConfig("proc-title-template", () => ProcTitleTemplate, v => ProcTitleTemplate = v, DefaultProcTitleTemplate)
        {
            Validate = v => ExpandProcTitle(v, "") is { Length: > 0 } ? null : "template format is invalid or contains unknown variables",
        });
        Add(new BoolConfig("dynamic-hz", () => DynamicHz, v => DynamicHz = v, true));
        Add(new BoolConfig("disable-thp", () => DisableThp, v => DisableThp = v, true) { Flags = ConfigFlags.Immutable });
        Add(new EnumConfig("supervised", () => Supervised, v => Supervised = v, "no", "upstart", "systemd", "auto", "no") { Flags = ConfigFlags.Immutable });
        Add(new StringConfig("server_cpulist", () => ServerCpuList, v => ServerCpuList = v, "") { Flags = ConfigFlags.Immutable, EmptyIsNull = true });
        Add(new StringConfig("bio_cpulist", () => BioCpuList, v => BioCpuList = v, "") { Flags = ConfigFlags.Immutable, EmptyIsNull = true });
        Add(new StringConfig("aof_rewrite_cpulist", () => AofRewriteCpuList, v => AofRewriteCpuList = v, "") { Flags = ConfigFlags.Immutable, EmptyIsNull = true });
        Add(new StringConfig("bgsave_cpulist", () => BgsaveCpuList, v => BgsaveCpuList = v, "") { Flags = ConfigFlags.Immutable, EmptyIsNull = true });
        Add(new StringConfig("ignore-warnings", () => IgnoreWarnings, v => IgnoreWarnings = v, ""));

        Add(new BoolConfig("syslog-enabled", () => SyslogEnabled, v => SyslogEnabled = v, false) { Flags = ConfigFlags.Immutable });
        Add(new StringConfig("syslog-ident", () => SyslogIdent, v => SyslogIdent = v, "redis") { Flags = ConfigFlags.Immutable });
        Add(new EnumConfig("syslog-facility", () => SyslogFacility, v => SyslogFacility = v, "local0",
            "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7") { Flags = ConfigFlags.Immutable });
        Add(new BoolConfig("crash-log-enabled", () => CrashLogEnabled, v => CrashLogEnabled = v, true));
        Add(new BoolConfig("crash-memcheck-enabled", () => CrashMemcheckEnabled, v => CrashMemcheckEnabled = v, true));
        Add(new BoolConfig("use-exit-on-panic", () => UseExitOnPanic, v => UseExitOnPanic = v, false) { Flags = ConfigFlags.Hidden });
        Add(new NumberConfig("watchdog-period", () => WatchdogPeriod, v => WatchdogPeriod = v, 0, 0, int.MaxValue) { Flags = ConfigFlags.Hidden });

        Add(new NumberConfig("shutdown-timeout", () => ShutdownTimeout, v => ShutdownTimeout = v, 10, 0, int.MaxValue));
        (string, int)[] shutdownWords =
        [
            ("default", 0), ("save", ShutdownFlags.Save), ("nosave", ShutdownFlags.NoSave),
            ("now", ShutdownFlags.Now), ("force", ShutdownFlags.Force),
        ];
        static string? ValidShutdownFlags(int f)
            => (f & ShutdownFlags.Save) != 0 && (f & ShutdownFlags.NoSave) != 0
                ? "shutdown options SAVE and NOSAVE can't be used simultaneously" : null;
        Add(new FlagsEnumConfig("shutdown-on-sigint", () => ShutdownOnSigint, v => ShutdownOnSigint = v, 0, shutdownWords)
        {
            Flags = ConfigFlags.MultiArg, Validate = ValidShutdownFlags,
        });
        Add(new FlagsEnumConfig("shutdown-on-sigterm", () => ShutdownOnSigterm, v => ShutdownOnSigterm = v, 0, shutdownWords)
        {
            Flags = ConfigFlags.MultiArg, Validate = ValidShutdownFlags,
        });

        Add(new CustomConfig("notify-keyspace-events", () => RedisServer.NotifyFlagsToString(NotifyKeyspaceEvents), SetNotifyKeyspaceEvents, "")
        {
            RewriteWith = state => state.RewriteLine("notify-keyspace-events",
                "notify-keyspace-events " + ConfigEntry.Repr(RedisServer.NotifyFlagsToString(NotifyKeyspaceEvents)),
                NotifyKeyspaceEvents != KeyspaceEventClass.None),
        });
        Add(new NumberConfig("active-expire-effort", () => ActiveExpireEffort, v => ActiveExpireEffort = v, 1, 1, 10));
        Add(new BoolConfig("activerehashing", () => ActiveRehashing, v => ActiveRehashing = v, true));
        Add(new NumberConfig("tracking-table-max-keys", () => TrackingTableMaxKeys, v => TrackingTableMaxKeys = v, 1000000, 0, long.MaxValue) { IsUnsigned = true });
        Add(new EnumConfig("sanitize-dump-payload", () => SanitizeDumpPayload, v => SanitizeDumpPayload = v, "no", "no", "yes", "clients") { Flags = ConfigFlags.Debug });
        Add(new NumberConfig("busy-reply-threshold", () => BusyReplyThreshold, v => BusyReplyThreshold = v, 5000, 0, long.MaxValue) { Aliases = ["lua-time-limit"] });

        DeclareTls();
    }

    private string? SetNotifyKeyspaceEvents(string[] args)
    {
        if (args.Length != 1) return "wrong number of arguments";
        var flags = RedisServer.ParseNotifyFlags(args[0], out bool ok);
        if (!ok) return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
        NotifyKeyspaceEvents = flags;
        if (Server != null) Server.NotifyFlags = flags;
        return null;
    }

    /// <summary>
    /// Expands proc-title-template variables ({title}, {listen-addr}, {server-mode}, {config-file},
    /// {port}, {tls-port}, {unixsocket}; "{{" is a literal brace), trimmed of blanks. Null when the
    /// template is malformed or names an unknown variable.
    /// </summary>
    public string? ExpandProcTitle(string template, string title)
    {
        var sb = new System.Text.StringBuilder();
        int p = 0;
        while (p < template.Length)
        {
            int open = template.IndexOf('{', p);
            if (open < 0)
            {
                sb.Append(template, p, template.Length - p);
                break;
            }
            sb.Append(template, p, open - p);
            int nameStart = open + 1;
            if (nameStart >= template.Length) return null;
            if (template[nameStart] == '{')
            {
                sb.Append('{');
                p = nameStart + 1;
                continue;
            }
            int close = template.IndexOf('}', nameStart);
            if (close < 0) return null;
            string? value = template[nameStart..close] switch
            {
                "title" => title,
                "listen-addr" => Port != 0 || TlsPort != 0
                    ? $"{(Bind.Length > 0 ? Bind[0] : "*")}:{(Port != 0 ? Port : TlsPort)}"
                    : "unixsocket:" + UnixSocket,
                "server-mode" => ClusterEnabled ? "[cluster]" : SentinelMode ? "[sentinel]" : "",
                "config-file" => ConfigFile ?? "-",
                "port" => Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "tls-port" => TlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "unixsocket" => UnixSocket,
                _ => null,
            };
            if (value is null) return null;
            sb.Append(value);
            p = close + 1;
        }
        return sb.ToString().Trim(' ');
    }

    private void DeclareTls()
    {
        // Changing any TLS setting re-reads certificates: one shared step, run once per CONFIG SET.
        Func<string?> reconfigure = () =>
        {
            if (TlsReconfigure != null) return TlsReconfigure();
            if (!TlsInUse) return null;
            Server?.Log.Warning("Failed to configure TLS: TLS is not supported by this server");
            return "Unable to update TLS configuration. Check server logs.";
        };
        Add(new NumberConfig("tls-port", () => TlsPort, v => TlsPort = (int)v, 0, 0, 65535) { Apply = reconfigure });
        Add(new NumberConfig("tls-session-cache-size", () => TlsSessionCacheSize, v => TlsSessionCacheSize = v, 20 * 1024, 0, int.MaxValue) { Apply = reconfigure });
        Add(new NumberConfig("tls-session-cache-timeout", () => TlsSessionCacheTimeout, v => TlsSessionCacheTimeout = v, 300, 0, int.MaxValue) { Apply = reconfigure });
        Add(new BoolConfig("tls-cluster", () => TlsCluster, v => TlsCluster = v, false) { Apply = reconfigure });
        Add(new BoolConfig("tls-replication", () => TlsReplication, v => TlsReplication = v, false) { Apply = reconfigure });
        Add(new EnumConfig("tls-auth-clients", () => TlsAuthClients, v => TlsAuthClients = v, "yes", "no", "yes", "optional"));
        Add(new BoolConfig("tls-prefer-server-ciphers", () => TlsPreferServerCiphers, v => TlsPreferServerCiphers = v, false) { Apply = reconfigure });
        Add(new BoolConfig("tls-session-caching", () => TlsSessionCaching, v => TlsSessionCaching = v, true) { Apply = reconfigure });
        StringConfig TlsString(string name, Func<string> get, Action<string> set, bool reReadFile) => new(name, get, set, "")
        {
            EmptyIsNull = true,
            Apply = reconfigure,
            Flags = reReadFile ? ConfigFlags.Volatile : ConfigFlags.None,
        };
        Add(TlsString("tls-cert-file", () => TlsCertFile, v => TlsCertFile = v, true));
        Add(TlsString("tls-key-file", () => TlsKeyFile, v => TlsKeyFile = v, true));
        Add(TlsString("tls-key-file-pass", () => TlsKeyFilePass, v => TlsKeyFilePass = v, false));
        Add(TlsString("tls-client-cert-file", () => TlsClientCertFile, v => TlsClientCertFile = v, true));
        Add(TlsString("tls-client-key-file", () => TlsClientKeyFile, v => TlsClientKeyFile = v, true));
        Add(TlsString("tls-client-key-file-pass", () => TlsClientKeyFilePass, v => TlsClientKeyFilePass = v, false));
        Add(TlsString("tls-dh-params-file", () => TlsDhParamsFile, v => TlsDhParamsFile = v, true));
        Add(TlsString("tls-ca-cert-file", () => TlsCaCertFile, v => TlsCaCertFile = v, true));
        Add(TlsString("tls-ca-cert-dir", () => TlsCaCertDir, v => TlsCaCertDir = v, true));
        Add(TlsString("tls-protocols", () => TlsProtocols, v => TlsProtocols = v, false));
        Add(TlsString("tls-ciphers", () => TlsCiphers, v => TlsCiphers = v, false));
        Add(TlsString("tls-ciphersuites", () => TlsCiphersuites, v => TlsCiphersuites = v, false));
    }
}
