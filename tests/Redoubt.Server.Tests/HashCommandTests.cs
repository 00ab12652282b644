using System.Text;
using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>The hash family over the wire: replies and error strings as Redis 7.0 gives them.</summary>
public sealed class HashCommandTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public HashCommandTests(SharedServer shared) => _server = shared.Server;

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;
    private const string WrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";

    private static string[] Strings(object? reply) => Assert.IsType<object?[]>(reply).Select(o => (string)o!).ToArray();
    private static string[] Sorted(object? reply) => Strings(reply).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void SetGetAndDelete()
    {
        using var c = _server.Connect();
        Assert.Equal(2L, c.Call("HSET", "h:basic", "a", "1", "b", "2"));
        Assert.Equal(1L, c.Call("HSET", "h:basic", "a", "10", "c", "3"));
        Assert.Equal("OK", c.Call("HMSET", "h:basic", "d", "4"));
        Assert.Equal("10", c.Call("HGET", "h:basic", "a"));
        Assert.Null(c.Call("HGET", "h:basic", "zz"));
        Assert.Null(c.Call("HGET", "h:none", "a"));
        Assert.Equal(new object?[] { "10", null, "3" }, c.Call("HMGET", "h:basic", "a", "zz", "c"));
        Assert.Equal(new object?[] { null, null }, c.Call("HMGET", "h:none", "a", "b"));
        Assert.Equal(4L, c.Call("HLEN", "h:basic"));
        Assert.Equal(0L, c.Call("HLEN", "h:none"));
        Assert.Equal(2L, c.Call("HSTRLEN", "h:basic", "a"));
        Assert.Equal(0L, c.Call("HSTRLEN", "h:basic", "zz"));
        Assert.Equal(1L, c.Call("HEXISTS", "h:basic", "b"));
        Assert.Equal(0L, c.Call("HEXISTS", "h:basic", "zz"));
        Assert.Equal(0L, c.Call("HEXISTS", "h:none", "b"));
        // A small hash keeps insertion order, as a listpack does.
        Assert.Equal(["a", "b", "c", "d"], Strings(c.Call("HKEYS", "h:basic")));
        Assert.Equal(["10", "2", "3", "4"], Strings(c.Call("HVALS", "h:basic")));
        Assert.Equal(["a", "10", "b", "2", "c", "3", "d", "4"], Strings(c.Call("HGETALL", "h:basic")));
        Assert.Equal(0L, c.Call("HSETNX", "h:basic", "a", "x"));
        Assert.Equal(1L, c.Call("HSETNX", "h:basic", "e", "5"));
        Assert.Equal(2L, c.Call("HDEL", "h:basic", "a", "zz", "b", "a"));
        Assert.Equal(0L, c.Call("HDEL", "h:none", "a"));
        Assert.Equal(3L, c.Call("HDEL", "h:basic", "c", "d", "e", "never-reached"));
        Assert.Equal(0L, c.Call("EXISTS", "h:basic"));
        Assert.Empty(Strings(c.Call("HGETALL", "h:none")));
        Assert.Empty(Strings(c.Call("HKEYS", "h:none")));

        var binary = new byte[] { 0, 255, 13, 10 };
        Assert.Equal(1L, c.Call("HSET", "h:bin", binary, binary));
        Assert.Equal(Encoding.Latin1.GetString(binary), c.Call("HGET", "h:bin", binary));
        Assert.Equal(1L, c.Call("HSET", "h:bin", "", ""));
        Assert.Equal("", c.Call("HGET", "h:bin", ""));
    }

    [Fact]
    public void ArityAndTypeErrors()
    {
        using var c = _server.Connect();
        Assert.Equal("ERR wrong number of arguments for 'hset' command", Err(c.Call("HSET", "h:ar", "f")));
        Assert.Equal("ERR wrong number of arguments for 'hset' command", Err(c.Call("HSET", "h:ar", "f", "v", "g")));
        Assert.Equal("ERR wrong number of arguments for 'hmset' command", Err(c.Call("HMSET", "h:ar", "f", "v", "g")));
        Assert.Equal(0L, c.Call("EXISTS", "h:ar"));
        c.Call("SET", "h:str", "x");
        foreach (var cmd in new[]
        {
            new object[] { "HSET", "h:str", "f", "v" }, new object[] { "HSETNX", "h:str", "f", "v" }, new object[] { "HGET", "h:str", "f" },
            new object[] { "HMGET", "h:str", "f" }, new object[] { "HDEL", "h:str", "f" }, new object[] { "HLEN", "h:str" },
            new object[] { "HSTRLEN", "h:str", "f" }, new object[] { "HEXISTS", "h:str", "f" }, new object[] { "HKEYS", "h:str" },
            new object[] { "HVALS", "h:str" }, new object[] { "HGETALL", "h:str" }, new object[] { "HINCRBY", "h:str", "f", "1" },
            new object[] { "HINCRBYFLOAT", "h:str", "f", "1" }, new object[] { "HRANDFIELD", "h:str" },
            new object[] { "HRANDFIELD", "h:str", "2", "WITHVALUES" }, new object[] { "HSCAN", "h:str", "0" },
            new object[] { "HSCAN", "h:str", "0", "COUNT", "0" }, new object[] { "HMSET", "h:str", "f", "v" },
        })
            Assert.Equal(WrongType, Err(c.Call(cmd)));
        Assert.Equal("x", c.Call("GET", "h:str"));
    }

    [Fact]
    public void IncrementsFollowRedisRules()
    {
        using var c = _server.Connect();
        Assert.Equal(5L, c.Call("HINCRBY", "h:inc", "n", "5"));
        Assert.Equal(-3L, c.Call("HINCRBY", "h:inc", "n", "-8"));
        Assert.Equal("-3", c.Call("HGET", "h:inc", "n"));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("HINCRBY", "h:inc", "n", "1.5")));
        c.Call("HSET", "h:inc", "s", "abc", "big", "9223372036854775807", "lead", "01", "f", "1.5");
        Assert.Equal("ERR hash value is not an integer", Err(c.Call("HINCRBY", "h:inc", "s", "1")));
        Assert.Equal("ERR hash value is not an integer", Err(c.Call("HINCRBY", "h:inc", "lead", "1")));
        Assert.Equal("ERR increment or decrement would overflow", Err(c.Call("HINCRBY", "h:inc", "big", "1")));
        Assert.Equal(-9223372036854775807L, c.Call("HINCRBY", "h:inc", "neg", "-9223372036854775807"));
        Assert.Equal(long.MinValue, c.Call("HINCRBY", "h:inc", "neg", "-1"));
        Assert.Equal("ERR increment or decrement would overflow", Err(c.Call("HINCRBY", "h:inc", "neg", "-1")));

        Assert.Equal("2.5", c.Call("HINCRBYFLOAT", "h:inc", "f", "1"));
        Assert.Equal("0.1", c.Call("HINCRBYFLOAT", "h:flt", "x", "0.1"));
        Assert.Equal("0.3", c.Call("HINCRBYFLOAT", "h:flt", "x", "0.2"));
        Assert.Equal("5000", c.Call("HINCRBYFLOAT", "h:flt", "e", "5.0e3"));
        Assert.Equal("-3.5", c.Call("HINCRBYFLOAT", "h:inc", "n", "-0.5"));
        Assert.Equal("ERR value is not a valid float", Err(c.Call("HINCRBYFLOAT", "h:inc", "f", "x")));
        Assert.Equal("ERR value is not a valid float", Err(c.Call("HINCRBYFLOAT", "h:inc", "f", "1e5000")));
        Assert.Equal("ERR value is NaN or Infinity", Err(c.Call("HINCRBYFLOAT", "h:inc", "f", "inf")));
        Assert.Equal("ERR hash value is not a float", Err(c.Call("HINCRBYFLOAT", "h:inc", "s", "1")));
        c.Call("HSET", "h:inc", "huge", "1e4932");
        Assert.Equal("ERR increment would produce NaN or Infinity", Err(c.Call("HINCRBYFLOAT", "h:inc", "huge", "1e4932")));
        // A failed increment creates nothing.
        Assert.Equal("ERR value is NaN or Infinity", Err(c.Call("HINCRBYFLOAT", "h:newf", "f", "-inf")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("HINCRBY", "h:newi", "f", "x")));
        Assert.Equal(0L, c.Call("EXISTS", "h:newf", "h:newi"));
    }

    [Fact]
    public void RandomFieldArgumentsAndShapes()
    {
        using var c = _server.Connect();
        c.Call("HSET", "h:rnd", "a", "1", "b", "2", "c", "3");
        Assert.Contains((string)c.Call("HRANDFIELD", "h:rnd")!, new[] { "a", "b", "c" });
        Assert.Null(c.Call("HRANDFIELD", "h:none"));
        Assert.Empty(Strings(c.Call("HRANDFIELD", "h:none", "5")));
        Assert.Empty(Strings(c.Call("HRANDFIELD", "h:rnd", "0")));
        Assert.Equal(["a", "b", "c"], Sorted(c.Call("HRANDFIELD", "h:rnd", "10")));
        Assert.Equal(["1", "2", "3", "a", "b", "c"], Sorted(c.Call("HRANDFIELD", "h:rnd", "3", "withvalues")));
        Assert.Equal(2, Strings(c.Call("HRANDFIELD", "h:rnd", "2")).Distinct().Count());
        var repeats = Strings(c.Call("HRANDFIELD", "h:rnd", "-20", "WITHVALUES"));
        Assert.Equal(40, repeats.Length);
        for (int i = 0; i < repeats.Length; i += 2) Assert.Equal(repeats[i][0] - 'a' + 1, int.Parse(repeats[i + 1]));

        Assert.Equal("ERR syntax error", Err(c.Call("HRANDFIELD", "h:rnd", "2", "bad")));
        Assert.Equal("ERR syntax error", Err(c.Call("HRANDFIELD", "h:rnd", "2", "withvalues", "x")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("HRANDFIELD", "h:rnd", "x")));
        Assert.Equal("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            Err(c.Call("HRANDFIELD", "h:rnd", "-9223372036854775808")));
        Assert.Equal("ERR value is out of range", Err(c.Call("HRANDFIELD", "h:rnd", "-9223372036854770000", "withvalues")));
        // Arguments are checked before the key: a bad count on a missing key is still an error.
        Assert.Equal("ERR syntax error", Err(c.Call("HRANDFIELD", "h:none", "1", "bad")));

        // RESP3: a map for HGETALL, and [field, value] pairs for HRANDFIELD WITHVALUES.
        c.Call("HELLO", "3");
        var pairs = Assert.IsType<object?[]>(c.Call("HRANDFIELD", "h:rnd", "-4", "WITHVALUES"));
        Assert.Equal(4, pairs.Length);
        Assert.All(pairs, p => Assert.Equal(2, Assert.IsType<object?[]>(p).Length));
        Assert.Equal(3, Assert.IsType<object?[]>(c.Call("HRANDFIELD", "h:rnd", "5", "WITHVALUES")).Length);
        Assert.Equal(3, Assert.IsType<object?[]>(c.Call("HRANDFIELD", "h:rnd", "-3")).Length);
    }

    [Fact]
    public void Resp3RepliesAreMapsAndNulls()
    {
        using var c = _server.Connect();
        c.Call("HSET", "h:r3", "a", "1");
        Assert.Equal("%1\r\n$1\r\na\r\n$1\r\n1\r\n%0\r\n_\r\n*0\r\n*0\r\n",
            RawExchange(_server.Port, ["HGETALL", "h:r3"], ["HGETALL", "h:none"], ["HGET", "h:r3", "zz"], ["HRANDFIELD", "h:none", "3"], ["HKEYS", "h:none"]));
    }

    /// <summary>Sends commands after HELLO 3 on a fresh connection and returns the raw bytes of their replies.</summary>
    internal static string RawExchange(int port, params string[][] commands)
    {
        using var tcp = new System.Net.Sockets.TcpClient("127.0.0.1", port);
        var stream = tcp.GetStream();
        stream.ReadTimeout = 5000;
        var hello = RespClient.Encode("HELLO", "3");
        stream.Write(hello);
        var buf = new byte[64 * 1024];
        // HELLO's reply is a map whose last element is "modules" followed by an empty array.
        string helloReply = "";
        while (!helloReply.EndsWith("modules\r\n*0\r\n", StringComparison.Ordinal)) helloReply += Encoding.Latin1.GetString(buf, 0, stream.Read(buf));
        var sent = new MemoryStream();
        foreach (var cmd in commands) sent.Write(RespClient.Encode(cmd));
        sent.Write(RespClient.Encode("PING", "end-of-replies"));
        stream.Write(sent.ToArray());
        const string end = "$14\r\nend-of-replies\r\n";
        string text = "";
        while (!text.EndsWith(end, StringComparison.Ordinal)) text += Encoding.Latin1.GetString(buf, 0, stream.Read(buf));
        return text[..^end.Length];
    }

    [Fact]
    public void ScanSmallAndLargeHashes()
    {
        using var c = _server.Connect();
        c.Call("HSET", "h:scan", "a", "1", "b", "2", "ab", "3");
        var reply = Assert.IsType<object?[]>(c.Call("HSCAN", "h:scan", "0", "COUNT", "1"));
        Assert.Equal("0", reply[0]);
        Assert.Equal(["a", "1", "b", "2", "ab", "3"], Strings(reply[1]));
        reply = Assert.IsType<object?[]>(c.Call("HSCAN", "h:scan", "0", "MATCH", "a*"));
        Assert.Equal(["a", "1", "ab", "3"], Strings(reply[1]));
        Assert.Equal(new object?[] { "0", Array.Empty<object?>() }, c.Call("HSCAN", "h:none", "0"));
        // The cursor is checked before the key, the options after it.
        Assert.Equal("ERR invalid cursor", Err(c.Call("HSCAN", "h:none", "x")));
        Assert.Equal(new object?[] { "0", Array.Empty<object?>() }, c.Call("HSCAN", "h:none", "0", "COUNT", "0"));
        Assert.Equal("ERR syntax error", Err(c.Call("HSCAN", "h:scan", "0", "COUNT", "0")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("HSCAN", "h:scan", "0", "COUNT", "x")));
        Assert.Equal("ERR syntax error", Err(c.Call("HSCAN", "h:scan", "0", "MATCH")));
        Assert.Equal("ERR syntax error", Err(c.Call("HSCAN", "h:scan", "0", "TYPE", "hash")));
        foreach (var bad in new[] { " 0", "0 ", "1x", "-", "18446744073709551616" })
            Assert.Equal("ERR invalid cursor", Err(c.Call("HSCAN", "h:scan", bad)));
        foreach (var ok in new[] { "", "+0", "-0", "18446744073709551615", "-1" })
            Assert.IsType<object?[]>(c.Call("HSCAN", "h:scan", ok));

        // A hash table: iterate to completion with a small COUNT; every field comes back with its value.
        var args = new List<object> { "HSET", "h:bigscan" };
        for (int i = 0; i < 1000; i++) args.AddRange([$"f{i}", $"v{i}"]);
        c.Call(args.ToArray());
        var seen = new Dictionary<string, string>();
        string cursor = "0";
        int calls = 0;
        do
        {
            reply = Assert.IsType<object?[]>(c.Call("HSCAN", "h:bigscan", cursor, "COUNT", "50", "MATCH", "f1*"));
            cursor = (string)reply[0]!;
            var items = Strings(reply[1]);
            for (int i = 0; i < items.Length; i += 2) seen[items[i]] = items[i + 1];
            calls++;
        } while (cursor != "0");
        Assert.True(calls > 1);
        Assert.Equal(111, seen.Count);
        Assert.All(seen, kv => Assert.Equal("v" + kv.Key[1..], kv.Value));
    }
}

/// <summary>What hash commands do behind their replies: encodings, notifications, dirty counts, TTLs, deletion.</summary>
public sealed class HashSideEffectTests : IDisposable
{
    private readonly StringTestHost _h = new();
    public void Dispose() => _h.Dispose();

    private string? EncodingOf(string key)
    {
        lock (_h.Server.Sync) return (_h.Db.Peek(Encoding.Latin1.GetBytes(key)) as RedisObject)?.Encoding;
    }

    [Fact]
    public void ListpackBecomesHashtableAtTheLimits()
    {
        for (int i = 0; i < 512; i++) _h.Call("HSET", "many", $"f{i}", "v");
        Assert.Equal("listpack", EncodingOf("many"));
        _h.Call("HSET", "many", "f511", "updated");
        Assert.Equal("listpack", EncodingOf("many"));
        _h.Call("HSET", "many", "one-more", "v");
        Assert.Equal("hashtable", EncodingOf("many"));
        Assert.Equal(513L, _h.Call("HLEN", "many"));
        Assert.Equal("updated", _h.Call("HGET", "many", "f511"));
        // Shrinking does not go back.
        for (int i = 0; i < 510; i++) _h.Call("HDEL", "many", $"f{i}");
        Assert.Equal("hashtable", EncodingOf("many"));
        Assert.Equal(3L, _h.Call("HLEN", "many"));

        _h.Call("HSET", "long", "f", new string('x', 64));
        Assert.Equal("listpack", EncodingOf("long"));
        _h.Call("HSET", "long", "g", new string('x', 65));
        Assert.Equal("hashtable", EncodingOf("long"));
        _h.Call("HSET", "longfield", new string('k', 65), "v");
        Assert.Equal("hashtable", EncodingOf("longfield"));
        // HSETNX of an existing field changes nothing, even with a long value.
        _h.Call("HSET", "nx", "f", "v");
        _h.Call("HSETNX", "nx", "f", new string('x', 100));
        Assert.Equal("listpack", EncodingOf("nx"));
        _h.Call("HSETNX", "nx", "g", new string('x', 100));
        Assert.Equal("hashtable", EncodingOf("nx"));
    }

    [Fact]
    public void LimitsAreReadOnEveryWrite()
    {
        _h.Server.Config.HashMaxListpackEntries = 2;
        _h.Server.Config.HashMaxListpackValue = 4;
        _h.Call("HSET", "a", "1", "1", "2", "2");
        Assert.Equal("listpack", EncodingOf("a"));
        _h.Call("HSET", "a", "3", "3");
        Assert.Equal("hashtable", EncodingOf("a"));
        _h.Call("HSET", "b", "f", "1234");
        _h.Call("HINCRBYFLOAT", "b", "f", "0.5");
        Assert.Equal("hashtable", EncodingOf("b"));
        Assert.Equal("1234.5", _h.Call("HGET", "b", "f"));
        _h.Server.Config.HashMaxListpackEntries = 0;
        _h.Call("HSET", "c", "f", "v");
        Assert.Equal("hashtable", EncodingOf("c"));
    }

    [Fact]
    public void NotificationsAndDirty()
    {
        long d = _h.Dirty;
        _h.Call("HSET", "k", "a", "1", "b", "2");
        _h.Call("HSET", "k", "a", "1");
        _h.Call("HSETNX", "k", "a", "9");
        _h.Call("HSETNX", "k", "c", "3");
        _h.Call("HINCRBY", "k", "n", "1");
        _h.Call("HINCRBYFLOAT", "k", "n", "1.5");
        _h.Call("HDEL", "k", "zz");
        _h.Call("HDEL", "k", "a", "b");
        _h.Call("HDEL", "k", "c", "n");
        _h.Call("HINCRBY", "k", "x", "nope");
        Assert.Equal(["hset:k", "hset:k", "hset:k", "hincrby:k", "hincrbyfloat:k", "hdel:k", "hdel:k", "del:k"], _h.TakeEvents());
        // HSET counts every pair it was given, HDEL every field removed.
        Assert.Equal(d + 2 + 1 + 1 + 1 + 1 + 2 + 2, _h.Dirty);
        Assert.Null(_h.Call("HGET", "k", "a"));
        Assert.Equal(-2, _h.ExpireOf("k"));
    }

    [Fact]
    public void WritesKeepTheTtl()
    {
        _h.Call("HSET", "t", "a", "1");
        long when = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 100_000;
        lock (_h.Server.Sync) _h.Db.SetExpire(_h.Db.FindLive("t"u8), when);
        _h.Call("HSET", "t", "b", "2");
        _h.Call("HINCRBY", "t", "c", "2");
        _h.Call("HDEL", "t", "a");
        Assert.Equal(when, _h.ExpireOf("t"));
    }
}

/// <summary>The storage behind hashes: the packed form and the table's scan guarantee.</summary>
public sealed class HashStorageTests
{
    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void EntryPackEditsInPlace()
    {
        var pack = new EntryPack();
        pack.Append(B("f1"));
        pack.Append(B("v1"));
        pack.Append(B("f2"));
        pack.Append(new byte[300]);
        pack.Append(B("f3"));
        pack.Append(B("f1"));
        Assert.Equal(6, pack.Count);
        // Stride 2 only matches fields: "f1" at entry 5 is a value.
        Assert.Equal(0, pack.Find(B("f1"), 2));
        Assert.Equal(-1, pack.Find(B("v1"), 2));
        Assert.True(pack.Find(B("v1"), 1) > 0);
        int f2 = pack.Find(B("f2"), 2);
        pack.Read(f2, out int big);
        pack.Replace(big, B("short"));
        Assert.Equal("short", Encoding.ASCII.GetString(pack.Read(big, out int next)));
        Assert.Equal("f3", Encoding.ASCII.GetString(pack.Read(next, out _)));
        pack.Replace(big, new byte[200]);
        Assert.Equal(200, pack.Read(big, out _).Length);
        pack.Remove(0, 2);
        Assert.Equal(4, pack.Count);
        Assert.Equal("f2", Encoding.ASCII.GetString(pack.Read(0, out _)));
        var copy = pack.Clone();
        pack.Remove(0, 4);
        Assert.Equal(0, pack.Count);
        Assert.Equal(4, copy.Count);
    }

    [Fact]
    public void TableScanReturnsEveryElementAcrossResizes()
    {
        var table = new FieldTable(withValues: false);
        for (int i = 0; i < 5000; i++) table.TryAdd(B($"m{i}"));
        var seen = new HashSet<string>();
        var slots = new List<int>();
        ulong cursor = 0;
        int step = 0;
        do
        {
            slots.Clear();
            cursor = table.Scan(cursor, slots);
            foreach (int s in slots) seen.Add(Encoding.ASCII.GetString(table.KeyAt(s)));
            // Grow and shrink the table while scanning: elements present throughout must still come back.
            if (++step == 100) for (int i = 5000; i < 20000; i++) table.TryAdd(B($"m{i}"));
            if (step == 2000) for (int i = 5000; i < 20000; i++) table.Remove(B($"m{i}"));
            if (step == 3000) for (int i = 2500; i < 5000; i++) table.Remove(B($"m{i}"));
        } while (cursor != 0);
        for (int i = 0; i < 2500; i++) Assert.Contains($"m{i}", seen);
        Assert.Equal(2500, table.Count);
    }

    [Fact]
    public void ByteArrayComparerFindsBySpan()
    {
        var set = new HashSet<byte[]>(ByteArrayComparer.Instance) { B("alpha"), B("beta") };
        Assert.Contains(B("alpha"), set);
        Assert.False(set.Add(B("beta")));
        var lookup = set.GetAlternateLookup<ReadOnlySpan<byte>>();
        Assert.True(lookup.Contains("alpha"u8));
        Assert.False(lookup.Contains("gamma"u8));
        Assert.True(lookup.Add("gamma"u8));
        Assert.Equal(3, set.Count);
        Assert.Equal(ByteArrayComparer.Instance.GetHashCode(B("gamma")), ByteArrayComparer.Instance.GetHashCode("gamma"u8));
        Assert.True(ByteArrayComparer.Instance.Equals(B(""), Array.Empty<byte>()));
        Assert.False(ByteArrayComparer.Instance.Equals(B("a"), null));
    }

    [Fact]
    public void TableRandomSlotsAreUniform()
    {
        var table = new FieldTable(withValues: true);
        for (int i = 0; i < 10; i++) table.Set(B($"k{i}"), B($"v{i}"));
        // Leave holes, as deletions do.
        for (int i = 0; i < 10; i += 3) table.Remove(B($"k{i}"));
        var counts = new Dictionary<string, int>();
        var rng = new Random(1);
        for (int i = 0; i < 60000; i++)
        {
            var key = Encoding.ASCII.GetString(table.KeyAt(table.RandomSlot(rng)));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        Assert.Equal(6, counts.Count);
        Assert.All(counts.Values, n => Assert.InRange(n, 9000, 11000));
    }
}
