using System.Text;
using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>The set family over the wire: replies and error strings as Redis 7.0 gives them.</summary>
public sealed class SetCommandTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public SetCommandTests(SharedServer shared) => _server = shared.Server;

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;
    private const string WrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";

    private static string[] Strings(object? reply) => Assert.IsType<object?[]>(reply).Select(o => (string)o!).ToArray();
    private static string[] Sorted(object? reply) => Strings(reply).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void AddRemoveAndMembership()
    {
        using var c = _server.Connect();
        Assert.Equal(3L, c.Call("SADD", "s:a", "x", "y", "x", "z"));
        Assert.Equal(1L, c.Call("SADD", "s:a", "x", "w"));
        Assert.Equal(4L, c.Call("SCARD", "s:a"));
        Assert.Equal(0L, c.Call("SCARD", "s:none"));
        Assert.Equal(1L, c.Call("SISMEMBER", "s:a", "w"));
        Assert.Equal(0L, c.Call("SISMEMBER", "s:a", "v"));
        Assert.Equal(0L, c.Call("SISMEMBER", "s:none", "v"));
        Assert.Equal(new object?[] { 1L, 0L, 1L }, c.Call("SMISMEMBER", "s:a", "x", "nope", "z"));
        Assert.Equal(new object?[] { 0L, 0L }, c.Call("SMISMEMBER", "s:none", "x", "y"));
        Assert.Equal(["w", "x", "y", "z"], Sorted(c.Call("SMEMBERS", "s:a")));
        Assert.Empty(Strings(c.Call("SMEMBERS", "s:none")));
        Assert.Equal(2L, c.Call("SREM", "s:a", "x", "nope", "y", "x"));
        Assert.Equal(0L, c.Call("SREM", "s:none", "x"));
        Assert.Equal(2L, c.Call("SREM", "s:a", "w", "z", "never-reached"));
        Assert.Equal(0L, c.Call("EXISTS", "s:a"));

        // Integer sets iterate in ascending order, as an intset does; "01" and "+1" are not integers.
        Assert.Equal(4L, c.Call("SADD", "s:ints", "10", "-3", "7", "-9223372036854775808"));
        Assert.Equal(["-9223372036854775808", "-3", "7", "10"], Strings(c.Call("SMEMBERS", "s:ints")));
        Assert.Equal(0L, c.Call("SISMEMBER", "s:ints", "07"));
        Assert.Equal(0L, c.Call("SREM", "s:ints", "+7"));
        Assert.Equal(1L, c.Call("SADD", "s:ints", "07"));
        Assert.Equal(1L, c.Call("SISMEMBER", "s:ints", "7"));
        Assert.Equal(1L, c.Call("SISMEMBER", "s:ints", "07"));
    }

    [Fact]
    public void TypeErrors()
    {
        using var c = _server.Connect();
        c.Call("SET", "s:str", "x");
        c.Call("SADD", "s:set", "a");
        foreach (var cmd in new[]
        {
            new object[] { "SADD", "s:str", "m" }, new object[] { "SREM", "s:str", "m" }, new object[] { "SCARD", "s:str" },
            new object[] { "SISMEMBER", "s:str", "m" }, new object[] { "SMISMEMBER", "s:str", "m" }, new object[] { "SMEMBERS", "s:str" },
            new object[] { "SMOVE", "s:str", "s:set", "m" }, new object[] { "SMOVE", "s:set", "s:str", "a" },
            new object[] { "SINTER", "s:set", "s:str" }, new object[] { "SINTER", "s:none", "s:str" }, new object[] { "SUNION", "s:str" },
            new object[] { "SDIFF", "s:none", "s:str" }, new object[] { "SINTERSTORE", "s:dst", "s:set", "s:str" },
            new object[] { "SUNIONSTORE", "s:dst", "s:str" }, new object[] { "SDIFFSTORE", "s:dst", "s:set", "s:str" },
            new object[] { "SINTERCARD", "2", "s:set", "s:str" }, new object[] { "SPOP", "s:str" }, new object[] { "SPOP", "s:str", "1" },
            new object[] { "SRANDMEMBER", "s:str" }, new object[] { "SRANDMEMBER", "s:str", "2" }, new object[] { "SSCAN", "s:str", "0" },
        })
            Assert.Equal(WrongType, Err(c.Call(cmd)));
        Assert.Equal("x", c.Call("GET", "s:str"));
        Assert.Equal(1L, c.Call("SCARD", "s:set"));
        // A missing source answers 0 before the destination's type is looked at.
        Assert.Equal(0L, c.Call("SMOVE", "s:none", "s:str", "a"));
        // The STORE forms overwrite a destination of any type.
        Assert.Equal(1L, c.Call("SUNIONSTORE", "s:str", "s:set"));
        Assert.Equal(["a"], Strings(c.Call("SMEMBERS", "s:str")));
    }

    [Fact]
    public void MoveBetweenSets()
    {
        using var c = _server.Connect();
        c.Call("SADD", "s:src", "a", "b", "1");
        c.Call("SADD", "s:dst", "2");
        Assert.Equal(1L, c.Call("SMOVE", "s:src", "s:dst", "1"));
        Assert.Equal(0L, c.Call("SMOVE", "s:src", "s:dst", "1"));
        Assert.Equal(["1", "2"], Strings(c.Call("SMEMBERS", "s:dst")));
        Assert.Equal(1L, c.Call("SMOVE", "s:src", "s:dst", "a"));
        Assert.Equal(["1", "2", "a"], Sorted(c.Call("SMEMBERS", "s:dst")));
        Assert.Equal(1L, c.Call("SMOVE", "s:src", "s:src", "b"));
        Assert.Equal(0L, c.Call("SMOVE", "s:src", "s:src", "zz"));
        // Moving the last member deletes the source; a missing destination is created.
        Assert.Equal(1L, c.Call("SMOVE", "s:src", "s:new", "b"));
        Assert.Equal(0L, c.Call("EXISTS", "s:src"));
        Assert.Equal(["b"], Strings(c.Call("SMEMBERS", "s:new")));
        // A member the destination already has is still removed from the source.
        c.Call("SADD", "s:src", "b", "c");
        Assert.Equal(1L, c.Call("SMOVE", "s:src", "s:new", "b"));
        Assert.Equal(["c"], Strings(c.Call("SMEMBERS", "s:src")));
    }

    [Fact]
    public void SetAlgebra()
    {
        using var c = _server.Connect();
        c.Call("SADD", "s:x", "a", "b", "c", "1", "2");
        c.Call("SADD", "s:y", "b", "c", "d", "2");
        c.Call("SADD", "s:z", "3", "1", "2");
        Assert.Equal(["2", "b", "c"], Sorted(c.Call("SINTER", "s:x", "s:y")));
        Assert.Equal(["2"], Strings(c.Call("SINTER", "s:x", "s:y", "s:z")));
        Assert.Empty(Strings(c.Call("SINTER", "s:x", "s:none")));
        Assert.Equal(["1", "2", "a", "b", "c", "d"], Sorted(c.Call("SUNION", "s:x", "s:y", "s:none")));
        Assert.Equal(["1", "a"], Sorted(c.Call("SDIFF", "s:x", "s:y")));
        Assert.Equal(["a"], Sorted(c.Call("SDIFF", "s:x", "s:y", "s:z")));
        Assert.Empty(Strings(c.Call("SDIFF", "s:x", "s:x")));
        Assert.Empty(Strings(c.Call("SDIFF", "s:none", "s:x")));
        // An all-integer result is an intset, so it comes back sorted.
        Assert.Equal(["1", "2", "3"], Strings(c.Call("SUNION", "s:z", "s:none")));
        Assert.Equal(["1", "3"], Strings(c.Call("SDIFF", "s:z", "s:y")));

        Assert.Equal(3L, c.Call("SINTERSTORE", "s:dst", "s:x", "s:y"));
        Assert.Equal(["2", "b", "c"], Sorted(c.Call("SMEMBERS", "s:dst")));
        Assert.Equal(6L, c.Call("SUNIONSTORE", "s:dst", "s:x", "s:y"));
        Assert.Equal(2L, c.Call("SDIFFSTORE", "s:dst", "s:x", "s:y"));
        Assert.Equal(["1", "a"], Sorted(c.Call("SMEMBERS", "s:dst")));
        // The destination may be a source.
        Assert.Equal(1L, c.Call("SINTERSTORE", "s:dst", "s:dst", "s:z"));
        Assert.Equal(["1"], Strings(c.Call("SMEMBERS", "s:dst")));
        // An empty result deletes the destination.
        Assert.Equal(0L, c.Call("SINTERSTORE", "s:dst", "s:x", "s:none"));
        Assert.Equal(0L, c.Call("EXISTS", "s:dst"));
        c.Call("SADD", "s:dst", "q");
        Assert.Equal(0L, c.Call("SDIFFSTORE", "s:dst", "s:x", "s:x"));
        Assert.Equal(0L, c.Call("EXISTS", "s:dst"));

        Assert.Equal(3L, c.Call("SINTERCARD", "2", "s:x", "s:y"));
        Assert.Equal(2L, c.Call("SINTERCARD", "2", "s:x", "s:y", "LIMIT", "2"));
        Assert.Equal(3L, c.Call("SINTERCARD", "2", "s:x", "s:y", "limit", "0"));
        Assert.Equal(0L, c.Call("SINTERCARD", "2", "s:x", "s:none"));
        Assert.Equal("ERR numkeys should be greater than 0", Err(c.Call("SINTERCARD", "0", "s:x")));
        Assert.Equal("ERR numkeys should be greater than 0", Err(c.Call("SINTERCARD", "x", "s:x")));
        Assert.Equal("ERR Number of keys can't be greater than number of args", Err(c.Call("SINTERCARD", "3", "s:x", "s:y")));
        Assert.Equal("ERR LIMIT can't be negative", Err(c.Call("SINTERCARD", "1", "s:x", "LIMIT", "-1")));
        Assert.Equal("ERR LIMIT can't be negative", Err(c.Call("SINTERCARD", "1", "s:x", "LIMIT", "x")));
        Assert.Equal("ERR syntax error", Err(c.Call("SINTERCARD", "1", "s:x", "LIMIT")));
        Assert.Equal("ERR syntax error", Err(c.Call("SINTERCARD", "1", "s:x", "s:y")));
    }

    [Fact]
    public void PopAndRandomMember()
    {
        using var c = _server.Connect();
        Assert.Null(c.Call("SPOP", "s:none"));
        Assert.Null(c.Call("SRANDMEMBER", "s:none"));
        Assert.Empty(Strings(c.Call("SPOP", "s:none", "3")));
        Assert.Empty(Strings(c.Call("SRANDMEMBER", "s:none", "3")));
        c.Call("SADD", "s:p", "a", "b", "c", "d", "e");
        Assert.Empty(Strings(c.Call("SPOP", "s:p", "0")));
        Assert.Empty(Strings(c.Call("SRANDMEMBER", "s:p", "0")));
        Assert.Equal("ERR value is out of range, must be positive", Err(c.Call("SPOP", "s:p", "-1")));
        Assert.Equal("ERR value is out of range, must be positive", Err(c.Call("SPOP", "s:p", "x")));
        Assert.Equal("ERR syntax error", Err(c.Call("SPOP", "s:p", "1", "2")));
        Assert.Equal("ERR syntax error", Err(c.Call("SRANDMEMBER", "s:p", "1", "2")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("SRANDMEMBER", "s:p", "x")));
        Assert.Equal("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            Err(c.Call("SRANDMEMBER", "s:p", "-9223372036854775808")));

        Assert.Equal(["a", "b", "c", "d", "e"], Sorted(c.Call("SRANDMEMBER", "s:p", "10")));
        Assert.Equal(3, Strings(c.Call("SRANDMEMBER", "s:p", "3")).Distinct().Count());
        var repeats = Strings(c.Call("SRANDMEMBER", "s:p", "-50"));
        Assert.Equal(50, repeats.Length);
        Assert.All(repeats, m => Assert.Contains(m, new[] { "a", "b", "c", "d", "e" }));

        var popped = Strings(c.Call("SPOP", "s:p", "2")).ToList();
        Assert.Equal(2, popped.Distinct().Count());
        popped.Add((string)c.Call("SPOP", "s:p")!);
        Assert.Equal(2L, c.Call("SCARD", "s:p"));
        popped.AddRange(Strings(c.Call("SPOP", "s:p", "100")));
        Assert.Equal(["a", "b", "c", "d", "e"], popped.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(0L, c.Call("EXISTS", "s:p"));
    }

    [Fact]
    public void RandomMembersAreFairlyDistributed()
    {
        using var c = _server.Connect();
        foreach (var (key, members) in new[] { ("s:fair-int", Enumerable.Range(0, 10).Select(i => i.ToString())), ("s:fair-ht", Enumerable.Range(0, 10).Select(i => "m" + i)) })
        {
            var args = new List<object> { "SADD", key };
            args.AddRange(members);
            c.Call(args.ToArray());
            var counts = new Dictionary<string, int>();
            foreach (var m in Strings(c.Call("SRANDMEMBER", key, "-20000"))) counts[m] = counts.GetValueOrDefault(m) + 1;
            Assert.Equal(10, counts.Count);
            Assert.All(counts.Values, n => Assert.InRange(n, 1600, 2400));
            // Unique picks of 3 (elimination) and of 2 out of 10 (draws) are both fair too.
            var hits = new Dictionary<string, int>();
            for (int i = 0; i < 300; i++)
                foreach (var m in Strings(c.Call("SRANDMEMBER", key, i % 2 == 0 ? "4" : "2"))) hits[m] = hits.GetValueOrDefault(m) + 1;
            Assert.Equal(10, hits.Count);
            Assert.All(hits.Values, n => Assert.InRange(n, 50, 130));
        }
    }

    [Fact]
    public void ScanIntsetAndTable()
    {
        using var c = _server.Connect();
        c.Call("SADD", "s:scan", "3", "1", "2", "11");
        var reply = Assert.IsType<object?[]>(c.Call("SSCAN", "s:scan", "0", "MATCH", "1*", "COUNT", "1"));
        Assert.Equal("0", reply[0]);
        Assert.Equal(["1", "11"], Strings(reply[1]));
        Assert.Equal(new object?[] { "0", Array.Empty<object?>() }, c.Call("SSCAN", "s:none", "0"));
        Assert.Equal("ERR invalid cursor", Err(c.Call("SSCAN", "s:scan", "abc")));
        Assert.Equal("ERR syntax error", Err(c.Call("SSCAN", "s:scan", "0", "COUNT", "-1")));

        var args = new List<object> { "SADD", "s:bigscan" };
        for (int i = 0; i < 2000; i++) args.Add("m" + i);
        c.Call(args.ToArray());
        var seen = new HashSet<string>();
        string cursor = "0";
        do
        {
            reply = Assert.IsType<object?[]>(c.Call("SSCAN", "s:bigscan", cursor));
            cursor = (string)reply[0]!;
            foreach (var m in Strings(reply[1])) seen.Add(m);
            // Members added during the scan may or may not come back; the original ones must.
            c.Call("SADD", "s:bigscan", "extra" + seen.Count);
        } while (cursor != "0");
        for (int i = 0; i < 2000; i++) Assert.Contains("m" + i, seen);
    }

    [Fact]
    public void Resp3RepliesAreSets()
    {
        using var c = _server.Connect();
        c.Call("SADD", "s:r3", "1", "2");
        Assert.Equal("~2\r\n$1\r\n1\r\n$1\r\n2\r\n~0\r\n~0\r\n~0\r\n*0\r\n_\r\n~2\r\n$1\r\n1\r\n$1\r\n2\r\n",
            HashCommandTests.RawExchange(_server.Port, ["SMEMBERS", "s:r3"], ["SMEMBERS", "s:none"], ["SINTER", "s:r3", "s:none"],
                ["SPOP", "s:none", "2"], ["SRANDMEMBER", "s:none", "2"], ["SPOP", "s:none"], ["SUNION", "s:r3"]));
    }
}

/// <summary>What set commands do behind their replies: encodings, notifications, dirty counts, TTLs.</summary>
public sealed class SetSideEffectTests : IDisposable
{
    private readonly StringTestHost _h = new();
    public void Dispose() => _h.Dispose();

    private string? EncodingOf(string key)
    {
        lock (_h.Server.Sync) return (_h.Db.Peek(Encoding.Latin1.GetBytes(key)) as RedisObject)?.Encoding;
    }

    private void SetTtl(string key, long when)
    {
        lock (_h.Server.Sync) _h.Db.SetExpire(_h.Db.FindLive(Encoding.Latin1.GetBytes(key)), when);
    }

    [Fact]
    public void IntsetBecomesHashtable()
    {
        for (int i = 0; i < 512; i++) _h.Call("SADD", "ints", i.ToString());
        Assert.Equal("intset", EncodingOf("ints"));
        _h.Call("SADD", "ints", "512");
        Assert.Equal("hashtable", EncodingOf("ints"));
        _h.Call("SADD", "mixed", "1", "2");
        Assert.Equal("intset", EncodingOf("mixed"));
        _h.Call("SADD", "mixed", "a");
        Assert.Equal("hashtable", EncodingOf("mixed"));
        _h.Call("SADD", "str", "a");
        Assert.Equal("hashtable", EncodingOf("str"));
        // Wide integers still fit an intset.
        _h.Call("SADD", "wide", "1", "70000", "5000000000", "-5000000000");
        Assert.Equal("intset", EncodingOf("wide"));
        Assert.Equal(new object?[] { "-5000000000", "1", "70000", "5000000000" }, _h.Call("SMEMBERS", "wide"));

        _h.Server.Config.SetMaxIntsetEntries = 0;
        _h.Call("SADD", "zero", "1");
        Assert.Equal("hashtable", EncodingOf("zero"));
    }

    [Fact]
    public void ComputedSetsGetTheirOwnEncoding()
    {
        _h.Call("SADD", "a", "1", "2", "3", "x");
        _h.Call("SADD", "b", "x", "y");
        Assert.Equal(3L, _h.Call("SDIFFSTORE", "d", "a", "b"));
        Assert.Equal("intset", EncodingOf("d"));
        Assert.Equal(1L, _h.Call("SINTERSTORE", "i", "a", "b"));
        Assert.Equal("hashtable", EncodingOf("i"));
        // SPOP keeping few survivors rebuilds the set, which may become an intset again.
        var args = new List<object> { "SADD", "big", "x" };
        for (int i = 0; i < 100; i++) args.Add(i.ToString());
        _h.Call(args.ToArray());
        Assert.Equal("hashtable", EncodingOf("big"));
        while ((long)_h.Call("SISMEMBER", "big", "x")! == 1)
        {
            _h.Call("DEL", "big");
            _h.Call(args.ToArray());
            _h.Call("SPOP", "big", "99");
        }
        Assert.Equal(2L, _h.Call("SCARD", "big"));
        Assert.Equal("intset", EncodingOf("big"));
    }

    [Fact]
    public void NotificationsAndDirty()
    {
        long d = _h.Dirty;
        _h.Call("SADD", "k", "a", "b", "c");
        _h.Call("SADD", "k", "a");
        _h.Call("SREM", "k", "zz");
        _h.Call("SREM", "k", "a");
        _h.Call("SMOVE", "k", "k2", "b");
        _h.Call("SMOVE", "k", "k2", "c");
        Assert.Equal(["sadd:k", "srem:k", "srem:k", "sadd:k2", "srem:k", "del:k", "sadd:k2"], _h.TakeEvents());
        Assert.Equal(d + 3 + 1 + 2 + 2, _h.Dirty);

        d = _h.Dirty;
        _h.Call("SADD", "k", "c");
        _h.Call("SMOVE", "k", "k2", "c");
        Assert.Equal(["sadd:k", "srem:k", "del:k"], _h.TakeEvents());
        Assert.Equal(d + 2, _h.Dirty);

        d = _h.Dirty;
        _h.Call("SPOP", "k2");
        _h.Call("SPOP", "k2", "5");
        Assert.Equal(["spop:k2", "spop:k2", "del:k2"], _h.TakeEvents());
        Assert.Equal(d + 2, _h.Dirty);

        _h.Call("SADD", "x", "1", "2");
        _h.Call("SADD", "y", "2", "3");
        _h.TakeEvents();
        d = _h.Dirty;
        _h.Call("SINTERSTORE", "dst", "x", "y");
        _h.Call("SUNIONSTORE", "dst", "x", "y");
        _h.Call("SDIFFSTORE", "dst", "x", "y");
        _h.Call("SDIFFSTORE", "dst", "x", "x");
        _h.Call("SINTERSTORE", "dst", "x", "none");
        _h.Call("SINTERSTORE", "dst", "x", "none");
        Assert.Equal(["sinterstore:dst", "sunionstore:dst", "sdiffstore:dst", "del:dst"], _h.TakeEvents());
        Assert.Equal(d + 4, _h.Dirty);
    }

    [Fact]
    public void TtlKeptByEditsAndDroppedByStores()
    {
        long when = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 100_000;
        _h.Call("SADD", "t", "a", "b", "c", "d", "e", "f");
        SetTtl("t", when);
        _h.Call("SADD", "t", "g");
        _h.Call("SREM", "t", "a");
        _h.Call("SPOP", "t");
        _h.Call("SPOP", "t", "3");
        Assert.Equal(when, _h.ExpireOf("t"));
        _h.Call("SADD", "dst", "z");
        SetTtl("dst", when);
        _h.Call("SUNIONSTORE", "dst", "t");
        Assert.Equal(-1, _h.ExpireOf("dst"));
    }
}

/// <summary>The intset: widths, order and removal.</summary>
public sealed class IntSetTests
{
    [Fact]
    public void KeepsOrderAcrossWidths()
    {
        var set = new IntSet();
        var expected = new SortedSet<long>();
        var rng = new Random(3);
        for (int i = 0; i < 2000; i++)
        {
            long v = (rng.Next(4)) switch
            {
                0 => rng.Next(-100, 100),
                1 => rng.Next(short.MinValue, short.MaxValue),
                2 => rng.Next(),
                _ => rng.NextInt64(long.MinValue, long.MaxValue),
            };
            Assert.Equal(expected.Add(v), set.Add(v));
            if (i % 3 == 0)
            {
                long r = expected.ElementAt(rng.Next(expected.Count));
                Assert.True(set.Remove(r));
                expected.Remove(r);
                Assert.False(set.Remove(r));
            }
        }
        Assert.Equal(expected.Count, set.Count);
        Assert.Equal(expected.ToArray(), Enumerable.Range(0, set.Count).Select(set.Get).ToArray());
        Assert.All(expected, v => Assert.True(set.Contains(v)));
        foreach (long absent in new[] { 12345L, -7L, long.MaxValue, long.MinValue })
            Assert.Equal(expected.Contains(absent), set.Contains(absent));
    }
}
