using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Config;
using Redoubt.Server.Logging;

namespace Redoubt.Server;

/// <summary>
/// `redoubt server [config] [--directive value ...]`: redis-server's command line. Reads the config,
/// daemonizes when asked, writes the pid file, prints the start-up lines, and maps SIGTERM/SIGINT to
/// an orderly shutdown.
/// </summary>
public static class ServerMain
{
    private const string DaemonChildVariable = "REDOUBT_DAEMON_CHILD";

    public static int Run(string[] args)
    {
        if (args.Length == 1 && (args[0] is "-v" or "--version"))
        {
            Console.WriteLine($"Redis server v={RedisServer.Version} sha=00000000:0 malloc=libc bits=64 build=0000000000000000");
            return 0;
        }
        if (args.Length == 1 && (args[0] is "-h" or "--help"))
        {
            Console.WriteLine(Usage);
            return 0;
        }

        var config = new ServerConfig();
        var loader = new ConfigLoader(config);
        try
        {
            var (file, text) = BuildConfigText(args);
            if (file != null)
            {
                config.ConfigFile = Path.GetFullPath(file);
                loader.LoadString(ReadConfigFile(file) + "\n" + text);
            }
            else loader.LoadString(text);
        }
        catch (ConfigFileException e)
        {
            Console.Error.Write(e.FatalBlock());
            return 1;
        }

        if (config.Daemonize && Environment.GetEnvironmentVariable(DaemonChildVariable) != "1")
            return Daemonize();
        if (Environment.GetEnvironmentVariable(DaemonChildVariable) == "1") DetachFromTerminal();

        var server = new RedisServer(config);
        for (int i = 0; i < loader.Renames.Count; i++)
        {
            var (from, to) = loader.Renames[i];
            if (CommandRenames.Apply(server.Commands, from, to) is string renameError)
            {
                var (line, text) = loader.RenameLines[i];
                Console.Error.Write(new ConfigFileException(renameError, line, text).FatalBlock());
                return 1;
            }
        }
        server.Acl.UsersToLoad = loader.Users;
        server.Log.Level = ServerLog.ParseLevel(config.LogLevel);
        server.Log.File = config.LogFile;
        if (config.LogFile.Length > 0)
        {
            try { File.AppendAllText(config.LogFile, ""); }
            catch (Exception e)
            {
                Console.Error.Write(new ConfigFileException("Can't open the log file: " + e.Message).FatalBlock());
                return 1;
            }
        }
        PrintBanner(server, config, args.Length > 0 && !args[0].StartsWith("--"));
        string pidFile = config.PidFile;
        if (pidFile.Length == 0 && config.Daemonize) config.PidFile = pidFile = "/var/run/redis.pid";
        if (pidFile.Length > 0)
        {
            try { File.WriteAllText(pidFile, Environment.ProcessId + "\n"); }
            catch (Exception e) { server.Log.Warning($"Failed to write PID file: {e.Message}"); }
        }

        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => OnSignal(ctx, server, "SIGTERM"));
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => OnSignal(ctx, server, "SIGINT"));
        try
        {
            server.Start();
        }
        catch (Exception e)
        {
            server.Log.Warning(e.Message);
            if (pidFile.Length > 0) try { File.Delete(pidFile); } catch (IOException) { }
            return 1;
        }
        int code = server.WaitForShutdown();
        return code;
    }

    private const string Usage =
        "Usage: ./redoubt server [/path/to/redis.conf] [options] [-]\n" +
        "       ./redoubt server - (read config from stdin)\n" +
        "       ./redoubt server -v or --version\n" +
        "       ./redoubt server -h or --help\n\n" +
        "Examples:\n" +
        "       ./redoubt server (run the server with default conf)\n" +
        "       ./redoubt server /etc/redis/6379.conf\n" +
        "       ./redoubt server --port 7777\n" +
        "       ./redoubt server --port 7777 --replicaof 127.0.0.1 8888\n" +
        "       ./redoubt server /etc/myredis.conf --loglevel verbose -\n" +
        "       ./redoubt server /etc/myredis.conf --loglevel verbose\n";

    private static string ReadConfigFile(string file)
    {
        if (file == "-") return Console.In.ReadToEnd();
        try { return File.ReadAllText(file, Encoding.Latin1); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e is FileNotFoundException or DirectoryNotFoundException ? "No such file or directory" : e.Message;
            throw new ConfigFileException($"Fatal error, can't open config file '{Path.GetFullPath(file)}': {reason}");
        }
    }

    /// <summary>
    /// Turns "[file] --port 1 --save '' -" into the config file name and directive lines, as redis-server
    /// does: "--name" starts a new line, the following words are its arguments (quoted as needed).
    /// </summary>
    public static (string? File, string Text) BuildConfigText(string[] args)
    {
        string? file = null;
        int j = 0;
        if (args.Length > 0 && !args[0].StartsWith("--")) { file = args[0]; j = 1; }
        var sb = new StringBuilder();
        bool stdinToo = false;
        int argsOnLine = 0;
        for (; j < args.Length; j++)
        {
            string a = args[j];
            if (a == "-" ) { stdinToo = true; continue; }
            if (a.StartsWith("--") && a.Length > 2)
            {
                if (sb.Length > 0) sb.Append('\n');
                sb.Append(a[2..]);
                argsOnLine = 0;
            }
            else
            {
                sb.Append(' ').Append(ConfigEntry.Quote(a));
                argsOnLine++;
            }
        }
        sb.Append('\n');
        if (stdinToo) sb.Append(Console.In.ReadToEnd());
        return (file, sb.ToString());
    }

    private static void PrintBanner(RedisServer server, ServerConfig config, bool hasConfigFile)
    {
        var log = server.Log;
        log.Warning("oO0OoO0OoO0Oo Redoubt is starting oO0OoO0OoO0Oo");
        log.Warning($"Redis version={RedisServer.Version}, bits=64, commit=00000000, modified=0, pid={Environment.ProcessId}, just started");
        if (!hasConfigFile)
            log.Warning("Warning: no config file specified, using the default config. In order to specify a config file use redoubt server /path/to/redis.conf");
        else log.Warning("Configuration loaded");
        if (server.Config.AlwaysShowLogo || (config.LogFile.Length == 0 && !Console.IsOutputRedirected))
        {
            log.WriteRaw(
                $"\n                Redoubt {RedisServer.Version} (Redis-compatible) 64 bit\n" +
                $"                Running in {(server.ClusterEnabled ? "cluster" : "standalone")} mode\n" +
                $"                Port: {config.Port}\n" +
                $"                PID: {Environment.ProcessId}\n\n");
        }
        else log.Notice($"Running mode={(server.ClusterEnabled ? "cluster" : "standalone")}, port={config.Port}.");
    }

    private static void OnSignal(PosixSignalContext ctx, RedisServer server, string name)
    {
        ctx.Cancel = true;
        server.Log.Warning($"Received {name} scheduling shutdown...");
        ThreadPool.UnsafeQueueUserWorkItem(_ =>
        {
            lock (server.Sync)
            {
                if (server.ShuttingDown) return;
                if (server.Shutdown(noSave: false) != null)
                    server.Log.Warning("SIGTERM received but errors trying to shut down the server, check the logs for more information");
            }
        }, null);
    }

    // ---- daemonize ----------------------------------------------------------

    [DllImport("libc", SetLastError = true)] private static extern int setsid();
    [DllImport("libc", SetLastError = true)] private static extern int open(string path, int flags);
    [DllImport("libc", SetLastError = true)] private static extern int dup2(int oldfd, int newfd);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);

    /// <summary>
    /// daemonize yes: the runtime cannot fork, so the process starts a copy of itself in a new session
    /// with stdio on /dev/null and exits, which is what a shell or init script observes of a fork.
    /// </summary>
    private static int Daemonize()
    {
        var self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { UseShellExecute = false };
        foreach (var a in Environment.GetCommandLineArgs().Skip(1)) psi.ArgumentList.Add(a);
        psi.Environment[DaemonChildVariable] = "1";
        using var child = Process.Start(psi);
        return child is null ? 1 : 0;
    }

    private static void DetachFromTerminal()
    {
        setsid();
        int fd = open("/dev/null", 2 /* O_RDWR */);
        if (fd >= 0)
        {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
            if (fd > 2) close(fd);
        }
    }
}
