using System.Text;

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
    private readonly List<(string Name, ConfigEntry Entry)> _registered = new();

    /// <summary>The config file given on the command line (absolute), or null.</summary>
    public string? ConfigFile;

    /// <summary>The running server, once one owns this configuration (apply steps need it).</summary>
    public RedisServer? Server { get; internal set; }

    /// <summary>True in sentinel mode (sentinel lines are rewritten per "sentinel &lt;option&gt;").</summary>
    public bool SentinelMode;

    /// <summary>
    /// True while a config file or the command line is being read. "save" then appends to the points
    /// read so far instead of replacing them (the first one still replaces the built-in defaults).
    /// </summary>
    public bool ReadingConfigFile;

    /// <summary>Directives that are not settings and rewrite themselves (user, sentinel): run by CONFIG REWRITE.</summary>
    public readonly List<Action<ConfigRewriter>> RewriteHooks = new();

    // Network
    public int Port;
    public string[] Bind = ["*", "-::*"];
    public bool ProtectedMode;
    public long TcpBacklog;
    public string UnixSocket = "";
    public long UnixSocketPerm;
    public long Timeout;
    public long TcpKeepAlive;
    public long MaxClients;
    public long SocketMarkId;
    public string BindSourceAddr = "";

    // General
    public bool Daemonize;
    public string PidFile = "";
    public string LogLevel = "notice";
    public string LogFile = "";
    public long Databases;
    public long Hz;
    /// <summary>The working directory (absolute), where RDB/AOF files live; "dir" changes it.</summary>
    public string Dir = Environment.CurrentDirectory;

    // Limits
    public long ProtoMaxBulkLen;
    public long ClientQueryBufferLimit;

    // Security
    public string RequirePass = "";

    public const string DefaultPidFile = "/var/run/redis.pid";
    public const int MinHz = 1, MaxHz = 500;

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

    /// <summary>Every name CONFIG GET knows, directives and their aliases, in declaration order.</summary>
    public IReadOnlyList<(string Name, ConfigEntry Entry)> RegisteredNames => _registered;

    public ConfigEntry? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Finds a directive and the name it is registered under (the alias when looked up by alias).</summary>
    public ConfigEntry? Find(string name, out string registeredName)
    {
        registeredName = name;
        if (!_byName.TryGetValue(name, out var entry)) return null;
        registeredName = entry.Name;
        foreach (var alias in entry.Aliases)
        {
            if (string.Equals(alias, name, StringComparison.OrdinalIgnoreCase)) registeredName = alias;
        }
        return entry;
    }

    private T Add<T>(T entry) where T : ConfigEntry
    {
        if (_byName.ContainsKey(entry.Name)) throw new InvalidOperationException($"config '{entry.Name}' declared twice");
        _entries.Add(entry);
        _byName[entry.Name] = entry;
        _registered.Add((entry.Name, entry));
        foreach (var alias in entry.Aliases)
        {
            _byName[alias] = entry;
            _registered.Add((alias, entry));
        }
        return entry;
    }

    /// <summary>
    /// CONFIG REWRITE: merges the current settings into the config file, keeping its comments and order,
    /// and replaces the file atomically. Returns null or the strerror-style reason it failed.
    /// </summary>
    public string? Rewrite(bool forceAll = false)
    {
        string path = ConfigFile ?? throw new InvalidOperationException("no config file");
        string? old;
        try { old = File.ReadAllText(path, Encoding.Latin1); }
        catch (Exception e) when (e is FileNotFoundException) { old = null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Errno.Describe(e); }

        var state = new ConfigRewriter(old, this) { ForceAll = forceAll };
        foreach (var entry in _entries) entry.Rewrite(state);
        foreach (var hook in RewriteHooks) hook(state);
        // No module is ever loaded here, so "loadmodule" lines have nothing left to describe.
        state.MarkProcessed("loadmodule");
        state.RemoveOrphaned();
        return OverwriteFile(path, state.Content());
    }

    private static string? OverwriteFile(string path, string content)
    {
        string tmp = path + "." + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            // The process umask still applies, as with Redis's fchmod(0644 & ~umask).
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            using (var fs = new FileStream(tmp, options))
            {
                fs.Write(Encoding.Latin1.GetBytes(content));
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (Exception) { }
            return Errno.Describe(e);
        }
    }

    private void DeclareNetwork()
    {
        Add(new NumberConfig("port", () => Port, v => Port = (int)v, 6379, 0, 65535)
        {
            Apply = () => Server?.ChangeListenPort(),
        });
        Add(new CustomConfig("bind", () => string.Join(' ', Bind), SetBind, "* -::*")
        {
            Flags = ConfigFlags.MultiArg,
            Apply = () => Server?.ChangeBindAddresses(),
            RewriteWith = RewriteBind,
        });
        Add(new BoolConfig("protected-mode", () => ProtectedMode, v => ProtectedMode = v, true));
        Add(new NumberConfig("tcp-backlog", () => TcpBacklog, v => TcpBacklog = v, 511, 0, int.MaxValue) { Flags = ConfigFlags.Immutable });
        Add(new StringConfig("unixsocket", () => UnixSocket, v => UnixSocket = v, "") { Flags = ConfigFlags.Immutable, EmptyIsNull = true });
        Add(new NumberConfig("unixsocketperm", () => UnixSocketPerm, v => UnixSocketPerm = v, 0, 0, Convert.ToInt64("777", 8))
        {
            Flags = ConfigFlags.Immutable, IsOctal = true, IsUnsigned = true,
        });
        Add(new NumberConfig("timeout", () => Timeout, v => Timeout = v, 0, 0, int.MaxValue));
        Add(new NumberConfig("tcp-keepalive", () => TcpKeepAlive, v => TcpKeepAlive = v, 300, 0, int.MaxValue));
        Add(new NumberConfig("maxclients", () => MaxClients, v => MaxClients = v, 10000, 1, uint.MaxValue)
        {
            IsUnsigned = true,
            Apply = () => OpenFilesLimit.Adjust(this, Server?.Log, atStartup: false),
        });
        Add(new NumberConfig("socket-mark-id", () => SocketMarkId, v => SocketMarkId = v, 0, 0, uint.MaxValue) { Flags = ConfigFlags.Immutable, IsUnsigned = true });
        Add(new StringConfig("bind-source-addr", () => BindSourceAddr, v => BindSourceAddr = v, "") { EmptyIsNull = true });
    }

    private const int MaxBindAddresses = 16;

    private string? SetBind(string[] args)
    {
        if (args.Length > MaxBindAddresses) return "Too many bind addresses specified.";
        // A single empty argument means no address at all: no TCP listener.
        Bind = args.Length == 1 && args[0].Length == 0 ? [] : args.ToArray();
        return null;
    }

    private void RewriteBind(ConfigRewriter state)
    {
        if (Bind.Length == 2 && Bind[0] == "*" && Bind[1] == "-::*")
        {
            state.MarkProcessed("bind");
            return;
        }
        state.RewriteLine("bind", "bind " + (Bind.Length > 0 ? string.Join(' ', Bind) : "\"\""), true);
    }

    private void DeclareGeneral()
    {
        Add(new BoolConfig("daemonize", () => Daemonize, v => Daemonize = v, false) { Flags = ConfigFlags.Immutable });
        Add(new StringConfig("pidfile", () => PidFile, v => PidFile = v, "") { Flags = ConfigFlags.Immutable, EmptyIsNull = true });
        Add(new EnumConfig("loglevel", () => LogLevel, v => LogLevel = v, "notice", "debug", "verbose", "notice", "warning")
        {
            OnChange = () => { if (Server != null) Server.Log.Level = Logging.ServerLog.ParseLevel(LogLevel); },
        });
        Add(new StringConfig("logfile", () => LogFile, v => LogFile = v, "") { Flags = ConfigFlags.Immutable });
        Add(new NumberConfig("databases", () => Databases, v => Databases = v, 16, 1, int.MaxValue) { Flags = ConfigFlags.Immutable });
        // hz is a hint: out-of-range values are accepted and clamped, as Redis does.
        Add(new NumberConfig("hz", () => Hz, v => Hz = Math.Clamp(v, MinHz, MaxHz), 10, 0, int.MaxValue));
        Add(new CustomConfig("dir", () => Environment.CurrentDirectory, SetDir, "", setDefault: false)
        {
            Flags = ConfigFlags.Protected | ConfigFlags.DenyLoading,
            RewriteWith = state => state.RewriteLine("dir", "dir " + ConfigEntry.Repr(Environment.CurrentDirectory), true),
        });
        Add(new NumberConfig("proto-max-bulk-len", () => ProtoMaxBulkLen, v => ProtoMaxBulkLen = v, 512L * 1024 * 1024, 1024 * 1024, long.MaxValue)
        {
            Flags = ConfigFlags.Debug, IsMemory = true,
        });
        Add(new NumberConfig("client-query-buffer-limit", () => ClientQueryBufferLimit, v => ClientQueryBufferLimit = v, 1024L * 1024 * 1024, 1024 * 1024, long.MaxValue)
        {
            Flags = ConfigFlags.Debug, IsMemory = true, IsUnsigned = true,
        });
        Add(new StringConfig("requirepass", () => RequirePass, v => RequirePass = v, "")
        {
            Flags = ConfigFlags.Sensitive, EmptyIsNull = true,
            OnChange = () => Server?.Acl.SetRequirePass(RequirePass),
        });
    }

    private string? SetDir(string[] args)
    {
        if (args.Length != 1) return "wrong number of arguments";
        if (Errno.ChangeDirectory(args[0]) is string err) return err;
        Dir = Environment.CurrentDirectory;
        return null;
    }
}
