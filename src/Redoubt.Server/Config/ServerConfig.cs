namespace Redoubt.Server.Config;

/// <summary>
/// The server's settings: typed fields read on hot paths, and a registry of <see cref="ConfigEntry"/>
/// directives (one per redis.conf name) that CONFIG GET/SET/REWRITE and the config file loader use.
/// Directives are declared in the partial files ServerConfig.*.cs, grouped by subsystem.
/// </summary>
public sealed partial class ServerConfig
{
    private readonly Dictionary<string, ConfigEntry> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ConfigEntry> _entries = new();

    /// <summary>The config file given on the command line (absolute), or null.</summary>
    public string? ConfigFile;

    // Network
    public int Port;
    public string[] Bind = ["*", "-::*"];
    public bool ProtectedMode;
    public long TcpBacklog;
    public string UnixSocket = "";
    public long Timeout;
    public long TcpKeepAlive;
    public long MaxClients;

    // General
    public bool Daemonize;
    public string PidFile = "";
    public string LogLevel = "notice";
    public string LogFile = "";
    public long Databases;
    public long Hz;
    public string Dir = "";
    public string DbFilename = "";

    // Limits
    public long ProtoMaxBulkLen;
    public long ClientQueryBufferLimit;
    public long MaxMemory;

    // Security
    public string RequirePass = "";

    public ServerConfig()
    {
        DeclareNetwork();
        DeclareGeneral();
        DeclareMore();
        DeclareIntrospection();
        DeclareSecurity();
        DeclarePersistence();
        DeclareReplication();
        DeclareMemory();
        DeclareDataTypes();
        DeclareCluster();
    }

    // Each subsystem declares its directives in its own partial file (ServerConfig.<Area>.cs).
    partial void DeclareMore();
    partial void DeclareIntrospection();
    partial void DeclareSecurity();
    partial void DeclarePersistence();
    partial void DeclareReplication();
    partial void DeclareMemory();
    partial void DeclareDataTypes();
    partial void DeclareCluster();

    public IReadOnlyList<ConfigEntry> Entries => _entries;

    public ConfigEntry? Find(string name) => _byName.GetValueOrDefault(name);

    private T Add<T>(T entry) where T : ConfigEntry
    {
        _entries.Add(entry);
        _byName[entry.Name] = entry;
        foreach (var alias in entry.Aliases) _byName[alias] = entry;
        return entry;
    }

    private void DeclareNetwork()
    {
        Add(new NumberConfig("port", () => Port, v => Port = (int)v, 6379, 0, 65535) { Flags = ConfigFlags.Immutable });
        Add(new CustomConfig("bind", () => string.Join(' ', Bind), args =>
        {
            if (args.Length == 0 || (args.Length == 1 && args[0].Length == 0)) { Bind = []; return null; }
            if (args.Length > 16) return "Too many bind addresses specified.";
            Bind = args;
            return null;
        }, "* -::*") { Flags = ConfigFlags.MultiArg });
        Add(new BoolConfig("protected-mode", () => ProtectedMode, v => ProtectedMode = v, true));
        Add(new NumberConfig("tcp-backlog", () => TcpBacklog, v => TcpBacklog = v, 511, 0, int.MaxValue) { Flags = ConfigFlags.Immutable });
        Add(new StringConfig("unixsocket", () => UnixSocket, v => UnixSocket = v, "") { Flags = ConfigFlags.Immutable });
        Add(new NumberConfig("timeout", () => Timeout, v => Timeout = v, 0, 0, int.MaxValue));
        Add(new NumberConfig("tcp-keepalive", () => TcpKeepAlive, v => TcpKeepAlive = v, 300, 0, int.MaxValue));
        Add(new NumberConfig("maxclients", () => MaxClients, v => MaxClients = v, 10000, 1, uint.MaxValue));
    }

    private void DeclareGeneral()
    {
        Add(new BoolConfig("daemonize", () => Daemonize, v => Daemonize = v, false) { Flags = ConfigFlags.Immutable });
        Add(new StringConfig("pidfile", () => PidFile, v => PidFile = v, "") { Flags = ConfigFlags.Immutable });
        Add(new EnumConfig("loglevel", () => LogLevel, v => LogLevel = v, "notice", "debug", "verbose", "notice", "warning", "nothing"));
        Add(new StringConfig("logfile", () => LogFile, v => LogFile = v, "") { Flags = ConfigFlags.Immutable });
        Add(new NumberConfig("databases", () => Databases, v => Databases = v, 16, 1, int.MaxValue) { Flags = ConfigFlags.Immutable });
        Add(new NumberConfig("hz", () => Hz, v => Hz = Math.Clamp(v, 1, 500), 10, 0, int.MaxValue));
        Add(new CustomConfig("dir", () => Dir, args =>
        {
            if (args.Length != 1) return "wrong number of arguments";
            try
            {
                Directory.SetCurrentDirectory(args[0]);
                Dir = Directory.GetCurrentDirectory();
            }
            catch (Exception e) { return e is DirectoryNotFoundException ? "No such file or directory" : e.Message; }
            return null;
        }, "."));
        Add(new StringConfig("dbfilename", () => DbFilename, v => DbFilename = v, "dump.rdb")
        {
            Validate = v => v.Contains('/') ? "dbfilename can't be a path, just a filename" : null,
        });
        Add(new NumberConfig("proto-max-bulk-len", () => ProtoMaxBulkLen, v => ProtoMaxBulkLen = v, 512L * 1024 * 1024, 1024 * 1024, long.MaxValue) { IsMemory = true });
        Add(new NumberConfig("client-query-buffer-limit", () => ClientQueryBufferLimit, v => ClientQueryBufferLimit = v, 1024L * 1024 * 1024, 1024 * 1024, long.MaxValue) { IsMemory = true });
        Add(new NumberConfig("maxmemory", () => MaxMemory, v => MaxMemory = v, 0, 0, long.MaxValue) { IsMemory = true });
        Add(new StringConfig("requirepass", () => RequirePass, v => RequirePass = v, "") { Flags = ConfigFlags.Sensitive });
    }

}

public sealed partial class ServerConfig
{
    public bool AlwaysShowLogo;
    /// <summary>RDB save points: save after Seconds if at least Changes writes happened.</summary>
    public List<(long Seconds, long Changes)> SavePoints = new();

    partial void DeclareMore()
    {
        Add(new BoolConfig("always-show-logo", () => AlwaysShowLogo, v => AlwaysShowLogo = v, false) { Flags = ConfigFlags.Immutable });
        Add(new CustomConfig("save", () => string.Join(' ', SavePoints.Select(p => $"{p.Seconds} {p.Changes}")), SetSavePoints,
            "3600 1 300 100 60 10000",
            () => SavePoints.Count == 0 ? ["save \"\""] : SavePoints.Select(p => $"save {p.Seconds} {p.Changes}")) { Flags = ConfigFlags.MultiArg });
    }

    private string? SetSavePoints(string[] args)
    {
        if (args.Length == 1 && args[0].Length == 0) { SavePoints = new(); return null; }
        if (args.Length % 2 != 0) return "Invalid save parameters";
        var points = new List<(long, long)>();
        for (int i = 0; i < args.Length; i += 2)
        {
            if (!long.TryParse(args[i], out long secs) || !long.TryParse(args[i + 1], out long changes) || secs < 1 || changes < 0)
                return "Invalid save parameters";
            points.Add((secs, changes));
        }
        SavePoints = points;
        return null;
    }
}
