using System.Diagnostics;
using System.Net.Sockets;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// The configuration through the real executable: config files and command lines (errors, include,
/// stdin), daemonize with its pid file, CONFIG GET/SET/REWRITE/RESETSTAT against a running server,
/// and CONFIG GET * compared with the real redis-server.
/// </summary>
public sealed class ConfigIntegrationTests : IClassFixture<SharedServer>, IDisposable
{
    private readonly ServerProcess _shared;
    private readonly string _dir = Directory.CreateTempSubdirectory("redoubt-cfgit-").FullName;

    public ConfigIntegrationTests(SharedServer shared) => _shared = shared.Server;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Runs the server executable to completion (for start-up failures).</summary>
    private static (int Code, string Stdout, string Stderr) RunToExit(string workDir, string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo(ServerProcess.Launcher)
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("server");
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin != null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("server did not exit: " + string.Join(' ', args));
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static object? Call(int port, params object[] args)
    {
        using var c = new RespClient(port);
        return c.Call(args);
    }

    private static Dictionary<string, string> ConfigGetAll(RespClient c, string pattern = "*")
    {
        var reply = Assert.IsType<object?[]>(c.Call("CONFIG", "GET", pattern));
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < reply.Length; i += 2) d[(string)reply[i]!] = (string)reply[i + 1]!;
        return d;
    }

    // ---- start-up -------------------------------------------------------------

    [Fact]
    public void ConfigFileErrorsPrintTheFatalBlockAndExitWith1()
    {
        string conf = Path.Combine(_dir, "bad.conf");
        File.WriteAllText(conf, "# comment\nport 7\nbogus yes\n");
        var (code, _, stderr) = RunToExit(_dir, null, conf);
        Assert.Equal(1, code);
        Assert.Equal("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n>>> 'bogus yes'\nBad directive or wrong number of arguments\n", stderr);

        // Command-line options are lines after the file: numbering continues.
        File.WriteAllText(conf, "port 7\nsave 900 1\n");
        (code, _, stderr) = RunToExit(_dir, null, conf, "--maxmemory", "1", "2");
        Assert.Equal(1, code);
        Assert.Contains("at line 4\n>>> 'maxmemory \"1\" \"2\"'\nwrong number of arguments\n", stderr);

        (code, _, stderr) = RunToExit(_dir, null, "--port", "--bla", "--loglevel", "verbose");
        Assert.Equal(1, code);
        Assert.Contains("at line 2\n>>> 'port \"--bla\"'\nargument couldn't be parsed into an integer\n", stderr);

        var (code2, stdout, _) = RunToExit(_dir, null, Path.Combine(_dir, "missing.conf"));
        Assert.Equal(1, code2);
        Assert.Matches(@"^\d+:C \d\d \w{3} \d{4} [\d:.]+ # Fatal error, can't open config file '" + Path.Combine(_dir, "missing.conf") + "': No such file or directory\n$", stdout);
    }

    [Fact]
    public void IncludeRelativePathsNestAndStdinIsReadAfterTheFile()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "conf.d"));
        File.WriteAllText(Path.Combine(_dir, "main.conf"), "maxmemory-samples 3\ninclude conf.d/one.conf\n");
        File.WriteAllText(Path.Combine(_dir, "conf.d", "one.conf"), "timeout 42\ninclude conf.d/two.conf\n");
        File.WriteAllText(Path.Combine(_dir, "conf.d", "two.conf"), "hz 20\nmaxmemory-samples 4\n");
        int port = ServerProcess.FreePort();
        using var server = LaunchedServer.Start(_dir, "maxmemory 5mb\n", "main.conf", "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "-");
        using var c = new RespClient(port);
        var all = ConfigGetAll(c);
        Assert.Equal("4", all["maxmemory-samples"]);
        Assert.Equal("42", all["timeout"]);
        Assert.Equal("20", all["hz"]);
        Assert.Equal("5242880", all["maxmemory"]);
        Assert.Equal("", all["save"]);
        Assert.Contains("Reading config from stdin", server.Output);
    }

    [Fact]
    public void DaemonizeDetachesWritesThePidFileAndRemovesItOnSigterm()
    {
        int port = ServerProcess.FreePort();
        string pidFile = Path.Combine(_dir, "r.pid"), logFile = Path.Combine(_dir, "r.log");
        var sw = Stopwatch.StartNew();
        var (code, stdout, _) = RunToExit(_dir, null, "--daemonize", "yes", "--port", port.ToString(), "--bind", "127.0.0.1",
            "--save", "", "--pidfile", pidFile, "--logfile", logFile);
        Assert.Equal(0, code);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), "the parent must return promptly");
        Assert.Equal("", stdout);
        int pid = 0;
        try
        {
            Assert.True(SpinWait.SpinUntil(() => File.Exists(pidFile) && File.ReadAllText(pidFile).EndsWith('\n'), 30_000), "no pid file");
            pid = int.Parse(File.ReadAllText(pidFile).Trim());
            Assert.True(SpinWait.SpinUntil(() => TryPing(port), 30_000), "the daemon does not answer");
            Assert.True(Directory.Exists($"/proc/{pid}"));
            Assert.Contains("server", File.ReadAllText($"/proc/{pid}/cmdline"));
            using (var c = new RespClient(port))
                Assert.Equal(new object?[] { "daemonize", "yes" }, c.Call("CONFIG", "GET", "daemonize"));
            Process.Start("kill", ["-TERM", pid.ToString()])!.WaitForExit();
            Assert.True(SpinWait.SpinUntil(() => !File.Exists(pidFile) && !Directory.Exists($"/proc/{pid}"), 30_000), "pid file not removed");
            string log = File.ReadAllText(logFile);
            Assert.Contains("Received SIGTERM scheduling shutdown...", log);
            Assert.Contains("Removing the pid file.", log);
        }
        finally
        {
            if (pid > 0 && Directory.Exists($"/proc/{pid}")) Process.Start("kill", ["-KILL", pid.ToString()])!.WaitForExit();
        }
    }

    private static bool TryPing(int port)
    {
        try { return "PONG".Equals(Call(port, "PING")); }
        catch (SocketException) { return false; }
    }

    // ---- CONFIG GET / SET -----------------------------------------------------------

    [Fact]
    public void ConfigGetListsTheSameNamesAndDefaultsAsRedisServer()
    {
        // Directives other subsystems declare in their own files; once they are in, they must match too.
        string[] declaredElsewhere =
        [
            "slowlog-log-slower-than", "slowlog-max-len", "latency-monitor-threshold", "latency-tracking",
            "latency-tracking-info-percentiles", "client-output-buffer-limit", "aclfile", "acllog-max-len",
            "acl-pubsub-default", "enable-protected-configs", "enable-debug-command", "enable-module-command",
        ];
        int realPort = ServerProcess.FreePort();
        string realDir = Directory.CreateDirectory(Path.Combine(_dir, "real")).FullName;
        using var real = Process.Start(new ProcessStartInfo("redis-server", ["--port", realPort.ToString(), "--bind", "127.0.0.1", "--save", ""])
        {
            WorkingDirectory = realDir, RedirectStandardOutput = true, UseShellExecute = false,
        })!;
        try
        {
            Assert.True(SpinWait.SpinUntil(() => TryPing(realPort), 30_000), "redis-server did not start");
            Dictionary<string, string> theirs, ours;
            using (var c = new RespClient(realPort)) theirs = ConfigGetAll(c);
            using (var c = _shared.Connect()) ours = ConfigGetAll(c);

            Assert.Empty(ours.Keys.Except(theirs.Keys));
            Assert.Empty(theirs.Keys.Except(ours.Keys).Except(declaredElsewhere));
            foreach (var (name, value) in ours)
            {
                if (name is "dir" or "port") continue;
                Assert.True(theirs[name] == value, $"{name}: redis-server says '{theirs[name]}', we say '{value}'");
            }
        }
        finally
        {
            try { real.Kill(); real.WaitForExit(5000); } catch (InvalidOperationException) { }
        }
    }

    [Fact]
    public void ConfigGetPatternsAliasesAndHiddenDirectives()
    {
        using var c = _shared.Connect();
        var res = ConfigGetAll(c, "*of");
        Assert.True(res.ContainsKey("replicaof") && res.ContainsKey("slaveof"));
        var multi = Assert.IsType<object?[]>(c.Call("CONFIG", "GET", "maxmemory", "maxmemory*", "bind", "MAXMEMORY"));
        var names = multi.Where((_, i) => i % 2 == 0).Cast<string>().ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.Contains("maxmemory-clients", names);
        Assert.Contains("bind", names);
        Assert.Equal(new object?[] { "MAXMEMORY", "0" }, c.Call("CONFIG", "GET", "MAXMEMORY"));
        Assert.DoesNotContain("key-load-delay", ConfigGetAll(c).Keys);
        Assert.Equal(new object?[] { "key-load-delay", "0" }, c.Call("CONFIG", "GET", "key-load-delay"));
        Assert.Equal(Array.Empty<object?>(), c.Call("CONFIG", "GET", "no-such-thing"));
    }

    [Fact]
    public void ConfigSetErrorsAreRedisErrorsAndNothingChanges()
    {
        using var c = _shared.Connect();
        Assert.Equal("ERR Unknown option or number of arguments for CONFIG SET - 'foo'", Assert.IsType<RespError>(c.Call("CONFIG", "SET", "foo", "bar")).Message);
        Assert.Equal("ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config",
            Assert.IsType<RespError>(c.Call("CONFIG", "SET", "daemonize", "yes")).Message);
        Assert.Equal("ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config",
            Assert.IsType<RespError>(c.Call("CONFIG", "SET", "dir", "/tmp")).Message);
        Assert.Equal("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter",
            Assert.IsType<RespError>(c.Call("CONFIG", "SET", "maxmemory", "1", "maxmemory", "2")).Message);
        Assert.Equal("ERR syntax error", Assert.IsType<RespError>(c.Call("CONFIG", "SET", "maxmemory", "1", "timeout")).Message);
        Assert.Equal("ERR CONFIG SET failed (possibly related to argument 'slave-read-only') - argument must be 'yes' or 'no'",
            Assert.IsType<RespError>(c.Call("CONFIG", "SET", "SLAVE-READ-ONLY", "maybe")).Message);

        // All or nothing: the valid first pair is rolled back when the second one fails.
        var before = ConfigGetAll(c, "maxmemory*");
        Assert.Equal("ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100",
            Assert.IsType<RespError>(c.Call("CONFIG", "SET", "maxmemory", "10000001", "maxmemory-clients", "200%", "client-query-buffer-limit", "invalid")).Message);
        Assert.Equal(before, ConfigGetAll(c, "maxmemory*"));

        Assert.Equal("OK", c.Call("CONFIG", "SET", "maxmemory-samples", "7", "hash-max-ziplist-entries", "5", "hash-max-listpack-entries", "6"));
        Assert.Equal("7", ConfigGetAll(c, "maxmemory-samples")["maxmemory-samples"]);
        Assert.Equal("6", ConfigGetAll(c, "hash-max-ziplist-entries")["hash-max-ziplist-entries"]);
        Assert.Equal("OK", c.Call("CONFIG", "SET", "maxmemory-samples", "5", "hash-max-listpack-entries", "512"));
    }

    [Fact]
    public void ConfigSetHasRuntimeEffects()
    {
        using var server = new ServerProcess();
        using var c = server.Connect();

        // loglevel: verbose logs each accepted connection.
        Assert.Equal("OK", c.Call("CONFIG", "SET", "loglevel", "verbose"));
        using (var extra = server.Connect()) Assert.Equal("PONG", extra.Call("PING"));
        Assert.True(SpinWait.SpinUntil(() => server.Output.Contains(" - Accepted "), 10_000), "no verbose log line");

        // requirepass: new connections must authenticate.
        Assert.Equal("OK", c.Call("CONFIG", "SET", "requirepass", "s3cret"));
        using (var other = server.Connect())
        {
            Assert.StartsWith("NOAUTH", Assert.IsType<RespError>(other.Call("GET", "x")).Message);
            Assert.Equal("OK", other.Call("AUTH", "s3cret"));
            Assert.Equal("OK", other.Call("CONFIG", "SET", "requirepass", ""));
        }

        // port: the listener moves; a port in use is refused and the old one keeps serving.
        int newPort = ServerProcess.FreePort();
        Assert.Equal("OK", c.Call("CONFIG", "SET", "port", newPort.ToString()));
        Assert.Equal("PONG", Call(newPort, "PING"));
        Assert.False(TryPing(server.Port));
        using var busy = new TcpListener(System.Net.IPAddress.Loopback, 0);
        busy.Start();
        int busyPort = ((System.Net.IPEndPoint)busy.LocalEndpoint).Port;
        using (var d = new RespClient(newPort))
        {
            var err = Assert.IsType<RespError>(d.Call("CONFIG", "SET", "maxmemory", "10000001", "port", busyPort.ToString()));
            Assert.Equal("ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.", err.Message);
            Assert.Equal(newPort.ToString(), ConfigGetAll(d, "port")["port"]);
            Assert.Equal("0", ConfigGetAll(d, "maxmemory")["maxmemory"]);
        }
        Assert.Equal("PONG", Call(newPort, "PING"));

        // bind: re-listens on the new address list.
        Assert.Equal("OK", Call(newPort, "CONFIG", "SET", "bind", "127.0.0.1 -::1"));
        Assert.Equal("PONG", Call(newPort, "PING"));

        Assert.Equal("OK", c.Call("CONFIG", "RESETSTAT"));
        var help = Assert.IsType<object?[]>(c.Call("CONFIG", "HELP"));
        Assert.Equal("CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", help[0]);
        Assert.Equal("    Prints this help.", help[^1]);
        Assert.Equal("ERR The server is running without a config file", Assert.IsType<RespError>(c.Call("CONFIG", "REWRITE")).Message);
    }

    // ---- CONFIG REWRITE ---------------------------------------------------------------

    [Fact]
    public void ConfigRewriteKeepsTheFileAndRoundTrips()
    {
        const string text =
            "# Redis configuration\n" +
            "# second comment line\n" +
            "\n" +
            "slave-read-only yes\n" +
            "maxmemory 100mb\n" +
            "# maxmemory-policy noeviction\n" +
            "save 900 1\n" +
            "save 300 10\n" +
            "rename-command FLUSHDB \"\"\n" +
            "timeout 5\n";
        using var server = new ServerProcess(text);
        string conf = Path.Combine(server.Dir, "redis.conf");
        using (var c = server.Connect())
        {
            Assert.Equal("OK", c.Call("CONFIG", "SET", "maxmemory", "200mb", "maxmemory-policy", "allkeys-lru", "timeout", "0",
                "replica-read-only", "no", "notify-keyspace-events", "Ex", "save", "3600 1"));
            Assert.Equal("OK", c.Call("CONFIG", "REWRITE"));
        }
        var lines = File.ReadAllText(conf).Split('\n');
        Assert.Equal("# Redis configuration", lines[0]);
        Assert.Equal("# second comment line", lines[1]);
        Assert.Equal("replica-read-only no", lines[3]);
        Assert.Equal("maxmemory 200mb", lines[4]);
        Assert.Equal("# maxmemory-policy noeviction", lines[5]);
        Assert.Equal("save 3600 1", lines[6]);
        Assert.Equal("", lines[7]);
        Assert.Equal("rename-command FLUSHDB \"\"", lines[8]);
        Assert.Equal("timeout 0", lines[9]);
        int sig = Array.IndexOf(lines, "# Generated by CONFIG REWRITE");
        Assert.True(sig > 9);
        Assert.Contains("maxmemory-policy allkeys-lru", lines[sig..]);
        Assert.Contains("notify-keyspace-events \"xE\"", lines[sig..]);
        Assert.Contains($"port {server.Port}", lines[sig..]);
        Assert.Contains("bind 127.0.0.1", lines[sig..]);

        // A server started from the rewritten file has the same settings.
        using var again = new ServerProcess(File.ReadAllText(conf));
        using var c2 = again.Connect();
        var all = ConfigGetAll(c2);
        Assert.Equal("209715200", all["maxmemory"]);
        Assert.Equal("allkeys-lru", all["maxmemory-policy"]);
        Assert.Equal("no", all["slave-read-only"]);
        Assert.Equal("xE", all["notify-keyspace-events"]);
        Assert.StartsWith("ERR unknown command", Assert.IsType<RespError>(c2.Call("FLUSHDB")).Message);
    }

    /// <summary>A server started with arbitrary arguments, working directory and stdin.</summary>
    private sealed class LaunchedServer : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _output = new();
        public string Output { get { lock (_output) return _output.ToString(); } }

        private LaunchedServer(Process p) => _process = p;

        public static LaunchedServer Start(string workDir, string? stdin, params string[] args)
        {
            var psi = new ProcessStartInfo(ServerProcess.Launcher)
            {
                WorkingDirectory = workDir,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            psi.ArgumentList.Add("server");
            foreach (var a in args) psi.ArgumentList.Add(a);
            var server = new LaunchedServer(Process.Start(psi)!);
            var ready = new TaskCompletionSource();
            server._process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (server._output) server._output.AppendLine(e.Data);
                if (e.Data.Contains("Ready to accept connections")) ready.TrySetResult();
            };
            server._process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (server._output) server._output.AppendLine(e.Data); };
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            if (stdin != null) server._process.StandardInput.Write(stdin);
            server._process.StandardInput.Close();
            if (!ready.Task.Wait(TimeSpan.FromSeconds(60)))
            {
                server.Dispose();
                throw new InvalidOperationException("server did not start:\n" + server.Output);
            }
            return server;
        }

        public void Dispose()
        {
            try { if (!_process.HasExited) { _process.Kill(entireProcessTree: true); _process.WaitForExit(5000); } }
            catch (InvalidOperationException) { }
            _process.Dispose();
        }
    }
}
