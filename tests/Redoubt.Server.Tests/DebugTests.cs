using System.Diagnostics;
using System.Text.RegularExpressions;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>DEBUG, MEMORY, ROLE, LASTSAVE and FUNCTION FLUSH/LIST, compared with real Redis where replies are deterministic.</summary>
public sealed class DebugTests : IClassFixture<ServerPair>
{
    private readonly ServerPair _pair;
    public DebugTests(ServerPair pair) => _pair = pair;

    private static string Show(object? reply) => ReplyComparison.Show(reply);

    private void SameOnBoth(params object[][] commands) => ReplyComparison.SameOnBoth(_pair, commands);

    [Fact]
    public void ConfigRewriteForceAllWritesEveryDirectiveAndTheServerReadsThemBack()
    {
        using var ours = _pair.Ours.Connect();
        Assert.Equal("ERR CONFIG-REWRITE-FORCE-ALL failed: Bad address",
            Assert.IsType<RespError>(ours.Call("DEBUG", "CONFIG-REWRITE-FORCE-ALL")).Message);

        string conf;
        using (var server = new ServerProcess("maxmemory 1mb\n", "--enable-debug-command", "yes"))
        {
            using var c = server.Connect();
            Assert.Equal("OK", c.Call("DEBUG", "CONFIG-REWRITE-FORCE-ALL"));
            conf = File.ReadAllText(Path.Combine(server.Dir, "redis.conf"));
        }
        // Defaults are written too, not only what differs from them.
        var lines = conf.Split('\n');
        Assert.Contains("hz 10", lines);
        Assert.Contains("maxmemory 1mb", lines);
        Assert.Contains("latency-monitor-threshold 0", lines);
        // The first server's directory is gone: start the second one in its own.
        using var again = new ServerProcess(string.Join('\n', lines.Where(l => !l.StartsWith("dir "))));
        using var r = again.Connect();
        Assert.Equal(new object?[] { "maxmemory", "1048576" }, (object?[])r.Call("CONFIG", "GET", "maxmemory")!);
    }

    [Fact]
    public void DigestOfStringDatasetsEqualsRealRedis()
    {
        SameOnBoth(
            ["FLUSHALL"],
            ["DEBUG", "DIGEST"],
            ["SET", "d:a", "hello"],
            ["SET", "d:n", "12345"],
            ["SET", "d:long", new string('x', 100)],
            ["SELECT", "5"],
            ["SET", "d:a", "in five"],
            ["DEBUG", "DIGEST"],
            ["DEBUG", "DIGEST-VALUE", "d:a", "nokey"],
            ["SELECT", "0"],
            ["DEBUG", "DIGEST-VALUE", "d:a", "d:n", "d:long"],
            ["DEL", "d:n"],
            ["DEBUG", "DIGEST"],
            ["FLUSHALL"],
            ["DEBUG", "DIGEST"]);
        using var c = _pair.Ours.Connect();
        Assert.Equal(new string('0', 40), c.Call("DEBUG", "DIGEST"));
    }

    [Fact]
    public void ObjectReportsEncodingSerializedLengthAndIdleTime()
    {
        using var ours = _pair.Ours.Connect();
        using var real = _pair.Real.Connect();
        var pattern = new Regex(@"^Value at:0x[0-9a-f]+ refcount:\d+ encoding:(\S+) serializedlength:(\d+) lru:(\d+) lru_seconds_idle:(\d+)$");
        foreach (var value in new[] { "1", "-200", "70000", "12345678901", "bar", new string('y', 44), new string('z', 45), "007" })
        {
            ours.Call("SET", "obj:k", value);
            real.Call("SET", "obj:k", value);
            var o = pattern.Match((string)ours.Call("DEBUG", "OBJECT", "obj:k")!);
            var r = pattern.Match((string)real.Call("DEBUG", "OBJECT", "obj:k")!);
            Assert.True(o.Success);
            Assert.Equal(r.Groups[1].Value, o.Groups[1].Value);
            // Redis compresses values over 20 bytes with LZF in RDB; uncompressed lengths are compared.
            if (value.Length <= 20) Assert.Equal(r.Groups[2].Value, o.Groups[2].Value);
            // The LRU clock has one-second resolution: a tick between SET and DEBUG OBJECT reads 1.
            Assert.InRange(int.Parse(o.Groups[4].Value), 0, 1);
        }
        SameOnBoth(["DEBUG", "OBJECT", "no:such:key"], ["DEBUG", "NOSUCHSUB"], ["DEBUG", "OBJECT"]);
    }

    [Fact]
    public void SleepBlocksTheWholeServer()
    {
        using var sleeper = _pair.Ours.Connect();
        using var other = _pair.Ours.Connect();
        Assert.Equal("PONG", other.Call("PING"));
        var sw = Stopwatch.StartNew();
        sleeper.SendRaw(RespClient.Encode("DEBUG", "SLEEP", "0.5"));
        Thread.Sleep(100);
        Assert.Equal("PONG", other.Call("PING"));
        Assert.True(sw.ElapsedMilliseconds >= 450, $"PING answered after {sw.ElapsedMilliseconds} ms");
        Assert.Equal("OK", sleeper.Read());
        Assert.Equal("OK", sleeper.Call("DEBUG", "SLEEP", "0"));
    }

    [Fact]
    public void LogWritesToTheServerLog()
    {
        using var c = _pair.Ours.Connect();
        Assert.Equal("OK", c.Call("DEBUG", "LOG", "introspection marker 42"));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!_pair.Ours.Output.Contains("DEBUG LOG: introspection marker 42") && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.Matches(@"\d+:M \d\d \w{3} \d{4} [\d:.]+ # DEBUG LOG: introspection marker 42", _pair.Ours.Output);
    }

    [Fact]
    public void ChangeReplIdGivesANewPrimaryId()
    {
        using var c = _pair.Ours.Connect();
        string Id() => Regex.Match((string)c.Call("INFO", "replication")!, "master_replid:([0-9a-f]{40})").Groups[1].Value;
        string before = Id();
        Assert.Equal("OK", c.Call("DEBUG", "CHANGE-REPL-ID"));
        Assert.NotEqual(before, Id());
        Assert.Contains("master_replid2:" + new string('0', 40), (string)c.Call("INFO", "replication")!);
    }

    [Fact]
    public void PopulateCreatesTheSameKeysAsRedis()
    {
        SameOnBoth(
            ["SELECT", "9"],
            ["FLUSHDB"],
            ["SET", "key:1", "kept"],
            ["DEBUG", "POPULATE", "5"],
            ["DBSIZE"],
            ["GET", "key:0"],
            ["GET", "key:1"],
            ["DEBUG", "POPULATE", "3", "pfx", "3"],
            ["GET", "pfx:2"],
            ["DEBUG", "POPULATE", "2", "big", "20"],
            ["GET", "big:1"],
            ["DEBUG", "DIGEST"],
            ["DEBUG", "POPULATE", "-1"],
            ["DEBUG", "POPULATE", "x"],
            ["FLUSHDB"]);
    }

    [Fact]
    public void ProtocolTypesInResp2MatchRedis()
    {
        var cmds = new[] { "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push", "verbatim", "true", "false", "nope" }
            .Select(t => new object[] { "DEBUG", "PROTOCOL", t }).ToArray();
        SameOnBoth(cmds);
    }

    [Fact]
    public void HelpTextsAndErrorsMatchRedis()
    {
        using var c = _pair.Ours.Connect();
        var help = (object?[])c.Call("DEBUG", "HELP")!;
        Assert.Equal("DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", help[0]);
        Assert.Equal("    Prints this help.", help[^1]);
        SameOnBoth(["MEMORY", "HELP"], ["MEMORY", "NOPE"], ["MEMORY", "USAGE"], ["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5gb"],
                   ["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1k"], ["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"], ["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
                   ["DEBUG", "ERROR", "CUSTOM thing"]);
    }

    [Fact]
    public void FunctionFlushAndListOverNoLibraries()
    {
        SameOnBoth(
            ["FUNCTION", "FLUSH"],
            ["FUNCTION", "FLUSH", "ASYNC"],
            ["FUNCTION", "FLUSH", "sync"],
            ["FUNCTION", "FLUSH", "bad"],
            ["FUNCTION", "FLUSH", "a", "b"],
            ["FUNCTION", "LIST"],
            ["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "x*"],
            ["FUNCTION", "LIST", "LIBRARYNAME"],
            ["FUNCTION", "LIST", "WITHCODE", "WITHCODE"]);
    }

    [Fact]
    public void MemoryUsageOfKeys()
    {
        SameOnBoth(
            ["SET", "mem:k", "value"],
            ["MEMORY", "USAGE", "mem:none"],
            ["MEMORY", "USAGE", "mem:k", "SAMPLES", "-1"],
            ["MEMORY", "USAGE", "mem:k", "SAMPLES", "x"],
            ["MEMORY", "USAGE", "mem:k", "SAMPLES"],
            ["MEMORY", "USAGE", "mem:k", "OTHER", "1"]);
        using var c = _pair.Ours.Connect();
        c.Call("SET", "mem:small", "v");
        c.Call("SET", "mem:big", new string('v', 10000));
        long small = (long)c.Call("MEMORY", "USAGE", "mem:small")!;
        long big = (long)c.Call("MEMORY", "USAGE", "mem:big", "SAMPLES", "0")!;
        Assert.InRange(small, 32, 128);
        Assert.InRange(big, 10000, 10200);
    }

    [Fact]
    public void MemoryStatsHasRedisFieldsInOrder()
    {
        using var ours = _pair.Ours.Connect();
        using var real = _pair.Real.Connect();
        ours.Call("SET", "stats:k", "v");
        real.Call("SET", "stats:k", "v");
        List<string> Keys(object? reply)
        {
            var items = (object?[])reply!;
            var keys = new List<string>();
            for (int i = 0; i < items.Length; i += 2)
            {
                keys.Add((string)items[i]!);
                if (items[i + 1] is object?[] nested)
                    for (int j = 0; j < nested.Length; j += 2) keys.Add(items[i] + "/" + nested[j]);
            }
            return keys;
        }
        Assert.Equal(Keys(real.Call("MEMORY", "STATS")), Keys(ours.Call("MEMORY", "STATS")));
        var doctor = (string)ours.Call("MEMORY", "DOCTOR")!;
        Assert.StartsWith("Hi Sam, ", doctor);
        Assert.Equal("Stats not supported for the current allocator", ours.Call("MEMORY", "MALLOC-STATS"));
        Assert.Equal("OK", ours.Call("MEMORY", "PURGE"));
    }

    [Fact]
    public void RoleAndLastSaveOfAStandaloneMaster()
    {
        SameOnBoth(["ROLE"]);
        using var c = _pair.Ours.Connect();
        long lastSave = (long)c.Call("LASTSAVE")!;
        Assert.InRange(lastSave, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 120, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
    }
}
