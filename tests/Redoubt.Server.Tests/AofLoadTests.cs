using System.Text;
using System.Text.Json;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Loading the multi-part AOF: an AOF directory written by Redis 7.0.15, ours loaded by Redis, and
/// damaged files (truncated tail with aof-load-truncated yes/no, a bad byte in the middle).
/// </summary>
public sealed class AofLoadTests
{
    /// <summary>
    /// The fixture written by Redis 7.0.15 (base file of commands plus an incr file) loads with every key
    /// as expected.json describes, the stream (entries and consumer groups) included.
    /// </summary>
    [Fact]
    public void LoadsRedisFixtureWithExpectedContents()
    {
        string dir = AofHarness.NewDataDir();
        try
        {
            AofHarness.CopyDir(AofHarness.FixturePath("aof-7.0.15", "appendonlydir"), Path.Combine(dir, "appendonlydir"));
            using var server = DirServer.Ours(dir, "--appendonly", "yes");
            using var c = server.Connect();
            // The file spells infinite scores as bare Infinity, which JSON has no literal for.
            string json = System.Text.RegularExpressions.Regex.Replace(
                File.ReadAllText(AofHarness.FixturePath("aof-7.0.15", "expected.json")), "(?<!\")(-?Infinity)(?!\")", "\"$1\"");
            using var expected = JsonDocument.Parse(json);
            int compared = 0, streams = 0;
            foreach (var db in expected.RootElement.EnumerateObject())
            {
                c.Call("SELECT", db.Name);
                foreach (var key in db.Value.EnumerateObject())
                {
                    string type = key.Value.GetProperty("type").GetString()!;
                    Assert.Equal(type, c.Call("TYPE", key.Name));
                    Assert.Equal(key.Value.GetProperty("pexpireat").GetInt64(), c.Call("PEXPIRETIME", key.Name));
                    AssertValue(c, key.Name, type, key.Value);
                    if (type == "stream") streams++;
                    compared++;
                }
                long expectedCount = db.Value.EnumerateObject().Count();
                Assert.Equal(expectedCount, c.Call("DBSIZE"));
            }
            Assert.True(compared >= 25, $"compared {compared} keys");
            Assert.True(streams >= 1, "the fixture holds a stream");
        }
        finally { Directory.Delete(dir, true); }
    }

    private static void AssertValue(RespClient c, string key, string type, JsonElement e)
    {
        var value = e.TryGetProperty("value", out var v) ? v : default;
        switch (type)
        {
            case "string":
                string expected = e.TryGetProperty("value_b64", out var b64)
                    ? Encoding.Latin1.GetString(Convert.FromBase64String(b64.GetString()!))
                    : value.GetString()!;
                Assert.Equal(expected, c.Call("GET", key));
                break;
            case "list":
                Assert.Equal(value.EnumerateArray().Select(x => (object?)x.GetString()).ToArray(), (object?[])c.Call("LRANGE", key, "0", "-1")!);
                break;
            case "set":
                Assert.Equal(value.EnumerateArray().Select(x => x.GetString()!).Order(StringComparer.Ordinal).ToArray(),
                    ((object?[])c.Call("SMEMBERS", key)!).Select(x => (string)x!).Order(StringComparer.Ordinal).ToArray());
                break;
            case "hash":
                var h = (object?[])c.Call("HGETALL", key)!;
                var got = new Dictionary<string, string>();
                for (int i = 0; i < h.Length; i += 2) got[(string)h[i]!] = (string)h[i + 1]!;
                Assert.Equal(value.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!), got);
                break;
            case "zset":
                var z = (object?[])c.Call("ZRANGE", key, "0", "-1", "WITHSCORES")!;
                var pairs = value.EnumerateArray().ToArray();
                Assert.Equal(pairs.Length * 2, z.Length);
                for (int i = 0; i < pairs.Length; i++)
                {
                    Assert.Equal(pairs[i][0].GetString(), z[2 * i]);
                    var score = pairs[i][1];
                    double want = score.ValueKind == JsonValueKind.Number ? score.GetDouble()
                        : score.GetString() == "Infinity" ? double.PositiveInfinity : double.NegativeInfinity;
                    string text = (string)z[2 * i + 1]!;
                    double have = text == "inf" ? double.PositiveInfinity : text == "-inf" ? double.NegativeInfinity
                        : double.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
                    Assert.Equal(want, have);
                }
                break;
            case "stream":
                var entries = (object?[])c.Call("XRANGE", key, "-", "+")!;
                var wantEntries = value.EnumerateArray().ToArray();
                Assert.Equal(wantEntries.Length, entries.Length);
                for (int i = 0; i < entries.Length; i++)
                {
                    var entry = (object?[])entries[i]!;
                    Assert.Equal(wantEntries[i][0].GetString(), entry[0]);
                    var fv = (object?[])entry[1]!;
                    var fields = new Dictionary<string, string>();
                    for (int j = 0; j < fv.Length; j += 2) fields[(string)fv[j]!] = (string)fv[j + 1]!;
                    Assert.Equal(wantEntries[i][1].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!), fields);
                }
                var groups = (object?[])c.Call("XINFO", "GROUPS", key)!;
                var wantGroups = e.GetProperty("groups").EnumerateArray().ToArray();
                Assert.Equal(wantGroups.Length, groups.Length);
                for (int i = 0; i < groups.Length; i++)
                {
                    var g = (object?[])groups[i]!;
                    var info = new Dictionary<string, object?>();
                    for (int j = 0; j < g.Length; j += 2) info[(string)g[j]!] = g[j + 1];
                    foreach (var p in wantGroups[i].EnumerateObject())
                    {
                        object? want = p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetInt64() : p.Value.GetString();
                        Assert.Equal(want, info[p.Name]);
                    }
                }
                break;
        }
    }


    /// <summary>What our server writes, Redis 7.0.15 loads into the same dataset (and the reverse).</summary>
    [Fact]
    public void RealRedisLoadsOurAofDirectory()
    {
        string dir = AofHarness.NewDataDir();
        try
        {
            string ours;
            using (var server = DirServer.Ours(dir, "--appendonly", "yes", "--aof-use-rdb-preamble", "no"))
            using (var c = server.Connect())
            {
                Populate(c);
                // A rewrite in the middle: the result is a base file plus an incr file written after it.
                Assert.Equal("Background append only file rewriting started", c.Call("BGREWRITEAOF"));
                WaitRewriteDone(c);
                c.Call("SET", "after:rewrite", "1");
                c.Call("RPUSH", "list", "tail");
                c.Call("INCRBYFLOAT", "float", "0.1");
                ours = AofHarness.Dump(c);
                AofHarness.Shutdown(c, server.Process);
            }
            var files = Directory.GetFiles(Path.Combine(dir, "appendonlydir")).Select(f => Path.GetFileName(f)!).Order().ToArray();
            Assert.Equal(["appendonly.aof.2.base.aof", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"], files);
            using (var real = DirServer.Real(dir, "--appendonly", "yes"))
            using (var c = real.Connect())
            {
                WaitLoaded(c);
                Assert.Equal(ours, AofHarness.Dump(c));
                // And back: Redis appends to the same directory, we load the result.
                c.Call("SET", "from:redis", "x");
                c.Call("SADD", "set", "added-by-redis");
                ours = AofHarness.Dump(c);
                AofHarness.Shutdown(c, real.Process);
            }
            using (var server = DirServer.Ours(dir, "--appendonly", "yes"))
            using (var c = server.Connect())
            {
                Assert.Equal(ours, AofHarness.Dump(c));
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    internal static void Populate(RespClient c)
    {
        c.Call("SET", "str", "hello");
        c.Call("SET", "ttl", "v", "PXAT", "4102444800000");
        c.Call("SET", "bin", "a\r\nb\0c");
        c.Call("INCRBYFLOAT", "float", "1.5");
        for (int i = 0; i < 150; i++) c.Call("RPUSH", "list", "e" + i);
        for (int i = 0; i < 130; i++) c.Call("HSET", "hash", "f" + i, "v" + i);
        c.Call("HSET", "smallhash", "a", "1");
        for (int i = 0; i < 70; i++) c.Call("SADD", "set", "m" + i);
        c.Call("SADD", "intset", "1", "2", "-3");
        for (int i = 0; i < 100; i++) c.Call("ZADD", "zset", (i * 1.5).ToString(System.Globalization.CultureInfo.InvariantCulture), "z" + i);
        c.Call("ZADD", "zset", "inf", "top", "-inf", "bottom");
        c.Call("SELECT", "5");
        c.Call("SET", "db5", "five");
        c.Call("EXPIRE", "db5", "100000");
        c.Call("SELECT", "0");
    }

    internal static void WaitRewriteDone(RespClient c)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            string info = (string)c.Call("INFO", "persistence")!;
            if (info.Contains("aof_rewrite_in_progress:0") && info.Contains("aof_rewrite_scheduled:0")) return;
            Thread.Sleep(20);
        }
        throw new TimeoutException("rewrite did not finish");
    }

    internal static void WaitLoaded(RespClient c)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (c.Call("PING") is string) return;
            Thread.Sleep(20);
        }
    }

    /// <summary>Writes an AOF with ours, then cuts its incr file in the middle of the last command.</summary>
    private static string MakeTruncatedAof(out long validLength)
    {
        string dir = AofHarness.NewDataDir();
        using (var server = DirServer.Ours(dir, "--appendonly", "yes", "--appendfsync", "always"))
        using (var c = server.Connect())
        {
            c.Call("SET", "a", "1");
            c.Call("SET", "b", "2");
            c.Call("SET", "c", "3");
            server.Kill();
        }
        string incr = Path.Combine(dir, "appendonlydir", "appendonly.aof.1.incr.aof");
        var data = File.ReadAllBytes(incr);
        // The last command is "*3 $3 SET $1 c $1 3": keep everything before it plus a few of its bytes.
        string text = Encoding.Latin1.GetString(data);
        validLength = text.LastIndexOf("*3\r\n", StringComparison.Ordinal);
        File.WriteAllBytes(incr, data[..(int)(validLength + 9)]);
        return dir;
    }

    [Fact]
    public void TruncatedTailIsCutWhenAllowed()
    {
        string dir = MakeTruncatedAof(out long valid);
        try
        {
            using var server = DirServer.Ours(dir, "--appendonly", "yes", "--aof-load-truncated", "yes");
            using var c = server.Connect();
            Assert.Equal("1", c.Call("GET", "a"));
            Assert.Equal("2", c.Call("GET", "b"));
            Assert.Null(c.Call("GET", "c"));
            server.AssertOutput("!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!");
            server.AssertOutput($"!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {valid} !!!");
            server.AssertOutput("AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled");
            // The file was cut back to its last whole command, and appending goes on after it.
            c.Call("SET", "d", "4");
            var cmds = AofHarness.ParseCommands(File.ReadAllBytes(Path.Combine(dir, "appendonlydir", "appendonly.aof.1.incr.aof")));
            Assert.Equal(["SET", "d", "4"], cmds[^1]);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void TruncatedTailStopsStartupWhenNotAllowed()
    {
        string dir = MakeTruncatedAof(out _);
        try
        {
            var (code, output) = DirServer.OursExpectingExit(dir, "--appendonly", "yes", "--aof-load-truncated", "no");
            Assert.Equal(1, code);
            Assert.Contains("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof. You can: " +
                "1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. " +
                "2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.", output);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void CorruptedCommandFailsStartupNamingFileAndOffset()
    {
        string dir = AofHarness.NewDataDir();
        try
        {
            using (var server = DirServer.Ours(dir, "--appendonly", "yes", "--appendfsync", "always"))
            using (var c = server.Connect())
            {
                c.Call("SET", "a", "1");
                c.Call("SET", "b", "2");
                server.Kill();
            }
            string incr = Path.Combine(dir, "appendonlydir", "appendonly.aof.1.incr.aof");
            var data = File.ReadAllBytes(incr);
            int at = Encoding.Latin1.GetString(data).LastIndexOf("*3\r\n", StringComparison.Ordinal);
            data[at] = (byte)'!';
            File.WriteAllBytes(incr, data);
            var (code, output) = DirServer.OursExpectingExit(dir, "--appendonly", "yes");
            Assert.Equal(1, code);
            Assert.Contains("Bad file format reading the append only file appendonly.aof.1.incr.aof: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>", output);
            Assert.Contains($"The unreadable command of appendonly.aof.1.incr.aof starts at offset {at}", output);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void IncompleteTransactionAtTheEndIsReverted()
    {
        string dir = AofHarness.NewDataDir();
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "appendonlydir"));
            File.WriteAllText(Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest"), "file appendonly.aof.1.incr.aof seq 1 type i\n");
            var aof = new MemoryStream();
            aof.Write(RespClient.Encode("SET", "x", "1"));
            aof.Write(RespClient.Encode("MULTI"));
            aof.Write(RespClient.Encode("SET", "y", "2"));
            File.WriteAllBytes(Path.Combine(dir, "appendonlydir", "appendonly.aof.1.incr.aof"), aof.ToArray());
            using var server = DirServer.Ours(dir, "--appendonly", "yes");
            using var c = server.Connect();
            Assert.Equal("1", c.Call("GET", "x"));
            Assert.Null(c.Call("GET", "y"));
            server.AssertOutput("Revert incomplete MULTI/EXEC transaction in AOF file appendonly.aof.1.incr.aof");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void OldStyleSingleFileAofIsMigratedIntoTheAofDirectory()
    {
        string dir = Directory.CreateTempSubdirectory("redoubt-aof-upgrade-").FullName;
        try
        {
            // What Redis before 7.0 wrote: one appendonly.aof in the data directory, no manifest.
            File.WriteAllText(Path.Combine(dir, "appendonly.aof"),
                "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n", Encoding.Latin1);
            using (var server = DirServer.Ours(dir, "--appendonly", "yes"))
            using (var c = server.Connect())
            {
                Assert.Equal("1", c.Call("GET", "a"));
                Assert.Equal("OK", c.Call("SET", "b", "2"));
                server.AssertOutput("Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir).");
            }
            Assert.False(File.Exists(Path.Combine(dir, "appendonly.aof")));
            Assert.True(File.Exists(Path.Combine(dir, "appendonlydir", "appendonly.aof")));
            string manifest = File.ReadAllText(Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest"));
            Assert.Equal("file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n", manifest);
            // The migrated layout loads again, with the write made after the migration.
            using (var again = DirServer.Ours(dir, "--appendonly", "yes"))
            using (var c = again.Connect())
                Assert.Equal(new object?[] { "1", "2" }, c.Call("MGET", "a", "b"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AppendonlyTurnedOnInsideExecIsScheduled()
    {
        string dir = Directory.CreateTempSubdirectory("redoubt-aof-exec-").FullName;
        try
        {
            using var server = DirServer.Ours(dir);
            using var c = server.Connect();
            c.Call("MULTI");
            c.Call("SET", "foo", "bar");
            c.Call("CONFIG", "SET", "appendonly", "yes");
            Assert.Equal(new object?[] { "OK", "OK" }, c.Call("EXEC"));
            server.AssertOutput("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (!File.Exists(Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest")) && DateTime.UtcNow < deadline) Thread.Sleep(50);
            server.AssertOutput("Background AOF rewrite finished successfully");
            c.Call("SET", "after", "1");
            c.Call("DEBUG", "LOADAOF");
            Assert.Equal("bar", c.Call("GET", "foo"));
            Assert.Equal("1", c.Call("GET", "after"));
        }
        finally { Directory.Delete(dir, true); }
    }
}
