using System.Diagnostics;
using System.Text;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// RDB files, DUMP and RESTORE against a real redis-server 7.0.15: byte-identical DUMP payloads both
/// ways, files each side writes loading on the other, start-up loading and its failures.
/// </summary>
public class RdbIntegrationTests
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    private static readonly object[][] Setup =
    [
        ["set", "s:plain", "hello"], ["set", "s:int", "12345"], ["set", "s:min", "-9223372036854775808"],
        ["set", "s:lzf", string.Concat(Enumerable.Repeat("abc", 30))], ["set", "s:21", new string('x', 21)],
        ["set", "s:zero-lead", "0123"], ["set", "s:wide", "4294967296"], ["set", "s:empty", ""],
        ["rpush", "l:small", "a", "b", "1", "2", "-3", new string('x', 100)],
        ["hset", "h:small", "f1", "v1", "f2", "2", "f3", ""],
        ["hset", "h:table", "f", new string('v', 100)],
        ["sadd", "set:ints", "1", "2", "3", "-4", "100000"], ["sadd", "set:wide", "1", "1099511627776"],
        ["sadd", "set:strs", "a", "b", "c"],
        ["zadd", "z:small", "1", "a", "2.5", "b", "-3", "c", "inf", "d"],
    ];

    private static void Populate(RespClient c)
    {
        foreach (var cmd in Setup) Assert.IsNotType<RespError>(c.Call(cmd));
        for (int i = 0; i < 2000; i++) c.Call("rpush", "l:big", $"item-{i}");
        for (int i = 0; i < 200; i++) c.Call("zadd", "z:big", (i / 2.0).ToString(System.Globalization.CultureInfo.InvariantCulture), $"m{i}");
        for (int i = 0; i < 600; i++) c.Call("sadd", "set:bigints", i.ToString());
    }

    private static string[] Keys(RespClient c) => ((object?[])c.Call("keys", "*")!).Select(k => (string)k!).OrderBy(k => k, StringComparer.Ordinal).ToArray();

    /// <summary>A key's type, value and TTL as text, read the same way from either server.</summary>
    private static string Describe(RespClient c, string key)
    {
        string type = (string)c.Call("type", key)!;
        string Join(object? reply) => string.Join("|", ((object?[])reply!).Select(x => x?.ToString()));
        string Sorted(object? reply) => string.Join("|", ((object?[])reply!).Select(x => x?.ToString()).OrderBy(x => x, StringComparer.Ordinal));
        string value = type switch
        {
            "string" => (string)c.Call("get", key)!,
            "list" => Join(c.Call("lrange", key, "0", "-1")),
            "set" => Sorted(c.Call("smembers", key)),
            "hash" => Sorted(((object?[])c.Call("hgetall", key)!).Chunk(2).Select(p => $"{p[0]}={p[1]}").ToArray()),
            "zset" => Join(c.Call("zrange", key, "0", "-1", "withscores")),
            _ => "?",
        };
        return $"{type}:{c.Call("object", "encoding", key)}:{c.Call("pexpiretime", key)}:{value}";
    }

    private static Dictionary<string, string> Contents(RespClient c, int dbs = 16)
    {
        var all = new Dictionary<string, string>();
        for (int db = 0; db < dbs; db++)
        {
            c.Call("select", db.ToString());
            foreach (var k in Keys(c)) all[$"{db}/{k}"] = Describe(c, k);
        }
        c.Call("select", "0");
        return all;
    }

    [Fact]
    public void DumpIsByteIdenticalToRedisAndRestoresBothWays()
    {
        using var pair = new ServerPair();
        using var ours = pair.Ours.Connect();
        using var real = pair.Real.Connect();
        Populate(ours);
        Populate(real);
        foreach (var key in Keys(real))
        {
            var fromReal = (string)real.Call("dump", key)!;
            var fromOurs = (string)ours.Call("dump", key)!;
            // Hash tables iterate in their own order: only their contents can match.
            if ((string)real.Call("object", "encoding", key)! != "hashtable")
                Assert.True(fromReal == fromOurs, $"DUMP of {key} differs: real {Convert.ToHexString(B(fromReal))} ours {Convert.ToHexString(B(fromOurs))}");
            Assert.Equal("OK", ours.Call("restore", key + ":r", "0", B(fromReal)));
            Assert.Equal("OK", real.Call("restore", key + ":r", "0", B(fromOurs)));
            Assert.Equal(Describe(real, key + ":r"), Describe(ours, key + ":r"));
            Assert.Equal(Describe(real, key), Describe(ours, key + ":r").Replace(key + ":r", key));
        }
        // DEBUG OBJECT's serializedlength is the DUMP body's length.
        foreach (var key in new[] { "s:lzf", "l:big", "z:small" })
        {
            string Ser(RespClient c) => ((string)c.Call("debug", "object", key)!).Split(' ').First(x => x.StartsWith("serializedlength:"));
            Assert.Equal(Ser(real), Ser(ours));
        }
    }

    [Fact]
    public void RestoreErrorsAndTtlFollowRedis()
    {
        using var pair = new ServerPair();
        using var ours = pair.Ours.Connect();
        using var real = pair.Real.Connect();
        foreach (var c in new[] { ours, real }) c.Call("set", "src", "value");
        var payload = B((string)real.Call("dump", "src")!);
        var badCrc = (byte[])payload.Clone();
        badCrc[^1] ^= 0xFF;
        var newer = (byte[])payload.Clone();
        newer[^10] = 11;
        var garbage = (byte[])payload.Clone();
        garbage[0] = 0x55;
        long future = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 100000;
        var cases = new object[][]
        {
            ["restore", "src", "0", payload],
            ["restore", "k", "-1", payload],
            ["restore", "k", "abc", payload],
            ["restore", "k", "0", badCrc],
            ["restore", "k", "0", newer],
            ["restore", "k", "0", garbage],
            ["restore", "k", "0", payload, "idletime", "-1"],
            ["restore", "k", "0", payload, "freq", "256"],
            ["restore", "k", "0", payload, "bogus"],
            ["restore", "k", "0", payload, "idletime", "10", "freq", "5"],
            ["restore", "k2", "0", "xx"],
            ["restore", "k3", "0", payload, "replace", "idletime", "1000"],
            ["object", "idletime", "k3"],
            ["restore", "k4", future.ToString(), payload, "absttl"],
            ["restore", "src", "1", payload, "replace", "absttl"],
            ["exists", "src"],
        };
        foreach (var cmd in cases)
        {
            var r = real.Call(cmd);
            var o = ours.Call(cmd);
            if (cmd[0] is "object") Assert.True(o is long idle && idle >= 1000 && idle < 1010, $"idletime {o}");
            else Assert.Equal(r?.ToString(), o?.ToString());
        }
        Assert.Equal(real.Call("pexpiretime", "k4"), ours.Call("pexpiretime", "k4"));
    }

    private static string RunProcess(string file, IEnumerable<string> args, out int exitCode, string? workDir = null, int timeoutMs = 60000)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workDir != null) psi.WorkingDirectory = workDir;
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(timeoutMs)) { p.Kill(); throw new TimeoutException(file); }
        exitCode = p.ExitCode;
        return output + err.Result;
    }

    [Fact]
    public void OurRdbLoadsInRedisAndPassesItsChecker()
    {
        using var pair = new ServerPair();
        using var ours = pair.Ours.Connect();
        Populate(ours);
        ours.Call("set", "ttl", "v", "px", "500000");
        ours.Call("select", "7");
        ours.Call("hset", "h7", "a", "1");
        ours.Call("select", "0");
        Assert.Equal("OK", ours.Call("debug", "reload"));
        var expected = Contents(ours);
        Assert.Equal(Setup.Length + 5, expected.Count);
        string file = Path.Combine(pair.Ours.Dir, "dump.rdb");
        string check = RunProcess("redis-check-rdb", [file], out int rc);
        Assert.True(rc == 0, check);
        Assert.Contains("RDB looks OK", check);

        string dir = Directory.CreateTempSubdirectory("redoubt-rdb-").FullName;
        try
        {
            File.Copy(file, Path.Combine(dir, "dump.rdb"));
            int port = ServerProcess.FreePort();
            var psi = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true };
            foreach (var a in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--dir", dir }) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            try
            {
                RespClient? real = null;
                for (int i = 0; i < 100 && real == null; i++)
                {
                    try { real = new RespClient(port); } catch (System.Net.Sockets.SocketException) { Thread.Sleep(50); }
                }
                using (real)
                {
                    while (real!.Call("ping") is RespError) Thread.Sleep(50);
                    Assert.Equal(expected, Contents(real));
                }
            }
            finally { p.Kill(); p.WaitForExit(); }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void LoadsRedisRdbAtStartup()
    {
        string dir = Directory.CreateTempSubdirectory("redoubt-rdb-").FullName;
        try
        {
            Dictionary<string, string> expected;
            using (var real = new RealRedisServer())
            using (var rc = real.Connect())
            {
                Populate(rc);
                rc.Call("set", "ttl", "v", "px", "500000");
                rc.Call("set", "gone", "v", "px", "300");
                rc.Call("select", "9");
                rc.Call("rpush", "l9", "x");
                rc.Call("select", "0");
                Assert.Equal("OK", rc.Call("save"));
                File.Copy(Path.Combine(real.Dir, "dump.rdb"), Path.Combine(dir, "dump.rdb"));
                Thread.Sleep(400);
                expected = Contents(rc);
            }
            using var ours = new ServerProcess(null, "--dir", dir);
            using var c = ours.Connect();
            while (c.Call("ping") is RespError) Thread.Sleep(20);
            Assert.Equal(expected, Contents(c));
            var info = (string)c.Call("info", "persistence")!;
            Assert.Contains("loading:0", info);
            Assert.Contains("rdb_last_load_keys_expired:1", info);
            Assert.Contains($"rdb_last_load_keys_loaded:{expected.Count}", info);
            Assert.Contains("DB loaded from disk: ", ours.Output);
            Assert.Contains($"Done loading RDB, keys loaded: {expected.Count}, keys expired: 1.", ours.Output);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>Starts our server on <paramref name="rdb"/> and returns its log once it exits (or, with <paramref name="probe"/>, once it is up).</summary>
    private static string StartOnFile(byte[] rdb, out int exitCode, bool probe = false)
    {
        string dir = Directory.CreateTempSubdirectory("redoubt-rdb-").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "dump.rdb"), rdb);
            if (probe)
            {
                using var s = new ServerProcess(null, "--dir", dir);
                using var c = s.Connect();
                while (c.Call("ping") is RespError) Thread.Sleep(20);
                exitCode = 0;
                return s.Output;
            }
            var args = new[] { "server", "--port", ServerProcess.FreePort().ToString(), "--bind", "127.0.0.1", "--dir", dir, "--save", "" };
            return RunProcess(ServerProcess.Launcher, args, out exitCode);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void CorruptOrTruncatedFilesStopStartup()
    {
        // Redis's fixture without its stream key (the stream type is not part of this server yet).
        var server = RdbFormatTests.NewServer();
        byte[] good;
        try
        {
            server.Config.RdbCompression = false;
            Persistence.RdbLoader.LoadFile(server, Path.Combine(RdbFormatTests.FixtureDir, "all-types-uncompressed.rdb"));
            lock (server.Sync) server.Databases[0].Delete("stream:1"u8);
            good = RdbFormatTests.SaveToBytes(server);
        }
        finally { server.Shutdown(true, true); }
        Assert.Contains("DB loaded from disk", StartOnFile(good, out int okRc, probe: true));
        var flipped = (byte[])good.Clone();
        flipped[good.Length / 2] ^= 0x01;
        string log = StartOnFile(flipped, out int rc);
        Assert.Equal(1, rc);
        Assert.Contains("Terminating server after rdb file reading failure.", log);
        Assert.Contains("dump.rdb", log);
        Assert.Matches("Internal error in RDB reading offset [0-9]+", log);

        string truncated = StartOnFile(good[..(good.Length - 5000)], out rc);
        Assert.Equal(1, rc);
        Assert.Contains("Short read or OOM loading DB. Unrecoverable error, aborting now.", truncated);

        // A valid file whose checksum alone is wrong.
        var badCrc = (byte[])good.Clone();
        badCrc[^1] ^= 0x5A;
        string crcLog = StartOnFile(badCrc, out rc);
        Assert.Equal(1, rc);
        Assert.Contains("Wrong RDB checksum expected: (", crcLog);
    }

    [Fact]
    public void ClientsGetLoadingErrorsWhileALargeFileLoads()
    {
        string dir = Directory.CreateTempSubdirectory("redoubt-rdb-").FullName;
        try
        {
            using (var seed = new ServerProcess(null, "--dir", dir, "--enable-debug-command", "yes"))
            using (var c = seed.Connect())
            {
                Assert.Equal("OK", c.Call("debug", "populate", "200000", "key", "10"));
                Assert.Equal("OK", c.Call("debug", "reload"));
            }
            // Slow the load down so that it is observed (Redis's key-load-delay test knob, microseconds per key).
            var psi = new ProcessStartInfo(ServerProcess.Launcher) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            int port = ServerProcess.FreePort();
            foreach (var a in new[] { "server", "--port", port.ToString(), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--key-load-delay", "20",
                                      "--loading-process-events-interval-bytes", "1024", "--enable-protected-configs", "yes" })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            p.OutputDataReceived += (_, _) => { };
            p.ErrorDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            try
            {
                RespClient? c = null;
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (c == null && DateTime.UtcNow < deadline)
                {
                    try { c = new RespClient(port); } catch (System.Net.Sockets.SocketException) { Thread.Sleep(20); }
                }
                using (c)
                {
                    var r = c!.Call("get", "key:1");
                    Assert.Equal("LOADING Redis is loading the dataset in memory", Assert.IsType<RespError>(r).Message);
                    var info = (string)c.Call("info", "persistence")!;
                    Assert.Contains("loading:1", info);
                    Assert.Contains("loading_total_bytes:", info);
                    // Some directives may change while loading, others answer -LOADING as in Redis.
                    Assert.Equal("OK", c.Call("config", "set", "loglevel", "debug"));
                    Assert.Equal("LOADING Redis is loading the dataset in memory",
                        Assert.IsType<RespError>(c.Call("config", "set", "dir", "elsewhere")).Message);
                    while (c.Call("get", "key:1") is RespError) Thread.Sleep(50);
                    Assert.Equal(200000L, c.Call("dbsize"));
                }
            }
            finally { p.Kill(); p.WaitForExit(); }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void DebugReloadOptions()
    {
        using var s = new ServerProcess(null, "--enable-debug-command", "yes");
        using var c = s.Connect();
        c.Call("set", "a", "1");
        Assert.Equal("OK", c.Call("debug", "reload"));
        c.Call("set", "b", "2");
        // NOSAVE: the file from before is loaded, so b is gone.
        Assert.Equal("OK", c.Call("debug", "reload", "nosave"));
        Assert.Null(c.Call("get", "b"));
        Assert.Equal("1", c.Call("get", "a"));
        // NOFLUSH + MERGE keeps keys the file lacks and takes the file's value for the others.
        c.Call("set", "a", "changed");
        c.Call("set", "c", "3");
        Assert.Equal("OK", c.Call("debug", "reload", "nosave", "noflush", "merge"));
        Assert.Equal("1", c.Call("get", "a"));
        Assert.Equal("3", c.Call("get", "c"));
        Assert.Equal("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.", Assert.IsType<RespError>(c.Call("debug", "reload", "x")).Message.Replace("ERR ", ""));
    }

    [Fact]
    public void CheckRdbReportsLikeRedisCheckRdb()
    {
        string file = Path.Combine(RdbFormatTests.FixtureDir, "all-types.rdb");
        string output = RunProcess(ServerProcess.Launcher, ["check-rdb", file], out int rc);
        Assert.Equal(0, rc);
        Assert.Contains($"[offset 0] Checking RDB file {file}", output);
        Assert.Contains("AUX FIELD redis-ver = '7.0.15'", output);
        Assert.Contains("\\o/ RDB looks OK! \\o/", output);
        Assert.Contains("[info] 23 keys read", output);

        string dir = Directory.CreateTempSubdirectory("redoubt-rdb-").FullName;
        try
        {
            var bad = File.ReadAllBytes(file)[..5000];
            string badFile = Path.Combine(dir, "bad.rdb");
            File.WriteAllBytes(badFile, bad);
            output = RunProcess(ServerProcess.Launcher, ["check-rdb", badFile], out rc);
            Assert.Equal(1, rc);
            Assert.Contains("--- RDB ERROR DETECTED ---", output);
            Assert.Contains("Unexpected EOF reading RDB file", output);
        }
        finally { Directory.Delete(dir, true); }
    }
    [Fact]
    public void StreamsDumpLikeRedisAndLoadFromItsFiles()
    {
        using (var pair = new ServerPair())
        using (var ours = pair.Ours.Connect())
        using (var real = pair.Real.Connect())
        {
            foreach (var c in new[] { ours, real })
            {
                for (int i = 1; i <= 250; i++)
                    Assert.IsNotType<RespError>(i % 5 == 0
                        ? c.Call("xadd", "st", $"{1000 + i}-{i % 3}", "other", $"v{i}")
                        : c.Call("xadd", "st", $"{1000 + i}-{i % 3}", "f", $"value-{i}", "g", i.ToString()));
                Assert.Equal("OK", c.Call("xgroup", "create", "st", "grp", "1100-0"));
            }
            var fromReal = (string)real.Call("dump", "st")!;
            Assert.Equal(Convert.ToHexString(B(fromReal)), Convert.ToHexString(B((string)ours.Call("dump", "st")!)));
            Assert.Equal("OK", ours.Call("restore", "st2", "0", B(fromReal)));
            string Range(RespClient c, string k) => string.Join(",", ((object?[])c.Call("xrange", k, "-", "+")!).Select(e => string.Join(":", ((object?[])e!).SelectMany(x => x is object?[] a ? a.Select(y => y?.ToString()) : [x?.ToString()]))));
            Assert.Equal(Range(real, "st"), Range(ours, "st2"));
        }
        // Redis's fixture, stream and consumer group included, loads at start-up.
        string dir = Directory.CreateTempSubdirectory("redoubt-rdb-").FullName;
        try
        {
            File.Copy(Path.Combine(RdbFormatTests.FixtureDir, "all-types.rdb"), Path.Combine(dir, "dump.rdb"));
            using var s = new ServerProcess(null, "--dir", dir);
            using var c = s.Connect();
            var entries = (object?[])c.Call("xrange", "stream:1", "-", "+")!;
            Assert.Equal(2, entries.Length);
            var groups = (object?[])c.Call("xinfo", "groups", "stream:1")!;
            var g = ((object?[])groups[0]!).Select(x => x?.ToString()).ToArray();
            Assert.Equal("grp", g[1]);
            Assert.Equal("1", g[5]);
        }
        finally { Directory.Delete(dir, true); }
    }
}
