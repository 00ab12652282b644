using System.Text;
using Redoubt.Server.Protocol;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>The string family over the wire: replies and error strings as Redis 7.0 gives them.</summary>
public sealed class StringCommandTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public StringCommandTests(SharedServer shared) => _server = shared.Server;

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    [Fact]
    public void SetOptionsNxXxGet()
    {
        using var c = _server.Connect();
        Assert.Equal("OK", c.Call("SET", "s:opt", "1", "NX"));
        Assert.Null(c.Call("SET", "s:opt", "2", "NX"));
        Assert.Equal("1", c.Call("GET", "s:opt"));
        Assert.Equal("OK", c.Call("SET", "s:opt", "3", "XX"));
        Assert.Null(c.Call("SET", "s:opt-missing", "3", "XX"));
        Assert.Equal("3", c.Call("SET", "s:opt", "4", "GET"));
        Assert.Null(c.Call("SET", "s:opt-new", "x", "GET"));
        Assert.Equal("x", c.Call("GET", "s:opt-new"));
        // With GET, an aborted NX/XX still replies the old value (or null).
        Assert.Equal("4", c.Call("SET", "s:opt", "5", "GET", "NX"));
        Assert.Equal("4", c.Call("GET", "s:opt"));
        Assert.Null(c.Call("SET", "s:opt-none", "5", "GET", "XX"));
        Assert.Null(c.Call("GET", "s:opt-none"));
        Assert.Equal("OK", c.Call("SET", "s:opt", "", "xx", "keepttl"));
        Assert.Equal("", c.Call("GET", "s:opt"));
        var binary = new byte[] { 0, 1, 2, 255, 13, 10 };
        Assert.Equal("OK", c.Call("SET", "s:bin", binary));
        Assert.Equal(Encoding.Latin1.GetString(binary), c.Call("GET", "s:bin"));
    }

    [Theory]
    [InlineData("nx", "xx")]
    [InlineData("ex", "10", "px", "100")]
    [InlineData("ex", "10", "keepttl")]
    [InlineData("keepttl", "exat", "10")]
    [InlineData("ex")]
    [InlineData("persist")]
    [InlineData("bogus")]
    public void SetSyntaxErrors(params string[] options)
    {
        using var c = _server.Connect();
        var args = new List<object> { "SET", "s:syn", "v" };
        args.AddRange(options);
        Assert.Equal("ERR syntax error", Err(c.Call(args.ToArray())));
        Assert.Null(c.Call("GET", "s:syn"));
    }

    [Fact]
    public void ExpireArgumentsAreValidated()
    {
        using var c = _server.Connect();
        Assert.Equal("ERR invalid expire time in 'set' command", Err(c.Call("SET", "s:exp", "v", "EX", "0")));
        Assert.Equal("ERR invalid expire time in 'set' command", Err(c.Call("SET", "s:exp", "v", "PX", "-5")));
        Assert.Equal("ERR invalid expire time in 'set' command", Err(c.Call("SET", "s:exp", "v", "EX", "9223372036854775807")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("SET", "s:exp", "v", "EX", "ten")));
        Assert.Equal("ERR invalid expire time in 'setex' command", Err(c.Call("SETEX", "s:exp", "0", "v")));
        Assert.Equal("ERR invalid expire time in 'psetex' command", Err(c.Call("PSETEX", "s:exp", "-1", "v")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("SETEX", "s:exp", "1.5", "v")));
        Assert.Null(c.Call("GET", "s:exp"));
        c.Call("SET", "s:exp", "v");
        Assert.Equal("ERR invalid expire time in 'getex' command", Err(c.Call("GETEX", "s:exp", "EX", "0")));
        Assert.Equal("ERR syntax error", Err(c.Call("GETEX", "s:exp", "EX", "10", "PERSIST")));
        Assert.Equal("ERR syntax error", Err(c.Call("GETEX", "s:exp", "KEEPTTL")));
        Assert.Equal("ERR wrong number of arguments for 'getex' command", Err(c.Call("GETEX")));
    }

    [Fact]
    public void ShortExpiresTakeEffect()
    {
        using var c = _server.Connect();
        Assert.Equal("OK", c.Call("SET", "s:px", "v", "PX", "100"));
        Assert.Equal("OK", c.Call("PSETEX", "s:psetex", "100", "v"));
        Assert.Equal("OK", c.Call("SET", "s:getex", "v"));
        Assert.Equal("v", c.Call("GETEX", "s:getex", "PX", "100"));
        Assert.Equal("OK", c.Call("SET", "s:pxat", "v", "PXAT", (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 100).ToString()));
        Thread.Sleep(300);
        Assert.Null(c.Call("GET", "s:px"));
        Assert.Null(c.Call("GET", "s:psetex"));
        Assert.Null(c.Call("GET", "s:getex"));
        Assert.Null(c.Call("GET", "s:pxat"));
        Assert.Equal(1L, c.Call("SETNX", "s:px", "again"));
    }

    [Fact]
    public void SetNxGetSetGetDelGetEx()
    {
        using var c = _server.Connect();
        Assert.Equal(1L, c.Call("SETNX", "s:nx", "a"));
        Assert.Equal(0L, c.Call("SETNX", "s:nx", "b"));
        Assert.Equal("a", c.Call("GETSET", "s:nx", "c"));
        Assert.Null(c.Call("GETSET", "s:gs-new", "z"));
        Assert.Equal("z", c.Call("GET", "s:gs-new"));
        Assert.Equal("c", c.Call("GETEX", "s:nx"));
        Assert.Equal("c", c.Call("GETEX", "s:nx", "PERSIST"));
        Assert.Null(c.Call("GETEX", "s:missing", "EX", "10"));
        Assert.Equal("ERR syntax error", Err(c.Call("GETEX", "s:nx", "non-existent-option")));
        // An absolute time already past deletes the key.
        Assert.Equal("c", c.Call("GETEX", "s:nx", "EXAT", "1"));
        Assert.Null(c.Call("GET", "s:nx"));
        c.Call("SET", "s:del", "bar");
        Assert.Equal("bar", c.Call("GETDEL", "s:del"));
        Assert.Null(c.Call("GETDEL", "s:del"));
        Assert.Equal(0L, c.Call("EXISTS", "s:del"));
    }

    [Fact]
    public void MGetMSetMSetNx()
    {
        using var c = _server.Connect();
        Assert.Equal("OK", c.Call("MSET", "m:a", "1", "m:b", "foo bar", "m:c", "x\r\n"));
        Assert.Equal(new object?[] { "1", null, "foo bar", "x\r\n" }, c.Call("MGET", "m:a", "m:none", "m:b", "m:c"));
        Assert.Equal("ERR wrong number of arguments for 'mset' command", Err(c.Call("MSET", "m:a", "1", "m:b")));
        Assert.Equal("ERR wrong number of arguments for 'msetnx' command", Err(c.Call("MSETNX", "m:a", "1", "m:b")));
        Assert.Equal(0L, c.Call("MSETNX", "m:x", "1", "m:a", "2"));
        Assert.Equal(0L, c.Call("EXISTS", "m:x"));
        Assert.Equal(1L, c.Call("MSETNX", "m:x", "1", "m:y", "2", "m:x", "3"));
        Assert.Equal(new object?[] { "3", "2" }, c.Call("MGET", "m:x", "m:y"));
    }

    [Fact]
    public void IntegerCounters()
    {
        using var c = _server.Connect();
        Assert.Equal(1L, c.Call("INCR", "i:n"));
        Assert.Equal(2L, c.Call("INCR", "i:n"));
        Assert.Equal(-8L, c.Call("DECRBY", "i:n", "10"));
        Assert.Equal(-9L, c.Call("DECR", "i:n"));
        Assert.Equal(34359738368L, c.Call("INCRBY", "i:big", "34359738368"));
        Assert.Equal("34359738368", c.Call("GET", "i:big"));
        c.Call("SET", "i:max", "9223372036854775807");
        Assert.Equal("ERR increment or decrement would overflow", Err(c.Call("INCR", "i:max")));
        c.Call("SET", "i:min", "-9223372036854775808");
        Assert.Equal("ERR increment or decrement would overflow", Err(c.Call("DECR", "i:min")));
        Assert.Equal("ERR decrement would overflow", Err(c.Call("DECRBY", "i:n", "-9223372036854775808")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("INCRBY", "i:n", "1.5")));
        foreach (var bad in new[] { " 11", "11 ", "abc", "", "1e3", "+5", "9223372036854775808" })
        {
            c.Call("SET", "i:bad", bad);
            Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("INCR", "i:bad")));
        }
        c.Call("SET", "i:w", "99");
        Assert.Equal(100L, c.Call("INCR", "i:w"));
        Assert.Equal(3L, c.Call("STRLEN", "i:w"));
    }

    /// <summary>Expected values are what redis-server 7.0 (x86-64, long double) replies.</summary>
    [Theory]
    [InlineData("10", "10.5", "20.5")]
    [InlineData("0.1", "0.2", "0.3")]
    [InlineData("5.0e3", "2.0e2", "5200")]
    [InlineData("1", "-1.1", "-0.1")]
    [InlineData("0x10", "1", "17")]
    [InlineData("1e-18", "0", "0")]
    [InlineData("1.5e-17", "0", "0.00000000000000002")]
    [InlineData("-1e-20", "0", "0")]
    [InlineData("17179869184", "1.5", "17179869185.5")]
    [InlineData("1e19", "1", "10000000000000000001")]
    [InlineData("9223372036854775807", "1", "9223372036854775808")]
    [InlineData("0.3333333333333333333333", "0", "0.33333333333333333")]
    [InlineData("2.5", "0.000000000000000005", "2.5")]
    [InlineData("-0", "-0", "0")]
    [InlineData("1e30", "1", "1000000000000000000024696061952")]
    [InlineData("123456789.123456789", "0", "123456789.12345678899873747")]
    public void IncrByFloatMatchesLongDoubleArithmetic(string start, string incr, string expected)
    {
        using var c = _server.Connect();
        c.Call("SET", "f:x", start);
        Assert.Equal(expected, c.Call("INCRBYFLOAT", "f:x", incr));
        Assert.Equal(expected, c.Call("GET", "f:x"));
    }

    [Fact]
    public void IncrByFloatErrors()
    {
        using var c = _server.Connect();
        c.Call("DEL", "f:e");
        Assert.Equal("1", c.Call("INCRBYFLOAT", "f:e", "1"));
        Assert.Equal("1.25", c.Call("INCRBYFLOAT", "f:e", "0.25"));
        Assert.Equal("ERR increment would produce NaN or Infinity", Err(c.Call("INCRBYFLOAT", "f:e", "+inf")));
        c.Call("SET", "f:max", "1.18973149535723176502e+4932");
        Assert.Equal("ERR increment would produce NaN or Infinity", Err(c.Call("INCRBYFLOAT", "f:max", "1e4932")));
        foreach (var bad in new[] { "nan", "abc", "", " 1", "1 ", "1e", "0x", "1e-4952", "1e5000", "1.5.5" })
            Assert.Equal("ERR value is not a valid float", Err(c.Call("INCRBYFLOAT", "f:e", bad)));
        // The stored value must parse too, embedded NUL included.
        c.Call("SET", "f:nul", "1");
        c.Call("SETRANGE", "f:nul", "2", "2");
        Assert.Equal("ERR value is not a valid float", Err(c.Call("INCRBYFLOAT", "f:nul", "1")));
        c.Call("SET", "f:inf", "inf");
        Assert.Equal("ERR increment would produce NaN or Infinity", Err(c.Call("INCRBYFLOAT", "f:inf", "1")));
        Assert.Equal("1.25", c.Call("GET", "f:e"));
    }

    [Fact]
    public void AppendStrlenGetRange()
    {
        using var c = _server.Connect();
        Assert.Equal(5L, c.Call("APPEND", "r:s", "Hello"));
        Assert.Equal(11L, c.Call("APPEND", "r:s", " World"));
        Assert.Equal(11L, c.Call("STRLEN", "r:s"));
        Assert.Equal(0L, c.Call("STRLEN", "r:none"));
        Assert.Equal("Hell", c.Call("GETRANGE", "r:s", "0", "3"));
        Assert.Equal("Hello World", c.Call("GETRANGE", "r:s", "0", "-1"));
        Assert.Equal("orld", c.Call("GETRANGE", "r:s", "-4", "-1"));
        Assert.Equal("", c.Call("GETRANGE", "r:s", "5", "3"));
        Assert.Equal("", c.Call("GETRANGE", "r:s", "-1", "-5"));
        Assert.Equal(" World", c.Call("GETRANGE", "r:s", "5", "5000"));
        Assert.Equal("Hello World", c.Call("GETRANGE", "r:s", "-5000", "10000"));
        Assert.Equal("Hello World", c.Call("GETRANGE", "r:s", "0", "4294967297"));
        Assert.Equal("ell", c.Call("SUBSTR", "r:s", "1", "3"));
        Assert.Equal("", c.Call("GETRANGE", "r:none", "0", "-1"));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("GETRANGE", "r:s", "a", "1")));
        // Growth by many appends keeps the content exact across reallocations.
        var expected = new StringBuilder();
        for (int i = 0; i < 300; i++)
        {
            string piece = new string((char)('a' + i % 26), i % 7 + 1);
            expected.Append(piece);
            Assert.Equal((long)expected.Length, c.Call("APPEND", "r:grow", piece));
        }
        Assert.Equal(expected.ToString(), c.Call("GET", "r:grow"));
    }

    [Fact]
    public void SetRange()
    {
        using var c = _server.Connect();
        Assert.Equal(3L, c.Call("SETRANGE", "sr:a", "0", "foo"));
        Assert.Equal(0L, c.Call("SETRANGE", "sr:b", "0", ""));
        Assert.Equal(0L, c.Call("EXISTS", "sr:b"));
        Assert.Equal(4L, c.Call("SETRANGE", "sr:c", "1", "foo"));
        Assert.Equal("\0foo", c.Call("GET", "sr:c"));
        Assert.Equal(3L, c.Call("SETRANGE", "sr:a", "1", "b"));
        Assert.Equal("fbo", c.Call("GET", "sr:a"));
        Assert.Equal(3L, c.Call("SETRANGE", "sr:a", "100", ""));
        Assert.Equal(7L, c.Call("SETRANGE", "sr:a", "4", "bar"));
        Assert.Equal("fbo\0bar", c.Call("GET", "sr:a"));
        Assert.Equal("ERR offset is out of range", Err(c.Call("SETRANGE", "sr:a", "-1", "x")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("SETRANGE", "sr:a", "x", "x")));
        const string tooBig = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
        Assert.Equal(tooBig, Err(c.Call("SETRANGE", "sr:a", (512 * 1024 * 1024 - 4).ToString(), "world")));
        Assert.Equal(tooBig, Err(c.Call("SETRANGE", "sr:new", (512 * 1024 * 1024 - 4).ToString(), "world")));
        Assert.Equal(tooBig, Err(c.Call("SETRANGE", "sr:new", "9223372036854775807", "A")));
        Assert.Equal(tooBig, Err(c.Call("SETRANGE", "sr:new", "2147483647", "A")));
        Assert.Equal(0L, c.Call("EXISTS", "sr:new"));
    }

    [Fact]
    public void LongestCommonSubsequence()
    {
        using var c = _server.Connect();
        c.Call("MSET", "l:1", "ohmytext", "l:2", "mynewtext");
        Assert.Equal("mytext", c.Call("LCS", "l:1", "l:2"));
        Assert.Equal(6L, c.Call("LCS", "l:1", "l:2", "LEN"));
        Assert.Equal(new object?[]
        {
            "matches", new object?[]
            {
                new object?[] { new object?[] { 4L, 7L }, new object?[] { 5L, 8L } },
                new object?[] { new object?[] { 2L, 3L }, new object?[] { 0L, 1L } },
            },
            "len", 6L,
        }, c.Call("LCS", "l:1", "l:2", "IDX"));
        Assert.Equal(new object?[]
        {
            "matches", new object?[] { new object?[] { new object?[] { 4L, 7L }, new object?[] { 5L, 8L }, 4L } },
            "len", 6L,
        }, c.Call("LCS", "l:1", "l:2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"));
        Assert.Equal("ERR If you want both the length and indexes, please just use IDX.", Err(c.Call("LCS", "l:1", "l:2", "LEN", "IDX")));
        Assert.Equal("ERR syntax error", Err(c.Call("LCS", "l:1", "l:2", "MINMATCHLEN")));
        Assert.Equal("ERR syntax error", Err(c.Call("LCS", "l:1", "l:2", "foo")));
        Assert.Equal("", c.Call("LCS", "l:1", "l:none"));
        Assert.Equal(new object?[] { "matches", Array.Empty<object?>(), "len", 0L }, c.Call("LCS", "l:none", "l:none2", "IDX"));
    }

    [Fact]
    public void LcsRefusesTablesAboveProtoMaxBulkLen()
    {
        using var c = _server.Connect();
        // 16k x 16k cells of 4 bytes is 1 GiB, above the default 512 MiB.
        c.Call("SET", "l:big1", new string('a', 16 * 1024));
        c.Call("SET", "l:big2", new string('b', 16 * 1024));
        Assert.Equal("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len", Err(c.Call("LCS", "l:big1", "l:big2")));
    }
}

/// <summary>What string commands do behind their replies: TTLs, types, notifications, dirty counts.</summary>
public sealed class StringSideEffectTests : IDisposable
{
    private readonly StringTestHost _h = new();
    public void Dispose() => _h.Dispose();

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;
    private const string WrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";

    [Fact]
    public void WriteCommandsRejectOtherTypesAndLeaveThem()
    {
        _h.PlantOtherType("list");
        foreach (var cmd in new[]
        {
            new object[] { "GET", "list" }, new object[] { "SET", "list", "v", "GET" }, new object[] { "GETSET", "list", "v" },
            new object[] { "GETEX", "list", "PERSIST" }, new object[] { "GETDEL", "list" }, new object[] { "INCR", "list" },
            new object[] { "INCRBY", "list", "2" }, new object[] { "DECR", "list" }, new object[] { "INCRBYFLOAT", "list", "1" },
            new object[] { "APPEND", "list", "x" }, new object[] { "STRLEN", "list" }, new object[] { "GETRANGE", "list", "0", "1" },
            new object[] { "SETRANGE", "list", "0", "x" },
        })
            Assert.Equal(WrongType, Err(_h.Call(cmd)));
        Assert.Equal(new object?[] { null }, _h.Call("MGET", "list"));
        Assert.Equal("ERR The specified keys must contain string values", Err(_h.Call("LCS", "list", "other")));
        // Plain SET, MSET and SETEX replace a value of any type.
        Assert.Equal("OK", _h.Call("SET", "list", "now a string"));
        Assert.Equal("now a string", _h.Call("GET", "list"));
    }

    [Fact]
    public void TtlRulesFollowRedis()
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _h.Call("SET", "t", "v", "EX", "100");
        Assert.InRange(_h.ExpireOf("t"), now + 99_000, now + 101_000);
        // Counters, APPEND, SETRANGE, SETBIT keep the TTL; SET without KEEPTTL and GETSET drop it.
        _h.Call("SET", "t", "1", "KEEPTTL");
        _h.Call("INCR", "t");
        _h.Call("INCRBYFLOAT", "t", "0.5");
        _h.Call("APPEND", "t", "0");
        _h.Call("SETRANGE", "t", "0", "9");
        Assert.InRange(_h.ExpireOf("t"), now + 99_000, now + 101_000);
        _h.Call("GETSET", "t", "x");
        Assert.Equal(-1, _h.ExpireOf("t"));
        _h.Call("SETEX", "t", "50", "x");
        Assert.InRange(_h.ExpireOf("t"), now + 49_000, now + 51_000);
        _h.Call("SET", "t", "y");
        Assert.Equal(-1, _h.ExpireOf("t"));

        _h.Call("GETEX", "t", "PX", "20000");
        Assert.InRange(_h.ExpireOf("t"), now + 19_000, now + 21_000);
        long at = now / 1000 + 30;
        _h.Call("GETEX", "t", "EXAT", at.ToString());
        Assert.Equal(at * 1000, _h.ExpireOf("t"));
        _h.Call("GETEX", "t", "PXAT", (now + 40_000).ToString());
        Assert.Equal(now + 40_000, _h.ExpireOf("t"));
        _h.Call("GETEX", "t", "PERSIST");
        Assert.Equal(-1, _h.ExpireOf("t"));
        _h.Call("SET", "t", "v", "PXAT", (now + 60_000).ToString());
        Assert.Equal(now + 60_000, _h.ExpireOf("t"));
        _h.Call("MSET", "t", "w");
        Assert.Equal(-1, _h.ExpireOf("t"));
    }

    [Fact]
    public void NotificationsNameEachWrite()
    {
        _h.Call("SET", "n", "1", "EX", "100");
        Assert.Equal(["set:n", "expire:n"], _h.TakeEvents());
        _h.Call("INCR", "n");
        _h.Call("INCRBY", "n", "5");
        _h.Call("DECR", "n");
        Assert.Equal(["incrby:n", "incrby:n", "incrby:n"], _h.TakeEvents());
        _h.Call("INCRBYFLOAT", "n", "1.5");
        _h.Call("APPEND", "n", "x");
        _h.Call("SETRANGE", "n", "0", "y");
        _h.Call("SETRANGE", "n", "0", "");
        Assert.Equal(["incrbyfloat:n", "append:n", "setrange:n"], _h.TakeEvents());
        _h.Call("GETEX", "n", "EX", "10");
        _h.Call("GETEX", "n", "PERSIST");
        _h.Call("GETEX", "n", "PERSIST");
        Assert.Equal(["expire:n", "persist:n"], _h.TakeEvents());
        _h.Call("GETEX", "n", "EXAT", "1");
        Assert.Equal(["del:n"], _h.TakeEvents());
        _h.Call("MSET", "a", "1", "b", "2");
        _h.Call("MSETNX", "a", "1", "c", "2");
        _h.Call("SETNX", "a", "2");
        _h.Call("GETSET", "a", "3");
        _h.Call("GETDEL", "a");
        _h.Call("GETDEL", "a");
        Assert.Equal(["set:a", "set:b", "set:a", "del:a"], _h.TakeEvents());
    }

    [Fact]
    public void DirtyCountsChanges()
    {
        long d = _h.Dirty;
        _h.Call("MSET", "a", "1", "b", "2", "c", "3");
        Assert.Equal(d + 3, _h.Dirty);
        _h.Call("GET", "a");
        _h.Call("SET", "a", "1", "NX");
        _h.Call("GETEX", "a", "PERSIST");
        _h.Call("SETRANGE", "a", "0", "");
        Assert.Equal(d + 3, _h.Dirty);
        _h.Call("INCR", "a");
        _h.Call("INCRBYFLOAT", "a", "1");
        _h.Call("APPEND", "a", "");
        _h.Call("GETDEL", "b");
        Assert.Equal(d + 7, _h.Dirty);
        _h.Call("INCR", "missing-but-fails-later");
        _h.Call("SET", "bad", "x");
        _h.Call("INCR", "bad");
        Assert.Equal(d + 9, _h.Dirty);
    }
}

/// <summary>The software long double behind INCRBYFLOAT: strtold parsing, x87 rounding, "%.17Lf".</summary>
public sealed class LongDoubleTests
{
    private static LongDouble Parse(string s)
    {
        Assert.True(LongDouble.TryParse(Encoding.ASCII.GetBytes(s), out var v), s);
        return v;
    }

    [Theory]
    [InlineData("0.1", "0.1")]
    [InlineData("1e-17", "0.00000000000000001")]
    [InlineData("0x1.8p1", "3")]
    [InlineData("0X1P-2", "0.25")]
    [InlineData("-Infinity", "-inf")]
    [InlineData("5.", "5")]
    [InlineData(".5", "0.5")]
    [InlineData("1e4", "10000")]
    [InlineData("18446744073709551617", "18446744073709551616")] // 2^64 + 1 rounds to even
    [InlineData("18446744073709551619", "18446744073709551620")]
    [InlineData("3.6e-4951", "0")]                                // a subnormal, printed as 0
    public void ParsesAndFormats(string input, string human) => Assert.Equal(human, Parse(input).ToHumanString());

    [Theory]
    [InlineData("")]
    [InlineData("nan")]
    [InlineData("-nan")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("+")]
    [InlineData(".")]
    [InlineData("1e")]
    [InlineData("1e+")]
    [InlineData("0x")]
    [InlineData("0x1p")]
    [InlineData("1.2.3")]
    [InlineData("1e5000")]
    [InlineData("1e-5000")]
    [InlineData("0x1p16384")]
    public void RejectsWhatRedisRejects(string input) => Assert.False(LongDouble.TryParse(Encoding.ASCII.GetBytes(input), out _));

    [Fact]
    public void AdditionRoundsLikeTheFpu()
    {
        Assert.Equal("0.3", (Parse("0.1") + Parse("0.2")).ToHumanString());
        Assert.Equal("0", (Parse("0.024390243902439025") + Parse("-0.024390243902439025")).ToHumanString());
        // 2^64 + 1 is not representable: the 1 is lost (ties to even), but 2^64 + 3 rounds up to 2^64 + 4.
        Assert.Equal("18446744073709551616", (Parse("18446744073709551616") + Parse("1")).ToHumanString());
        Assert.Equal("18446744073709551620", (Parse("18446744073709551616") + Parse("3")).ToHumanString());
        Assert.Equal("1", (Parse("1") + Parse("1e-300")).ToHumanString());
        Assert.True((Parse("1e4932") + Parse("1e4932")).IsInfinity);
        Assert.False((Parse("inf") + Parse("-inf")).IsFinite);
    }
}
