using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

public sealed class SortedSetServer : IDisposable
{
    public ServerProcess Server { get; } = new();
    public void Dispose() => Server.Dispose();
}

/// <summary>
/// The sorted set family over the wire (RESP2 and RESP3 reply shapes, Redis 7.0's errors) and in
/// process (keyspace events, the dirty counter, key deletion and replacement).
/// </summary>
public sealed class SortedSetCommandTests : IClassFixture<SortedSetServer>
{
    private readonly ServerProcess _server;
    public SortedSetCommandTests(SortedSetServer shared) => _server = shared.Server;

    /// <summary>A connection on its own database, emptied first.</summary>
    private RespClient Db(int db, int protocol = 2)
    {
        var c = _server.Connect();
        if (protocol == 3) Assert.IsType<object?[]>(c.Call("HELLO", "3"));
        Assert.Equal("OK", c.Call("SELECT", db));
        Assert.Equal("OK", c.Call("FLUSHDB"));
        return c;
    }

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    private static string[] Strings(object? reply) => Assert.IsType<object?[]>(reply).Select(o => o?.ToString() ?? "(nil)").ToArray();

    private const string WrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";

    [Fact]
    public void ZaddOptionsAndReplies()
    {
        using var c = Db(1);
        Assert.Equal(3L, c.Call("ZADD", "z", "1", "a", "2", "b", "3", "c"));
        Assert.Equal(0L, c.Call("ZADD", "z", "NX", "10", "a"));
        Assert.Equal(0L, c.Call("ZADD", "z", "XX", "10", "new"));
        Assert.Equal(1L, c.Call("ZADD", "z", "XX", "CH", "10", "a", "20", "new"));
        Assert.Equal(0L, c.Call("ZADD", "z", "GT", "CH", "5", "a"));
        Assert.Equal(1L, c.Call("ZADD", "z", "LT", "CH", "5", "a", "3", "c"));
        Assert.Equal("5", c.Call("ZSCORE", "z", "a"));
        Assert.Equal("7.5", c.Call("ZADD", "z", "INCR", "2.5", "a"));
        Assert.Null(c.Call("ZADD", "z", "NX", "INCR", "1", "a"));
        Assert.Null(c.Call("ZADD", "z", "GT", "INCR", "-1", "a"));
        Assert.Equal("7.5", c.Call("ZSCORE", "z", "a"));
        Assert.Equal(0L, c.Call("ZADD", "missing", "XX", "1", "a"));
        Assert.Null(c.Call("ZADD", "missing", "XX", "INCR", "1", "a"));
        Assert.Equal(0L, c.Call("EXISTS", "missing"));
        Assert.Equal("3", c.Call("ZINCRBY", "z", "1", "b"));
        Assert.Equal("1.5", c.Call("ZINCRBY", "fresh", "1.5", "m"));
    }

    [Theory]
    [InlineData("ERR XX and NX options at the same time are not compatible", "NX", "XX", "1", "a")]
    [InlineData("ERR GT, LT, and/or NX options at the same time are not compatible", "GT", "LT", "1", "a")]
    [InlineData("ERR GT, LT, and/or NX options at the same time are not compatible", "NX", "GT", "1", "a")]
    [InlineData("ERR INCR option supports a single increment-element pair", "INCR", "1", "a", "2", "b")]
    [InlineData("ERR syntax error", "1", "a", "2")]
    [InlineData("ERR syntax error", "NX", "a")]
    [InlineData("ERR value is not a valid float", "1", "a", "x", "b")]
    [InlineData("ERR value is not a valid float", "nan", "a")]
    [InlineData("ERR value is not a valid float", " 1", "a")]
    public void ZaddErrorsChangeNothing(string error, params string[] args)
    {
        using var c = Db(2);
        c.Call("ZADD", "z", "1", "keep");
        Assert.Equal(error, Err(c.Call(new object[] { "ZADD", "z" }.Concat(args).ToArray())));
        Assert.Equal(new[] { "keep" }, Strings(c.Call("ZRANGE", "z", "0", "-1")));
    }

    [Fact]
    public void IncrementToNanIsRefused()
    {
        using var c = Db(3);
        c.Call("ZADD", "z", "+inf", "a");
        Assert.Equal("ERR resulting score is not a number (NaN)", Err(c.Call("ZINCRBY", "z", "-inf", "a")));
        Assert.Equal("ERR resulting score is not a number (NaN)", Err(c.Call("ZADD", "z", "INCR", "-inf", "a")));
        Assert.Equal("inf", c.Call("ZSCORE", "z", "a"));
        Assert.Equal("ERR value is not a valid float", Err(c.Call("ZINCRBY", "z", "abc", "a")));
    }

    [Fact]
    public void ScoresPrintAsPercent17g()
    {
        using var c = Db(4);
        c.Call("ZADD", "z", "0.1", "a", "1e17", "b", "-inf", "c", "3", "d", "1.5e-7", "e");
        Assert.Equal(new[] { "c", "-inf", "e", "1.4999999999999999e-07", "a", "0.10000000000000001", "d", "3", "b", "1e+17" },
            Strings(c.Call("ZRANGE", "z", "0", "-1", "WITHSCORES")));
        Assert.Equal(new[] { "0.10000000000000001", "(nil)", "1e+17" }, Strings(c.Call("ZMSCORE", "z", "a", "x", "b")));
    }

    [Fact]
    public void RangeForms()
    {
        using var c = Db(5);
        c.Call("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e");
        Assert.Equal(new[] { "b", "c", "d" }, Strings(c.Call("ZRANGE", "z", "1", "-2")));
        Assert.Equal(new[] { "d", "c" }, Strings(c.Call("ZRANGE", "z", "1", "2", "REV")));
        Assert.Equal(new[] { "e", "d" }, Strings(c.Call("ZREVRANGE", "z", "0", "1")));
        Assert.Empty(Strings(c.Call("ZRANGE", "z", "3", "1")));
        Assert.Equal(new[] { "b", "2", "c", "3" }, Strings(c.Call("ZRANGE", "z", "(1", "3", "BYSCORE", "WITHSCORES")));
        Assert.Equal(new[] { "d", "c" }, Strings(c.Call("ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2")));
        Assert.Equal(new[] { "c", "d", "e" }, Strings(c.Call("ZRANGEBYSCORE", "z", "3", "+inf")));
        Assert.Equal(new[] { "b", "a" }, Strings(c.Call("ZREVRANGEBYSCORE", "z", "(3", "-inf")));
        Assert.Empty(Strings(c.Call("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2")));
        Assert.Equal(new[] { "a", "b", "c", "d", "e" }, Strings(c.Call("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "0", "-1")));
        c.Call("ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d");
        Assert.Equal(new[] { "b", "c" }, Strings(c.Call("ZRANGE", "l", "(a", "[c", "BYLEX")));
        Assert.Equal(new[] { "c", "b" }, Strings(c.Call("ZRANGE", "l", "[c", "(a", "BYLEX", "REV")));
        Assert.Equal(new[] { "b" }, Strings(c.Call("ZRANGEBYLEX", "l", "-", "+", "LIMIT", "1", "1")));
        Assert.Equal(new[] { "d", "c" }, Strings(c.Call("ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "0", "2")));
        Assert.Equal(4L, c.Call("ZLEXCOUNT", "l", "-", "+"));
        Assert.Equal(2L, c.Call("ZLEXCOUNT", "l", "(a", "[c"));
        Assert.Equal(3L, c.Call("ZCOUNT", "z", "(1", "4"));
        Assert.Empty(Strings(c.Call("ZRANGE", "missing", "0", "-1")));
    }

    [Theory]
    [InlineData("ERR syntax error, WITHSCORES not supported in combination with BYLEX", "ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES")]
    [InlineData("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX", "ZRANGE", "z", "0", "1", "LIMIT", "0", "1")]
    [InlineData("ERR syntax error", "ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX")]
    [InlineData("ERR syntax error", "ZRANGE", "z", "0", "1", "LIMIT", "0")]
    [InlineData("ERR syntax error", "ZREVRANGE", "z", "0", "1", "REV")]
    [InlineData("ERR syntax error", "ZRANGESTORE", "d", "z", "0", "1", "WITHSCORES")]
    [InlineData("ERR min or max is not a float", "ZRANGE", "z", "x", "1", "BYSCORE")]
    [InlineData("ERR min or max is not a float", "ZCOUNT", "z", "1", "nan")]
    [InlineData("ERR min or max is not a float", "ZRANGEBYSCORE", "z", "1 ", "2")]
    [InlineData("ERR min or max not valid string range item", "ZRANGE", "z", "a", "+", "BYLEX")]
    [InlineData("ERR min or max not valid string range item", "ZLEXCOUNT", "z", "-", "+x")]
    [InlineData("ERR min or max not valid string range item", "ZREMRANGEBYLEX", "z", "", "+")]
    [InlineData("ERR value is not an integer or out of range", "ZRANGE", "z", "a", "1")]
    [InlineData("ERR value is not an integer or out of range", "ZRANGEBYSCORE", "z", "0", "1", "LIMIT", "x", "1")]
    [InlineData("ERR value is not an integer or out of range", "ZREMRANGEBYRANK", "z", "1.5", "2")]
    public void RangeErrors(string error, params string[] args)
    {
        using var c = Db(6);
        c.Call("ZADD", "z", "1", "a");
        Assert.Equal(error, Err(c.Call(args)));
    }

    [Fact]
    public void RemoveRangesAndDeleteEmptiedKeys()
    {
        using var c = Db(7);
        c.Call("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e");
        Assert.Equal(2L, c.Call("ZREMRANGEBYRANK", "z", "0", "1"));
        Assert.Equal(1L, c.Call("ZREMRANGEBYSCORE", "z", "(3", "4"));
        Assert.Equal(0L, c.Call("ZREMRANGEBYRANK", "z", "5", "10"));
        Assert.Equal(new[] { "c", "e" }, Strings(c.Call("ZRANGE", "z", "0", "-1")));
        Assert.Equal(2L, c.Call("ZREM", "z", "c", "nope", "e", "again"));
        Assert.Equal(0L, c.Call("EXISTS", "z"));
        c.Call("ZADD", "l", "0", "a", "0", "b");
        Assert.Equal(2L, c.Call("ZREMRANGEBYLEX", "l", "-", "+"));
        Assert.Equal(0L, c.Call("EXISTS", "l"));
        Assert.Equal(0L, c.Call("ZREM", "missing", "a"));
    }

    [Fact]
    public void RanksAndCardinality()
    {
        using var c = Db(8);
        c.Call("ZADD", "z", "1", "a", "2", "b", "2", "c");
        Assert.Equal(3L, c.Call("ZCARD", "z"));
        Assert.Equal(0L, c.Call("ZCARD", "missing"));
        Assert.Equal(1L, c.Call("ZRANK", "z", "b"));
        Assert.Equal(0L, c.Call("ZREVRANK", "z", "c"));
        Assert.Null(c.Call("ZRANK", "z", "nope"));
        Assert.Null(c.Call("ZRANK", "missing", "a"));
        Assert.Equal("ERR wrong number of arguments for 'zrank' command", Err(c.Call("ZRANK", "z", "a", "WITHSCORE")));
    }

    [Fact]
    public void SetOperations()
    {
        using var c = Db(9);
        c.Call("ZADD", "a", "1", "x", "2", "y", "3", "z");
        c.Call("ZADD", "b", "10", "y", "20", "z", "30", "w");
        Assert.Equal(new[] { "x", "1", "y", "12", "z", "23", "w", "30" }, Strings(c.Call("ZUNION", "2", "a", "b", "WITHSCORES")));
        Assert.Equal(new[] { "y", "2", "z", "3" }, Strings(c.Call("ZINTER", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES")));
        Assert.Equal(new[] { "y", "14", "z", "26" }, Strings(c.Call("ZINTER", "2", "a", "b", "WEIGHTS", "2", "1", "WITHSCORES")));
        Assert.Equal(new[] { "x" }, Strings(c.Call("ZDIFF", "2", "a", "b")));
        Assert.Equal(2L, c.Call("ZINTERCARD", "2", "a", "b"));
        Assert.Equal(1L, c.Call("ZINTERCARD", "2", "a", "b", "LIMIT", "1"));
        Assert.Equal(4L, c.Call("ZUNIONSTORE", "u", "2", "a", "b", "AGGREGATE", "MAX"));
        Assert.Equal(new[] { "x", "1", "y", "10", "z", "20", "w", "30" }, Strings(c.Call("ZRANGE", "u", "0", "-1", "WITHSCORES")));
        Assert.Equal(2L, c.Call("ZINTERSTORE", "i", "2", "a", "b"));
        Assert.Equal(1L, c.Call("ZDIFFSTORE", "d", "2", "a", "b"));
        Assert.Equal(0L, c.Call("ZDIFFSTORE", "d", "2", "a", "a"));
        Assert.Equal(0L, c.Call("EXISTS", "d"));
        // +inf and -inf summed give 0, as Redis defines it.
        c.Call("ZADD", "p", "+inf", "m");
        c.Call("ZADD", "n", "-inf", "m");
        Assert.Equal(new[] { "m", "0" }, Strings(c.Call("ZUNION", "2", "p", "n", "WITHSCORES")));
        Assert.Equal(new[] { "m", "0" }, Strings(c.Call("ZINTER", "2", "p", "n", "WITHSCORES")));
        Assert.Equal(new[] { "x", "0", "y", "0", "z", "0" }, Strings(c.Call("ZUNION", "1", "a", "WEIGHTS", "0", "WITHSCORES")));
    }

    [Theory]
    [InlineData("ERR at least 1 input key is needed for 'zunion' command", "ZUNION", "0", "a")]
    [InlineData("ERR at least 1 input key is needed for 'zinterstore' command", "ZINTERSTORE", "d", "0", "a")]
    [InlineData("ERR at least 1 input key is needed for 'zintercard' command", "ZINTERCARD", "0", "a")]
    [InlineData("ERR syntax error", "ZUNION", "3", "a", "b")]
    [InlineData("ERR syntax error", "ZDIFF", "1", "a", "WEIGHTS", "1")]
    [InlineData("ERR syntax error", "ZUNIONSTORE", "d", "1", "a", "WITHSCORES")]
    [InlineData("ERR syntax error", "ZUNION", "1", "a", "AGGREGATE", "AVG")]
    [InlineData("ERR syntax error", "ZINTERCARD", "1", "a", "a")]
    [InlineData("ERR weight value is not a float", "ZUNION", "1", "a", "WEIGHTS", "x")]
    [InlineData("ERR LIMIT can't be negative", "ZINTERCARD", "1", "a", "LIMIT", "-1")]
    [InlineData("ERR LIMIT can't be negative", "ZINTERCARD", "1", "a", "LIMIT", "x")]
    [InlineData("ERR value is not an integer or out of range", "ZUNION", "x", "a")]
    public void SetOperationErrors(string error, params string[] args)
    {
        using var c = Db(10);
        c.Call("ZADD", "a", "1", "x");
        Assert.Equal(error, Err(c.Call(args)));
    }

    [Fact]
    public void PopsAndMpop()
    {
        using var c = Db(11);
        c.Call("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d");
        Assert.Equal(new[] { "a", "1" }, Strings(c.Call("ZPOPMIN", "z")));
        Assert.Equal(new[] { "d", "4", "c", "3" }, Strings(c.Call("ZPOPMAX", "z", "2")));
        Assert.Empty(Strings(c.Call("ZPOPMIN", "z", "0")));
        Assert.Empty(Strings(c.Call("ZPOPMIN", "missing")));
        Assert.Equal("ERR value is out of range, must be positive", Err(c.Call("ZPOPMIN", "z", "-1")));
        Assert.Equal("ERR syntax error", Err(c.Call("ZPOPMIN", "z", "1", "2")));
        c.Call("ZADD", "y", "5", "e", "6", "f");
        var mpop = Assert.IsType<object?[]>(c.Call("ZMPOP", "3", "missing", "z", "y", "MAX", "COUNT", "10"));
        Assert.Equal("z", mpop[0]);
        Assert.Equal(new[] { "b", "2" }, Strings(Assert.IsType<object?[]>(mpop[1])[0]));
        Assert.Equal(0L, c.Call("EXISTS", "z"));
        Assert.Null(c.Call("ZMPOP", "1", "missing", "MIN"));
        Assert.Equal("ERR numkeys should be greater than 0", Err(c.Call("ZMPOP", "0", "y", "MIN")));
        Assert.Equal("ERR count should be greater than 0", Err(c.Call("ZMPOP", "1", "y", "MIN", "COUNT", "0")));
        Assert.Equal("ERR syntax error", Err(c.Call("ZMPOP", "1", "y", "MIDDLE")));
        Assert.Equal("ERR syntax error", Err(c.Call("ZMPOP", "2", "y", "MIN")));
    }

    [Fact]
    public void Resp3Shapes()
    {
        using var c = Db(12, protocol: 3);
        c.Call("ZADD", "z", "1", "a", "2.5", "b");
        var pairs = Assert.IsType<object?[]>(c.Call("ZRANGE", "z", "0", "-1", "WITHSCORES"));
        Assert.Equal(2, pairs.Length);
        var first = Assert.IsType<object?[]>(pairs[0]);
        Assert.Equal("a", first[0]);
        Assert.Equal(1.0, first[1]);
        Assert.Equal(2.5, c.Call("ZSCORE", "z", "b"));
        Assert.Equal(2.5, c.Call("ZINCRBY", "z", "0", "b"));
        Assert.IsType<object?[]>(Assert.IsType<object?[]>(c.Call("ZUNION", "1", "z", "WITHSCORES"))[1]);
        Assert.IsType<object?[]>(Assert.IsType<object?[]>(c.Call("ZRANDMEMBER", "z", "-3", "WITHSCORES"))[2]);
        // A single pop is flat even in RESP3; with a count each pair is nested.
        var single = Assert.IsType<object?[]>(c.Call("ZPOPMIN", "z"));
        Assert.Equal("a", single[0]);
        Assert.Equal(1.0, single[1]);
        var counted = Assert.IsType<object?[]>(c.Call("ZPOPMAX", "z", "1"));
        Assert.Equal(new object?[] { "b", 2.5 }, Assert.IsType<object?[]>(counted[0]));
        Assert.Null(c.Call("ZSCORE", "z", "a"));
    }

    [Fact]
    public void RandomMembers()
    {
        using var c = Db(13);
        var members = Enumerable.Range(0, 300).Select(i => "m" + i).ToArray();
        foreach (var key in new[] { "small", "big" })
        {
            int n = key == "small" ? 50 : 300;
            var args = new List<object> { "ZADD", key };
            for (int i = 0; i < n; i++) { args.Add(i.ToString()); args.Add(members[i]); }
            c.Call(args.ToArray());
            foreach (int count in new[] { 1, 5, 20, 40, 49, 50, 1000 })
            {
                var got = Strings(c.Call("ZRANDMEMBER", key, count.ToString()));
                Assert.Equal(Math.Min(count, n), got.Length);
                Assert.Equal(got.Length, got.Distinct().Count());
                Assert.All(got, m => Assert.Contains(m, members));
            }
            var withRepeats = Strings(c.Call("ZRANDMEMBER", key, "-100"));
            Assert.Equal(100, withRepeats.Length);
            var withScores = Strings(c.Call("ZRANDMEMBER", key, "3", "WITHSCORES"));
            Assert.Equal(6, withScores.Length);
            for (int i = 0; i < 6; i += 2) Assert.Equal(withScores[i], "m" + withScores[i + 1]);
        }
        // Asking for the whole set returns it from the highest score down.
        Assert.Equal(Enumerable.Range(0, 50).Reverse().Select(i => "m" + i).ToArray(), Strings(c.Call("ZRANDMEMBER", "small", "50")));
        Assert.Null(c.Call("ZRANDMEMBER", "missing"));
        Assert.Empty(Strings(c.Call("ZRANDMEMBER", "missing", "3")));
        Assert.Equal("ERR value is out of range", Err(c.Call("ZRANDMEMBER", "small", "-9223372036854775807", "WITHSCORES")));
        Assert.Equal("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            Err(c.Call("ZRANDMEMBER", "small", "-9223372036854775808")));
        Assert.Equal("ERR syntax error", Err(c.Call("ZRANDMEMBER", "small", "1", "SCORES")));
    }

    [Fact]
    public void EncodingsFollowTheLimits()
    {
        using var c = Db(14);
        var args = new List<object> { "ZADD", "z" };
        for (int i = 0; i < 128; i++) { args.Add(i.ToString()); args.Add("m" + i); }
        c.Call(args.ToArray());
        Assert.Equal("listpack", c.Call("OBJECT", "ENCODING", "z"));
        c.Call("ZADD", "z", "1000", "one-more");
        Assert.Equal("skiplist", c.Call("OBJECT", "ENCODING", "z"));
        c.Call("ZREMRANGEBYRANK", "z", "0", "-2");
        Assert.Equal("skiplist", c.Call("OBJECT", "ENCODING", "z"));
        c.Call("ZADD", "long", "1", new string('x', 65));
        Assert.Equal("skiplist", c.Call("OBJECT", "ENCODING", "long"));
        c.Call("ZADD", "short", "1", new string('x', 64));
        Assert.Equal("listpack", c.Call("OBJECT", "ENCODING", "short"));
        // A stored result takes the compact encoding when it fits.
        Assert.Equal(1L, c.Call("ZUNIONSTORE", "u", "1", "z"));
        Assert.Equal("listpack", c.Call("OBJECT", "ENCODING", "u"));
        Assert.Equal("zset", c.Call("TYPE", "u"));
        Assert.Equal(1L, c.Call("COPY", "z", "zc"));
        Assert.Equal("skiplist", c.Call("OBJECT", "ENCODING", "zc"));
    }

    [Fact]
    public void ZscanReturnsEverythingOnBothEncodings()
    {
        using var c = Db(15);
        c.Call("ZADD", "small", "1e17", "a", "0.5", "b");
        var reply = Assert.IsType<object?[]>(c.Call("ZSCAN", "small", "0"));
        Assert.Equal("0", reply[0]);
        // The compact encoding keeps integral scores as integers and prints them so.
        Assert.Equal(new[] { "b", "0.5", "a", "100000000000000000" }, Strings(reply[1]));
        Assert.Equal(new[] { "b", "0.5" }, Strings(Assert.IsType<object?[]>(c.Call("ZSCAN", "small", "0", "MATCH", "b"))[1]));

        var args = new List<object> { "ZADD", "big" };
        for (int i = 0; i < 500; i++) { args.Add(i.ToString()); args.Add("m" + i); }
        c.Call(args.ToArray());
        var seen = new Dictionary<string, string>();
        string cursor = "0";
        int calls = 0;
        do
        {
            // Churn while scanning: score updates and new members must not hide present elements.
            c.Call("ZINCRBY", "big", "1000", "m" + (calls * 7 % 500));
            c.Call("ZADD", "big", "1", "extra" + calls);
            var r = Assert.IsType<object?[]>(c.Call("ZSCAN", "big", cursor, "COUNT", "20"));
            cursor = (string)r[0]!;
            var items = Strings(r[1]);
            for (int i = 0; i < items.Length; i += 2) seen[items[i]] = items[i + 1];
            calls++;
        } while (cursor != "0");
        Assert.True(calls > 10);
        for (int i = 0; i < 500; i++) Assert.True(seen.ContainsKey("m" + i), "missing m" + i);
        Assert.Equal("ERR invalid cursor", Err(c.Call("ZSCAN", "big", "x")));
        Assert.Equal("ERR syntax error", Err(c.Call("ZSCAN", "big", "0", "COUNT", "0")));
        Assert.Equal(new[] { "0" }, Strings(Assert.IsType<object?[]>(c.Call("ZSCAN", "missing", "0"))[..1]));
    }

    [Fact]
    public void WrongTypeEverywhere()
    {
        using var c = Db(0);
        c.Call("SET", "s", "v");
        c.Call("ZADD", "z", "1", "a");
        string[][] commands =
        [
            ["ZADD", "s", "1", "a"], ["ZINCRBY", "s", "1", "a"], ["ZREM", "s", "a"], ["ZCARD", "s"], ["ZSCORE", "s", "a"],
            ["ZMSCORE", "s", "a"], ["ZRANK", "s", "a"], ["ZREVRANK", "s", "a"], ["ZCOUNT", "s", "0", "1"], ["ZLEXCOUNT", "s", "-", "+"],
            ["ZRANGE", "s", "0", "1"], ["ZRANGEBYSCORE", "s", "0", "1"], ["ZRANGEBYLEX", "s", "-", "+"], ["ZREVRANGE", "s", "0", "1"],
            ["ZRANGESTORE", "d", "s", "0", "1"], ["ZREMRANGEBYRANK", "s", "0", "1"], ["ZREMRANGEBYSCORE", "s", "0", "1"],
            ["ZREMRANGEBYLEX", "s", "-", "+"], ["ZUNION", "2", "z", "s"], ["ZINTERSTORE", "d", "2", "z", "s"], ["ZDIFF", "1", "s"],
            ["ZINTERCARD", "1", "s"], ["ZPOPMIN", "s"], ["ZPOPMAX", "s", "2"], ["ZMPOP", "2", "z2", "s", "MIN"], ["ZRANDMEMBER", "s"],
            ["ZRANDMEMBER", "s", "2"], ["ZSCAN", "s", "0"],
        ];
        foreach (var cmd in commands) Assert.Equal(WrongType, Err(c.Call(cmd)));
        Assert.Equal("v", c.Call("GET", "s"));
        Assert.Equal(0L, c.Call("EXISTS", "d"));
    }

    [Fact]
    public void StoreCommandsReplaceTheDestination()
    {
        using var c = Db(0);
        c.Call("ZADD", "src", "1", "a", "2", "b");
        c.Call("SET", "dst", "string");
        c.Call("EXPIRE", "dst", "1000");
        Assert.Equal(2L, c.Call("ZRANGESTORE", "dst", "src", "0", "-1"));
        Assert.Equal("zset", c.Call("TYPE", "dst"));
        Assert.Equal(-1L, c.Call("TTL", "dst"));
        Assert.Equal(1L, c.Call("ZRANGESTORE", "dst", "src", "(1", "+inf", "BYSCORE"));
        Assert.Equal(new[] { "b", "2" }, Strings(c.Call("ZRANGE", "dst", "0", "-1", "WITHSCORES")));
        Assert.Equal(0L, c.Call("ZRANGESTORE", "dst", "src", "5", "10"));
        Assert.Equal(0L, c.Call("EXISTS", "dst"));
        Assert.Equal(0L, c.Call("ZRANGESTORE", "dst", "missing", "0", "-1"));
        // The source may be the destination.
        Assert.Equal(1L, c.Call("ZRANGESTORE", "src", "src", "0", "0", "REV"));
        Assert.Equal(new[] { "b" }, Strings(c.Call("ZRANGE", "src", "0", "-1")));
    }
}

/// <summary>Side effects of the sorted set commands seen from inside the server: events, dirty counts, WATCH.</summary>
public sealed class SortedSetSideEffectTests
{
    private readonly InProcessKeyspace _ks = new();
    private readonly Client _c;

    public SortedSetSideEffectTests()
    {
        _ks.Server.NotifyFlags = KeyspaceEventClass.All | KeyspaceEventClass.Keyevent;
        _c = _ks.NewClient();
    }

    private object? Call(params string[] args) => _ks.Call(_c, args);

    /// <summary>Runs a command and returns the keyevent names it published and how much dirty grew.</summary>
    private string Effects(params string[] args)
    {
        _ks.Published.Clear();
        long before = _ks.Server.Stats.Dirty;
        var reply = Call(args);
        Assert.IsNotType<Support.RespError>(reply);
        var events = _ks.Published.Where(p => p.Channel.StartsWith("__keyevent@")).Select(p => p.Channel[(p.Channel.IndexOf(':') + 1)..] + ":" + p.Message).ToArray();
        return string.Join(" ", events) + " dirty=" + (_ks.Server.Stats.Dirty - before);
    }

    [Fact]
    public void WritesNotifyAndCountDirty()
    {
        Assert.Equal("zadd:z dirty=3", Effects("ZADD", "z", "1", "a", "2", "b", "3", "c"));
        Assert.Equal(" dirty=0", Effects("ZADD", "z", "1", "a"));
        Assert.Equal("zincr:z dirty=1", Effects("ZINCRBY", "z", "1", "a"));
        Assert.Equal("zincr:z dirty=1", Effects("ZADD", "z", "INCR", "1", "a"));
        Assert.Equal("zrem:z dirty=1", Effects("ZREM", "z", "a", "nope"));
        Assert.Equal(" dirty=0", Effects("ZREM", "z", "nope"));
        Assert.Equal("zremrangebyscore:z dirty=1", Effects("ZREMRANGEBYSCORE", "z", "2", "2"));
        Assert.Equal("zremrangebyrank:z del:z dirty=1", Effects("ZREMRANGEBYRANK", "z", "0", "-1"));
        Effects("ZADD", "l", "0", "a", "0", "b", "0", "c");
        Assert.Equal("zremrangebylex:l dirty=1", Effects("ZREMRANGEBYLEX", "l", "[a", "[a"));
        Assert.Equal("zpopmin:l dirty=1", Effects("ZPOPMIN", "l"));
        Assert.Equal("zpopmax:l del:l dirty=1", Effects("ZPOPMAX", "l", "5"));
        Effects("ZADD", "a", "1", "x", "2", "y");
        Assert.Equal("zunionstore:u dirty=1", Effects("ZUNIONSTORE", "u", "1", "a"));
        Assert.Equal("zinterstore:u dirty=1", Effects("ZINTERSTORE", "u", "1", "a"));
        Assert.Equal("zdiffstore:u dirty=1", Effects("ZDIFFSTORE", "u", "1", "a"));
        Assert.Equal("zrangestore:u dirty=1", Effects("ZRANGESTORE", "u", "a", "0", "0"));
        Assert.Equal("del:u dirty=1", Effects("ZDIFFSTORE", "u", "2", "a", "a"));
        Assert.Equal(" dirty=0", Effects("ZDIFFSTORE", "u", "2", "a", "a"));
        Assert.Equal("zpopmin:a dirty=1", Effects("ZMPOP", "1", "a", "MIN"));
        Assert.Equal("zrem:a del:a dirty=1", Effects("ZREM", "a", "y"));
        Assert.Equal(" dirty=0", Effects("ZRANGE", "a", "0", "-1"));
    }

    [Fact]
    public void ModificationsBreakWatch()
    {
        var watcher = _ks.NewClient();
        Call("ZADD", "z", "1", "a");
        Assert.Equal("OK", _ks.Call(watcher, "WATCH", "z"));
        Assert.Equal("OK", _ks.Call(watcher, "MULTI"));
        Assert.Equal("QUEUED", _ks.Call(watcher, "ZCARD", "z"));
        Call("ZINCRBY", "z", "1", "a");
        Assert.Null(_ks.Call(watcher, "EXEC"));

        // A no-op write leaves the watch intact.
        Assert.Equal("OK", _ks.Call(watcher, "WATCH", "z"));
        Assert.Equal("OK", _ks.Call(watcher, "MULTI"));
        Assert.Equal("QUEUED", _ks.Call(watcher, "ZCARD", "z"));
        Call("ZADD", "z", "NX", "5", "a");
        Assert.Equal(new object?[] { 1L }, _ks.Call(watcher, "EXEC"));
    }
}
