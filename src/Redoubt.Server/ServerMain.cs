using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Config;
using Redoubt.Server.Logging;

namespace Redoubt.Server;

/// <summary>
/// `redoubt server [config] [--directive value ...] [-]`: redis-server's command line. Reads the config
/// (file, then stdin, then the options), daemonizes when asked, writes the pid file, prints the start-up
/// lines, and maps SIGTERM/SIGINT to an orderly shutdown.
/// </summary>
public static class ServerMain
{
    private const string DaemonChildVariable = "REDOUBT_DAEMON_CHILD";

    public static int Run(string[] args)
    {
        if (args.Length >= 1 && (args[0] is "-v" or "--version"))
        {
            Console.WriteLine($"Redis server v={RedisServer.Version} sha=00000000:0 malloc=libc bits=64 build=0000000000000000");
            return 0;
        }
        if (args.Length >= 1 && (args[0] is "-h" or "--help"))
        {
            Console.Error.Write(Usage);
            return 1;
        }

        bool isDaemonChild = Environment.GetEnvironmentVariable(DaemonChildVariable) == "1";
        if (isDaemonChild)
        {
            Environment.SetEnvironmentVariable(DaemonChildVariable, null);
            DetachFromTerminal(keepStdin: true);
        }
        string startDirectory = Environment.CurrentDirectory;
        var config = new ServerConfig();
        var loader = new ConfigLoader(config);
        string? stdinText = null;
        if (args.Length > 0)
        {
            var (file, fromStdin, options) = ParseCommandLine(args);
            try
            {
                var text = new StringBuilder();
                if (file != null)
                {
                    config.ConfigFile = Path.GetFullPath(file);
                    text.Append(ConfigLoader.ReadFile(config.ConfigFile));
                }
                if (fromStdin)
                {
                    StartupLog(config).Warning("Reading config from stdin");
                    stdinText = Console.In.ReadToEnd();
                    text.Append(stdinText);
                }
                text.Append('\n').Append(options);
                loader.LoadString(text.ToString());
            }
            catch (ConfigFileException e)
            {
                if (e.IsLogLine) StartupLog(config).Warning(e.Reason);
                else Console.Error.Write(e.FatalBlock());
                return 1;
            }
        }

        bool supervised = IsSupervised(config);
        if (config.Daemonize && !supervised && !isDaemonChild) return Daemonize(startDirectory, stdinText);
        // The daemon's copy has read its config (stdin included): now it lets go of stdin too.
        if (isDaemonChild) DetachFromTerminal(keepStdin: false);

        var server = new RedisServer(config);
        foreach (var (from, to, line, text) in loader.Renames)
        {
            if (CommandRenames.Apply(server.Commands, from, to) is string renameError)
            {
                Console.Error.Write(new ConfigFileException(renameError, line, text).FatalBlock());
                return 1;
            }
        }
        server.Acl.UsersToLoad = loader.Users;
        var log = server.Log;
        log.Level = ServerLog.ParseLevel(config.LogLevel);
        log.File = config.LogFile;
        PrintStarting(server, config, args.Length == 0);

        if (OpenFilesLimit.Adjust(config, log, atStartup: true) is string fatal)
        {
            log.Warning(fatal);
            return 1;
        }
        foreach (var module in loader.Modules)
        {
            log.Warning($"Module {module[0]} failed to load: modules are not supported by this server");
            log.Warning($"Can't load module from {module[0]}: server aborting");
            return 1;
        }
        if (loader.ModuleConfigs.Count > 0)
        {
            log.Warning("Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting");
            return 1;
        }
        if (config.TlsInUse && config.TlsReconfigure is null)
        {
            log.Warning("Failed to configure TLS. Check logs for more info.");
            return 1;
        }
        OomScoreAdjust.Apply(config, log);

        string pidFile = config.PidFile;
        if (pidFile.Length == 0 && config.Daemonize && !supervised) config.PidFile = pidFile = ServerConfig.DefaultPidFile;
        if (pidFile.Length > 0)
        {
            // Best effort, as in Redis: a pid file that cannot be written does not stop the server.
            try { File.WriteAllText(pidFile, Environment.ProcessId + "\n"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Verbose($"Failed to write PID file: {Errno.Describe(e)}");
            }
        }

        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => OnSignal(ctx, server, "SIGTERM", config.ShutdownOnSigterm));
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => OnSignal(ctx, server, "SIGINT", config.ShutdownOnSigint));
        using var crash = Diagnostics.CrashReport.Install(server);
        // Clients accepted while the RDB loads get -LOADING (the gate's loading check), as in Redis.
        bool loadRdb = !config.AppendOnly && File.Exists(config.DbFilename);
        if (loadRdb)
        {
            server.PersistenceStatus.Loading = true;
            server.LoadDataAtStartup = () => Commands.RdbCommands.LoadAtStartup(server);
        }
        try
        {
            server.Start(listening: () => PrintLogo(server, config));
            Diagnostics.AllocationProbe.StartIfRequested(server);
        }
        catch (Exception e) when (e is InvalidOperationException or System.Net.Sockets.SocketException or Security.AclStartupException)
        {
            log.Warning(e.Message);
            if (pidFile.Length > 0) try { File.Delete(pidFile); } catch (IOException) { }
            return 1;
        }
        NotifySupervisor(config, log, "READY=1\n");
        return server.WaitForShutdown();
    }

    private const string Usage =
        "Usage: ./redoubt server [/path/to/redis.conf] [options] [-]\n" +
        "       ./redoubt server - (read config from stdin)\n" +
        "       ./redoubt server -v or --version\n" +
        "       ./redoubt server -h or --help\n\n" +
        "Examples:\n" +
        "       ./redoubt server (run the server with default conf)\n" +
        "       echo 'maxmemory 128mb' | ./redoubt server -\n" +
        "       ./redoubt server /etc/redis/6379.conf\n" +
        "       ./redoubt server --port 7777\n" +
        "       ./redoubt server --port 7777 --replicaof 127.0.0.1 8888\n" +
        "       ./redoubt server /etc/myredis.conf --loglevel verbose -\n" +
        "       ./redoubt server /etc/myredis.conf --loglevel verbose\n";

    /// <summary>Log lines written before the server exists carry the 'C' role, as in Redis.</summary>
    private static ServerLog StartupLog(ServerConfig config) => new()
    {
        Role = 'C',
        File = config.LogFile,
        Level = ServerLog.ParseLevel(config.LogLevel),
    };

    /// <summary>
    /// redis-server's argument rules: an optional config file first, "-" (first or last) to also read
    /// stdin, and every "--name" starting a new directive line whose following words are its quoted
    /// arguments. "--name value" in one word is a whole line; "--save" with no value means save "".
    /// The options text is appended after the file, so its line numbers continue the file's.
    /// </summary>
    public static (string? File, bool FromStdin, string Options) ParseCommandLine(string[] args)
    {
        string? file = null;
        int j = 0;
        if (args.Length > 0 && (args[0].Length == 0 || args[0][0] != '-'))
        {
            file = args[0];
            j = 1;
        }
        var options = new StringBuilder();
        bool fromStdin = false;
        bool lastHasValue = true;
        int argc = args.Length;
        for (; j < argc; j++)
        {
            string a = args[j];
            bool isLast = j == argc - 1;
            if (a == "-" && (j == 0 || isLast))
            {
                fromStdin = true;
            }
            else if (lastHasValue && a.StartsWith("--", StringComparison.Ordinal))
            {
                if (options.Length > 0) options.Append('\n');
                options.Append(a, 2, a.Length - 2).Append(' ');
                bool nameOnly = Protocol.InlineSplitter.Split(a, out List<string> words) && words.Count == 1;
                if (nameOnly)
                {
                    // The next word is this directive's value, even if it starts with "--".
                    lastHasValue = false;
                    bool nextIsOption = !isLast && args[j + 1].StartsWith("--", StringComparison.Ordinal);
                    if (ConfigEntry.AsciiEquals(a, "--save") && (nextIsOption || isLast))
                    {
                        options.Append("\"\"");
                        lastHasValue = nextIsOption;
                    }
                    else if (ConfigEntry.AsciiEquals(a, "--sentinel") && nextIsOption) lastHasValue = true;
                }
                else lastHasValue = true;
            }
            else
            {
                options.Append(ConfigEntry.Repr(a)).Append(' ');
                lastHasValue = true;
            }
        }
        return (file, fromStdin, options.ToString());
    }

    private static void PrintStarting(RedisServer server, ServerConfig config, bool noArguments)
    {
        var log = server.Log;
        log.Role = 'C';
        log.Warning("oO0OoO0OoO0Oo Redoubt is starting oO0OoO0OoO0Oo");
        log.Warning($"Redis version={RedisServer.Version}, bits=64, commit=00000000, modified=0, pid={Environment.ProcessId}, just started");
        if (noArguments)
            log.Warning("Warning: no config file specified, using the default config. In order to specify a config file use redoubt server /path/to/redis.conf");
        else log.Warning("Configuration loaded");
        log.Role = config.MasterHost != null ? 'S' : 'M';
    }

    /// <summary>The logo (or its one-line form), printed once the listeners are bound, as Redis does.</summary>
    private static void PrintLogo(RedisServer server, ServerConfig config)
    {
        var log = server.Log;
        if (config.AlwaysShowLogo || (config.LogFile.Length == 0 && !Console.IsOutputRedirected))
        {
            log.WriteRaw(
                $"\n                Redoubt {RedisServer.Version} (Redis-compatible) 64 bit\n" +
                $"                Running in {(config.ClusterEnabled ? "cluster" : "standalone")} mode\n" +
                $"                Port: {config.Port}\n" +
                $"                PID: {Environment.ProcessId}\n\n");
        }
        else log.Notice($"Running mode={(config.ClusterEnabled ? "cluster" : "standalone")}, port={config.Port}.");
    }

    private static void OnSignal(PosixSignalContext ctx, RedisServer server, string name, int flags)
    {
        ctx.Cancel = true;
        server.OnShutdownSignal(name, flags);
    }

    // ---- supervision ---------------------------------------------------------

    /// <summary>supervised upstart|systemd|auto: whether a supervisor runs us (then we never daemonize).</summary>
    private static bool IsSupervised(ServerConfig config)
    {
        bool upstart = Environment.GetEnvironmentVariable("UPSTART_JOB") != null;
        bool systemd = Environment.GetEnvironmentVariable("NOTIFY_SOCKET") != null;
        return config.Supervised switch
        {
            "auto" => upstart || systemd,
            "upstart" => upstart,
            "systemd" => systemd,
            _ => false,
        };
    }

    /// <summary>sd_notify for supervised systemd: one datagram to $NOTIFY_SOCKET.</summary>
    private static void NotifySupervisor(ServerConfig config, ServerLog log, string message)
    {
        if (config.Supervised is not ("systemd" or "auto")) return;
        string? path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path)) return;
        if (path[0] == '@') path = "\0" + path[1..];
        try
        {
            using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Unspecified);
            s.SendTo(Encoding.ASCII.GetBytes(message), new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        }
        catch (System.Net.Sockets.SocketException e)
        {
            log.Warning("systemd supervision error: sd_notify: " + e.Message);
        }
    }

    // ---- daemonize ----------------------------------------------------------

    [DllImport("libc", SetLastError = true)] private static extern int setsid();
    [DllImport("libc", SetLastError = true)] private static extern int open(string path, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int dup2(int oldfd, int newfd);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);

    /// <summary>
    /// daemonize yes: the runtime cannot fork, so the process starts a copy of itself (same arguments,
    /// same starting directory, and the config text it read from stdin) and exits at once, which is
    /// what a shell or an init script observes of a fork. The copy detaches and does the serving.
    /// </summary>
    private static int Daemonize(string startDirectory, string? stdinText)
    {
        // The copy gets pipes of its own rather than our stdio: the runtime keeps duplicates of the standard
        // handles it starts with, which would otherwise hold our caller's terminal or pipe open forever.
        var psi = new ProcessStartInfo(Environment.ProcessPath!)
        {
            UseShellExecute = false,
            WorkingDirectory = startDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in Environment.GetCommandLineArgs().Skip(1)) psi.ArgumentList.Add(a);
        psi.Environment[DaemonChildVariable] = "1";
        using var child = Process.Start(psi);
        if (child is null) return 1;
        if (stdinText != null) child.StandardInput.Write(stdinText);
        child.StandardInput.Close();
        return 0;
    }

    /// <summary>
    /// The child's half of a fork: a new session, with stdout/stderr (and stdin, once any config text has
    /// been read from it) on /dev/null, so whoever started the parent sees its output end with the parent.
    /// </summary>
    private static void DetachFromTerminal(bool keepStdin)
    {
        if (keepStdin) setsid();
        int fd = open("/dev/null", 2 /* O_RDWR */);
        if (fd < 0) return;
        if (keepStdin)
        {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        else dup2(fd, 0);
        if (fd > 2) close(fd);
    }
}
