using System.Net.Sockets;
using System.Text;
using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>The list family over the wire: replies, null shapes and error strings as Redis 7.0 gives them.</summary>
public sealed class ListCommandTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public ListCommandTests(SharedServer shared) => _server = shared.Server;

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    private static object?[] Arr(params object?[] items) => items;

    /// <summary>Sends raw protocol and returns exactly the next <paramref name="length"/> bytes received.</summary>
    internal static string Exchange(int port, string send, int length)
    {
        using var tcp = new TcpClient("127.0.0.1", port) { ReceiveTimeout = 5000 };
        var s = tcp.GetStream();
        s.Write(Encoding.Latin1.GetBytes(send));
        var buf = new byte[length];
        s.ReadExactly(buf);
        return Encoding.Latin1.GetString(buf);
    }

    /// <summary>Sends raw protocol and reads until what came back ends with <paramref name="suffix"/>.</summary>
    internal static string ExchangeUntil(int port, string send, string suffix)
    {
        using var tcp = new TcpClient("127.0.0.1", port) { ReceiveTimeout = 5000 };
        var s = tcp.GetStream();
        s.Write(Encoding.Latin1.GetBytes(send));
        var sb = new StringBuilder();
        while (!sb.ToString().EndsWith(suffix, StringComparison.Ordinal))
        {
            int b = s.ReadByte();
            if (b < 0) break;
            sb.Append((char)b);
        }
        return sb.ToString();
    }

    [Fact]
    public void PushesReplyLengthAndKeepOrder()
    {
        using var c = _server.Connect();
        c.Call("DEL", "l:push");
        Assert.Equal(3L, c.Call("RPUSH", "l:push", "a", "b", "c"));
        Assert.Equal(5L, c.Call("LPUSH", "l:push", "y", "x"));
        Assert.Equal(Arr("x", "y", "a", "b", "c"), c.Call("LRANGE", "l:push", "0", "-1"));
        Assert.Equal(0L, c.Call("LPUSHX", "l:push-missing", "a"));
        Assert.Equal(0L, c.Call("RPUSHX", "l:push-missing", "a", "b"));
        Assert.Equal(0L, c.Call("EXISTS", "l:push-missing"));
        Assert.Equal(6L, c.Call("RPUSHX", "l:push", "d"));
        Assert.Equal(8L, c.Call("LPUSHX", "l:push", "2", "1"));
        Assert.Equal(Arr("1", "2", "x", "y", "a", "b", "c", "d"), c.Call("LRANGE", "l:push", "0", "-1"));
        Assert.Equal("ERR wrong number of arguments for 'lpush' command", Err(c.Call("LPUSH", "l:push")));
        Assert.Equal("ERR wrong number of arguments for 'rpushx' command", Err(c.Call("RPUSHX", "l:push")));
    }

    [Fact]
    public void PopsWithAndWithoutCount()
    {
        using var c = _server.Connect();
        c.Call("DEL", "l:pop");
        c.Call("RPUSH", "l:pop", "a", "b", "c", "d", "e");
        Assert.Equal("a", c.Call("LPOP", "l:pop"));
        Assert.Equal("e", c.Call("RPOP", "l:pop"));
        Assert.Equal(Arr("b", "c"), c.Call("LPOP", "l:pop", "2"));
        Assert.Equal(Arr(), c.Call("LPOP", "l:pop", "0"));
        Assert.Equal(Arr("d"), c.Call("RPOP", "l:pop", "10"));
        Assert.Equal(0L, c.Call("EXISTS", "l:pop"));
        c.Call("RPUSH", "l:pop", "1", "2", "3");
        Assert.Equal(Arr("3", "2"), c.Call("RPOP", "l:pop", "2"));
        Assert.Equal("ERR value is out of range, must be positive", Err(c.Call("LPOP", "l:pop", "-1")));
        Assert.Equal("ERR value is out of range, must be positive", Err(c.Call("RPOP", "l:pop", "x")));
        Assert.Equal("ERR wrong number of arguments for 'lpop' command", Err(c.Call("LPOP", "l:pop", "1", "2")));
        // The count is parsed before the key is looked up.
        Assert.Equal("ERR value is out of range, must be positive", Err(c.Call("LPOP", "l:missing", "-1")));
    }

    [Fact]
    public void NullShapesFollowTheProtocol()
    {
        Assert.Equal("$-1\r\n", Exchange(_server.Port, "LPOP l:none\r\n", 5));
        Assert.Equal("*-1\r\n", Exchange(_server.Port, "LPOP l:none 2\r\n", 5));
        Assert.Equal("*-1\r\n", Exchange(_server.Port, "LMPOP 1 l:none LEFT\r\n", 5));
        Assert.Equal("$-1\r\n", Exchange(_server.Port, "LMOVE l:none l:none2 LEFT LEFT\r\n", 5));
        Assert.Equal("$-1\r\n", Exchange(_server.Port, "LINDEX l:none 0\r\n", 5));
        Assert.Equal("$-1\r\n", Exchange(_server.Port, "LPOS l:none a\r\n", 5));
        Assert.Equal("*0\r\n", Exchange(_server.Port, "LPOS l:none a COUNT 0\r\n", 4));
        Assert.Equal("*-1\r\n", Exchange(_server.Port, "BLPOP l:none 0.01\r\n", 5));
        Assert.Equal("*-1\r\n", Exchange(_server.Port, "BLMOVE l:none l:none2 LEFT LEFT 0.01\r\n", 5));
        // RESP3 answers "_" for every null, after HELLO's map (which ends with the empty module list).
        string resp3 = ExchangeUntil(_server.Port,
            "HELLO 3\r\nLPOP l:none\r\nLPOP l:none 2\r\nBRPOP l:none 0.01\r\nBLMOVE l:none l:x LEFT LEFT 0.01\r\n", "_\r\n_\r\n_\r\n_\r\n");
        Assert.EndsWith("*0\r\n_\r\n_\r\n_\r\n_\r\n", resp3);
    }

    [Fact]
    public void RangesAndIndexes()
    {
        using var c = _server.Connect();
        c.Call("DEL", "l:range");
        for (int i = 0; i < 10; i++) c.Call("RPUSH", "l:range", i.ToString());
        Assert.Equal(Arr("0", "1", "2"), c.Call("LRANGE", "l:range", "0", "2"));
        Assert.Equal(Arr("7", "8", "9"), c.Call("LRANGE", "l:range", "-3", "-1"));
        Assert.Equal(Arr("0", "1"), c.Call("LRANGE", "l:range", "-100", "1"));
        Assert.Equal(Arr("8", "9"), c.Call("LRANGE", "l:range", "8", "100"));
        Assert.Equal(Arr(), c.Call("LRANGE", "l:range", "5", "4"));
        Assert.Equal(Arr(), c.Call("LRANGE", "l:range", "10", "20"));
        Assert.Equal(Arr(), c.Call("LRANGE", "l:missing", "0", "-1"));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("LRANGE", "l:range", "a", "1")));
        Assert.Equal("0", c.Call("LINDEX", "l:range", "0"));
        Assert.Equal("9", c.Call("LINDEX", "l:range", "-1"));
        Assert.Equal("4", c.Call("LINDEX", "l:range", "-6"));
        Assert.Null(c.Call("LINDEX", "l:range", "10"));
        Assert.Null(c.Call("LINDEX", "l:range", "-11"));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("LINDEX", "l:range", "1.5")));
        // LINDEX looks the key up first: a missing key answers null whatever the index.
        Assert.Null(c.Call("LINDEX", "l:missing", "notanumber"));
        Assert.Equal(10L, c.Call("LLEN", "l:range"));
        Assert.Equal(0L, c.Call("LLEN", "l:missing"));
    }

    [Fact]
    public void LSetErrorsAndReplacements()
    {
        using var c = _server.Connect();
        c.Call("DEL", "l:set");
        Assert.Equal("ERR no such key", Err(c.Call("LSET", "l:set", "0", "x")));
        c.Call("RPUSH", "l:set", "a", "b", "c");
        Assert.Equal("OK", c.Call("LSET", "l:set", "0", "A"));
        Assert.Equal("OK", c.Call("LSET", "l:set", "-1", new string('z', 20000)));
        Assert.Equal("OK", c.Call("LSET", "l:set", "1", ""));
        Assert.Equal(Arr("A", "", new string('z', 20000)), c.Call("LRANGE", "l:set", "0", "-1"));
        Assert.Equal("ERR index out of range", Err(c.Call("LSET", "l:set", "3", "x")));
        Assert.Equal("ERR index out of range", Err(c.Call("LSET", "l:set", "-4", "x")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("LSET", "l:set", "x", "x")));
    }

    [Fact]
    public void InsertRemoveTrim()
    {
        using var c = _server.Connect();
        c.Call("DEL", "l:ins");
        Assert.Equal(0L, c.Call("LINSERT", "l:ins", "BEFORE", "a", "b"));
        Assert.Equal("ERR syntax error", Err(c.Call("LINSERT", "l:ins", "aft3r", "a", "b")));
        c.Call("RPUSH", "l:ins", "a", "c", "a");
        Assert.Equal(4L, c.Call("LINSERT", "l:ins", "after", "a", "b"));
        Assert.Equal(5L, c.Call("LINSERT", "l:ins", "BEFORE", "a", "start"));
        Assert.Equal(-1L, c.Call("LINSERT", "l:ins", "before", "zz", "x"));
        Assert.Equal(Arr("start", "a", "b", "c", "a"), c.Call("LRANGE", "l:ins", "0", "-1"));

        Assert.Equal(1L, c.Call("LREM", "l:ins", "-1", "a"));
        Assert.Equal(Arr("start", "a", "b", "c"), c.Call("LRANGE", "l:ins", "0", "-1"));
        c.Call("RPUSH", "l:ins", "a", "a", "b", "a");
        Assert.Equal(2L, c.Call("LREM", "l:ins", "2", "a"));
        Assert.Equal(Arr("start", "b", "c", "a", "b", "a"), c.Call("LRANGE", "l:ins", "0", "-1"));
        Assert.Equal(2L, c.Call("LREM", "l:ins", "0", "b"));
        Assert.Equal(1L, c.Call("LREM", "l:ins", "-1", "a"));
        Assert.Equal(0L, c.Call("LREM", "l:missing", "0", "b"));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("LREM", "l:ins", "x", "b")));

        Assert.Equal("OK", c.Call("LTRIM", "l:ins", "1", "-1"));
        Assert.Equal(Arr("c", "a"), c.Call("LRANGE", "l:ins", "0", "-1"));
        Assert.Equal("OK", c.Call("LTRIM", "l:ins", "5", "10"));
        Assert.Equal(0L, c.Call("EXISTS", "l:ins"));
        Assert.Equal("OK", c.Call("LTRIM", "l:missing", "0", "1"));
        c.Call("RPUSH", "l:ins", "only");
        Assert.Equal(1L, c.Call("LREM", "l:ins", "0", "only"));
        Assert.Equal(0L, c.Call("EXISTS", "l:ins"));
    }

    [Fact]
    public void LPosOptionsAndErrors()
    {
        using var c = _server.Connect();
        c.Call("DEL", "l:pos");
        c.Call("RPUSH", "l:pos", "a", "b", "c", "1", "2", "3", "c", "c");
        Assert.Equal(2L, c.Call("LPOS", "l:pos", "c"));
        Assert.Equal(6L, c.Call("LPOS", "l:pos", "c", "RANK", "2"));
        Assert.Equal(7L, c.Call("LPOS", "l:pos", "c", "RANK", "-1"));
        Assert.Equal(6L, c.Call("LPOS", "l:pos", "c", "RANK", "-2"));
        Assert.Null(c.Call("LPOS", "l:pos", "c", "RANK", "4"));
        Assert.Equal(Arr(2L, 6L, 7L), c.Call("LPOS", "l:pos", "c", "COUNT", "0"));
        Assert.Equal(Arr(2L, 6L), c.Call("LPOS", "l:pos", "c", "COUNT", "2"));
        Assert.Equal(Arr(7L, 6L), c.Call("LPOS", "l:pos", "c", "RANK", "-1", "COUNT", "2"));
        Assert.Equal(Arr(2L), c.Call("LPOS", "l:pos", "c", "COUNT", "0", "MAXLEN", "6"));
        Assert.Null(c.Call("LPOS", "l:pos", "c", "MAXLEN", "2"));
        Assert.Equal(Arr(), c.Call("LPOS", "l:pos", "x", "COUNT", "5"));
        // Negating the smallest rank wraps to itself, as in Redis: every match from the tail qualifies.
        Assert.Equal(7L, c.Call("LPOS", "l:pos", "c", "RANK", "-9223372036854775808"));
        Assert.Equal(Arr(7L, 6L, 2L), c.Call("LPOS", "l:pos", "c", "RANK", "-9223372036854775808", "COUNT", "2"));
        Assert.Equal("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
            Err(c.Call("LPOS", "l:pos", "c", "RANK", "0")));
        Assert.Equal("ERR COUNT can't be negative", Err(c.Call("LPOS", "l:pos", "c", "COUNT", "-1")));
        Assert.Equal("ERR COUNT can't be negative", Err(c.Call("LPOS", "l:pos", "c", "COUNT", "x")));
        Assert.Equal("ERR MAXLEN can't be negative", Err(c.Call("LPOS", "l:pos", "c", "MAXLEN", "-1")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("LPOS", "l:pos", "c", "RANK", "x")));
        Assert.Equal("ERR syntax error", Err(c.Call("LPOS", "l:pos", "c", "RANK")));
        Assert.Equal("ERR syntax error", Err(c.Call("LPOS", "l:pos", "c", "FOO", "1")));
        // Options are checked before the key.
        Assert.Equal("ERR COUNT can't be negative", Err(c.Call("LPOS", "l:missing", "c", "COUNT", "-1")));
    }

    [Fact]
    public void MovesBetweenLists()
    {
        using var c = _server.Connect();
        c.Call("DEL", "{m}src", "{m}dst");
        c.Call("RPUSH", "{m}src", "a", "b", "c");
        Assert.Equal("c", c.Call("RPOPLPUSH", "{m}src", "{m}dst"));
        Assert.Equal("a", c.Call("LMOVE", "{m}src", "{m}dst", "LEFT", "RIGHT"));
        Assert.Equal(Arr("c", "a"), c.Call("LRANGE", "{m}dst", "0", "-1"));
        Assert.Equal("b", c.Call("LMOVE", "{m}src", "{m}dst", "right", "left"));
        Assert.Equal(0L, c.Call("EXISTS", "{m}src"));
        Assert.Null(c.Call("LMOVE", "{m}src", "{m}dst", "LEFT", "LEFT"));
        // Rotation on the same list.
        Assert.Equal("a", c.Call("RPOPLPUSH", "{m}dst", "{m}dst"));
        Assert.Equal(Arr("a", "b", "c"), c.Call("LRANGE", "{m}dst", "0", "-1"));
        Assert.Equal("a", c.Call("LMOVE", "{m}dst", "{m}dst", "LEFT", "RIGHT"));
        Assert.Equal(Arr("b", "c", "a"), c.Call("LRANGE", "{m}dst", "0", "-1"));
        Assert.Equal("ERR syntax error", Err(c.Call("LMOVE", "{m}dst", "{m}src", "UP", "LEFT")));
        // A destination of another type fails before anything is popped.
        c.Call("SET", "{m}str", "x");
        Assert.StartsWith("WRONGTYPE", Err(c.Call("LMOVE", "{m}dst", "{m}str", "LEFT", "LEFT")));
        Assert.StartsWith("WRONGTYPE", Err(c.Call("RPOPLPUSH", "{m}str", "{m}dst")));
        Assert.Equal(3L, c.Call("LLEN", "{m}dst"));
    }

    [Fact]
    public void LMPopArgumentsAndResults()
    {
        using var c = _server.Connect();
        c.Call("DEL", "{mp}a", "{mp}b");
        c.Call("RPUSH", "{mp}b", "1", "2", "3");
        Assert.Equal(Arr("{mp}b", Arr("1")), c.Call("LMPOP", "2", "{mp}a", "{mp}b", "LEFT"));
        Assert.Equal(Arr("{mp}b", Arr("3", "2")), c.Call("LMPOP", "2", "{mp}a", "{mp}b", "RIGHT", "COUNT", "10"));
        Assert.Null(c.Call("LMPOP", "2", "{mp}a", "{mp}b", "RIGHT"));
        Assert.Equal("ERR numkeys should be greater than 0", Err(c.Call("LMPOP", "0", "{mp}a", "LEFT")));
        Assert.Equal("ERR numkeys should be greater than 0", Err(c.Call("LMPOP", "x", "{mp}a", "LEFT")));
        Assert.Equal("ERR syntax error", Err(c.Call("LMPOP", "2", "{mp}a", "LEFT")));
        Assert.Equal("ERR syntax error", Err(c.Call("LMPOP", "9223372036854775806", "{mp}a", "LEFT")));
        Assert.Equal("ERR syntax error", Err(c.Call("LMPOP", "1", "{mp}a", "MIDDLE")));
        Assert.Equal("ERR count should be greater than 0", Err(c.Call("LMPOP", "1", "{mp}a", "LEFT", "COUNT", "0")));
        Assert.Equal("ERR syntax error", Err(c.Call("LMPOP", "1", "{mp}a", "LEFT", "COUNT", "1", "COUNT", "2")));
        Assert.Equal("ERR syntax error", Err(c.Call("LMPOP", "1", "{mp}a", "LEFT", "COUNT")));
        Assert.Equal("ERR wrong number of arguments for 'lmpop' command", Err(c.Call("LMPOP", "1", "{mp}a")));
        c.Call("SET", "{mp}s", "x");
        c.Call("RPUSH", "{mp}b", "1");
        Assert.StartsWith("WRONGTYPE", Err(c.Call("LMPOP", "2", "{mp}s", "{mp}b", "LEFT")));
        Assert.Equal(Arr("{mp}b", Arr("1")), c.Call("LMPOP", "2", "{mp}a", "{mp}b", "LEFT"));
    }

    [Fact]
    public void EveryCommandRejectsOtherTypes()
    {
        using var c = _server.Connect();
        c.Call("SET", "l:str", "v");
        object[][] commands =
        [
            ["LPUSH", "l:str", "a"], ["RPUSHX", "l:str", "a"], ["LPOP", "l:str"], ["RPOP", "l:str", "2"],
            ["LLEN", "l:str"], ["LINDEX", "l:str", "0"], ["LSET", "l:str", "0", "a"], ["LRANGE", "l:str", "0", "1"],
            ["LTRIM", "l:str", "0", "1"], ["LINSERT", "l:str", "BEFORE", "a", "b"], ["LREM", "l:str", "0", "a"],
            ["LPOS", "l:str", "a"], ["LMPOP", "1", "l:str", "LEFT"], ["BLPOP", "l:str", "0"], ["BRPOP", "l:str", "0"],
            ["BLMPOP", "0", "1", "l:str", "LEFT"], ["BLMOVE", "l:str", "l:x", "LEFT", "LEFT", "0"], ["BRPOPLPUSH", "l:str", "l:x", "0"],
        ];
        foreach (var cmd in commands)
            Assert.Equal("WRONGTYPE Operation against a key holding the wrong kind of value", Err(c.Call(cmd)));
        Assert.Equal("v", c.Call("GET", "l:str"));
    }

    [Fact]
    public void LargeAndManyElementsRoundTrip()
    {
        using var c = _server.Connect();
        c.Call("DEL", "l:big");
        var big = new string('q', 300_000);
        for (int i = 0; i < 3000; i++) c.Call(i % 2 == 0 ? "RPUSH" : "LPUSH", "l:big", "v" + i);
        c.Call("RPUSH", "l:big", big);
        c.Call("LPUSH", "l:big", big);
        Assert.Equal(3002L, c.Call("LLEN", "l:big"));
        Assert.Equal(big, c.Call("LINDEX", "l:big", "0"));
        Assert.Equal(big, c.Call("LINDEX", "l:big", "-1"));
        Assert.Equal("v2999", c.Call("LINDEX", "l:big", "1"));
        Assert.Equal("v1", c.Call("LINDEX", "l:big", "1500"));
        Assert.Equal("v0", c.Call("LINDEX", "l:big", "1501"));
        Assert.Equal("v2", c.Call("LINDEX", "l:big", "1502"));
        Assert.Equal(3003L, c.Call("LINSERT", "l:big", "AFTER", "v0", big));
        Assert.Equal(big, c.Call("LINDEX", "l:big", "1502"));
        Assert.Equal(3L, c.Call("LREM", "l:big", "0", big));
        Assert.Equal(Arr("v2999", "v2997"), c.Call("LRANGE", "l:big", "0", "1"));
        Assert.Equal(Arr("v2996", "v2998"), c.Call("LRANGE", "l:big", "-2", "-1"));
    }
}

/// <summary>Side effects behind the replies: keyspace events, the dirty counter and deletion of emptied lists.</summary>
public sealed class ListSideEffectTests : IDisposable
{
    private readonly StringTestHost _h = new();

    public void Dispose() => _h.Dispose();

    [Fact]
    public void EventsNameEachWrite()
    {
        _h.Call("RPUSH", "e", "a", "b", "c");
        _h.Call("LPUSH", "e", "z");
        _h.Call("LPUSHX", "missing", "z");
        Assert.Equal(["rpush:e", "lpush:e"], _h.TakeEvents());
        _h.Call("LSET", "e", "0", "y");
        _h.Call("LINSERT", "e", "BEFORE", "a", "x");
        _h.Call("LINSERT", "e", "BEFORE", "nope", "x");
        _h.Call("LREM", "e", "0", "x");
        _h.Call("LREM", "e", "0", "nope");
        Assert.Equal(["lset:e", "linsert:e", "lrem:e"], _h.TakeEvents());
        _h.Call("LMOVE", "e", "f", "LEFT", "RIGHT");
        Assert.Equal(["rpush:f", "lpop:e"], _h.TakeEvents());
        _h.Call("LTRIM", "e", "0", "0");
        _h.Call("RPOP", "e");
        Assert.Equal(["ltrim:e", "rpop:e", "del:e"], _h.TakeEvents());
        _h.Call("LTRIM", "f", "1", "0");
        Assert.Equal(["ltrim:f", "del:f"], _h.TakeEvents());
        _h.Call("RPUSH", "g", "1", "2");
        _h.Call("LMPOP", "1", "g", "RIGHT", "COUNT", "5");
        Assert.Equal(["rpush:g", "rpop:g", "del:g"], _h.TakeEvents());
        _h.Call("RPUSH", "g", "1");
        _h.Call("LREM", "g", "1", "1");
        Assert.Equal(["rpush:g", "lrem:g", "del:g"], _h.TakeEvents());
    }

    [Fact]
    public void DirtyCountsElements()
    {
        long d = _h.Dirty;
        _h.Call("RPUSH", "d", "a", "b", "c", "d");
        Assert.Equal(d + 4, _h.Dirty);
        _h.Call("LPOP", "d", "2");
        Assert.Equal(d + 6, _h.Dirty);
        _h.Call("LTRIM", "d", "0", "0");
        Assert.Equal(d + 7, _h.Dirty);
        _h.Call("LSET", "d", "0", "x");
        _h.Call("LMOVE", "d", "d2", "LEFT", "LEFT");
        Assert.Equal(d + 9, _h.Dirty);
        _h.Call("LPUSHX", "none", "x");
        _h.Call("LREM", "d2", "0", "nothing");
        Assert.Equal(d + 9, _h.Dirty);
    }

    [Fact]
    public void ListsReportQuicklistEncoding()
    {
        _h.Call("RPUSH", "enc", "a");
        var obj = Assert.IsType<ListObject>(_h.Db.Peek("enc"u8));
        Assert.Equal("quicklist", obj.Encoding);
        Assert.Equal(RedisType.List, obj.Type);
        var copy = (ListObject)obj.Clone("enc2"u8.ToArray());
        copy.PushTail("b"u8);
        Assert.Equal(1, obj.Count);
        Assert.Equal(2, copy.Count);
        Assert.True(obj.MemoryUsage > 0);
    }
}

/// <summary>
/// The packed node chain against a plain list model, under random operations and every node size
/// setting, including tiny plain-node thresholds.
/// </summary>
public sealed class ListObjectModelTests
{
    private static byte[] RandomValue(Random rnd)
    {
        int len = rnd.Next(10) switch
        {
            0 => 0,
            < 6 => rnd.Next(1, 12),
            < 8 => rnd.Next(100, 300),
            8 => rnd.Next(3000, 9000),
            _ => rnd.Next(16000, 20000),
        };
        var v = new byte[len];
        for (int i = 0; i < len; i++) v[i] = (byte)('a' + rnd.Next(4));
        return v;
    }

    private static void AssertSame(List<byte[]> model, ListObject list)
    {
        Assert.Equal(model.Count, list.Count);
        // The running totals behind Count, NodeCount and MemoryUsage agree with the chain.
        var (count, nodes, bytes) = list.Recount();
        Assert.Equal(list.Count, count);
        Assert.Equal(list.NodeCount, nodes);
        Assert.Equal(list.BufferBytes, bytes);
        if (model.Count == 0) return;
        list.TrySeek(0, out var cur);
        for (int i = 0; i < model.Count; i++)
        {
            Assert.True(ListObject.Current(cur).SequenceEqual(model[i]), $"element {i} differs");
            bool more = ListObject.MoveNext(ref cur);
            Assert.Equal(i < model.Count - 1, more);
        }
        list.TrySeek(-1, out cur);
        for (int i = model.Count - 1; i >= 0; i--)
        {
            Assert.True(ListObject.Current(cur).SequenceEqual(model[i]));
            ListObject.MovePrev(ref cur);
        }
        Assert.True(list.First.SequenceEqual(model[0]));
        Assert.True(list.Last.SequenceEqual(model[^1]));
    }

    [Theory]
    [InlineData(-2, 1)]
    [InlineData(-1, 2)]
    [InlineData(-5, 3)]
    [InlineData(1, 4)]
    [InlineData(3, 5)]
    [InlineData(128, 6)]
    [InlineData(0, 7)]
    public void RandomOperationsMatchModel(int fill, int seed)
    {
        var rnd = new Random(seed);
        var list = new ListObject("k"u8.ToArray(), fill);
        var model = new List<byte[]>();
        long savedThreshold = ListObject.PackedThreshold;
        try
        {
            for (int step = 0; step < 4000; step++)
            {
                ListObject.PackedThreshold = seed % 2 == 0 ? 5000 : 1L << 30;
                int op = rnd.Next(12);
                var v = RandomValue(rnd);
                switch (op)
                {
                    case 0: list.PushHead(v); model.Insert(0, v); break;
                    case 1: list.PushTail(v); model.Add(v); break;
                    case 2 when model.Count > 0:
                    {
                        long n = rnd.Next(1, 4);
                        list.RemoveHead(n);
                        model.RemoveRange(0, (int)Math.Min(n, model.Count));
                        break;
                    }
                    case 3 when model.Count > 0:
                    {
                        long n = rnd.Next(1, 4);
                        list.RemoveTail(n);
                        int k = (int)Math.Min(n, model.Count);
                        model.RemoveRange(model.Count - k, k);
                        break;
                    }
                    case 4 when model.Count > 0:
                    {
                        int i = rnd.Next(model.Count);
                        Assert.True(list.Set(rnd.Next(2) == 0 ? i : i - model.Count, v));
                        model[i] = v;
                        break;
                    }
                    case 5 when model.Count > 0:
                    {
                        int i = rnd.Next(model.Count);
                        bool after = rnd.Next(2) == 0;
                        var pivot = list.Find(model[i], fromTail: false);
                        int first = model.FindIndex(x => x.AsSpan().SequenceEqual(model[i]));
                        list.InsertAt(pivot, v, after);
                        model.Insert(after ? first + 1 : first, v);
                        break;
                    }
                    case 6 when model.Count > 0:
                    {
                        var target = model[rnd.Next(model.Count)];
                        int max = rnd.Next(3);
                        bool fromTail = rnd.Next(2) == 0;
                        long removed = list.RemoveMatching(target, max, fromTail);
                        long expected = 0;
                        if (fromTail)
                        {
                            for (int i = model.Count - 1; i >= 0 && (max == 0 || expected < max); i--)
                                if (model[i].AsSpan().SequenceEqual(target)) { model.RemoveAt(i); expected++; }
                        }
                        else
                        {
                            for (int i = 0; i < model.Count && (max == 0 || expected < max);)
                                if (model[i].AsSpan().SequenceEqual(target)) { model.RemoveAt(i); expected++; }
                                else i++;
                        }
                        Assert.Equal(expected, removed);
                        break;
                    }
                    case 7 when model.Count > 0:
                    {
                        int i = rnd.Next(-model.Count - 2, model.Count + 2);
                        bool ok = list.TryGet(i, out var got);
                        int idx = i < 0 ? i + model.Count : i;
                        Assert.Equal(idx >= 0 && idx < model.Count, ok);
                        if (ok) Assert.True(got.SequenceEqual(model[idx]));
                        break;
                    }
                    case 8 when model.Count > 0:
                    {
                        bool head = rnd.Next(2) == 0;
                        var popped = list.Pop(head);
                        int at = head ? 0 : model.Count - 1;
                        Assert.True(popped.AsSpan().SequenceEqual(model[at]));
                        model.RemoveAt(at);
                        break;
                    }
                    default:
                        list.PushTail(v);
                        model.Add(v);
                        break;
                }
                if (step % 50 == 0) AssertSame(model, list);
            }
            AssertSame(model, list);
            var clone = (ListObject)list.Clone("c"u8.ToArray());
            AssertSame(model, clone);
        }
        finally
        {
            ListObject.PackedThreshold = savedThreshold;
        }
    }

    [Fact]
    public void NodesStayWithinTheirLimits()
    {
        var list = new ListObject("k"u8.ToArray(), -2);
        for (int i = 0; i < 100_000; i++) list.PushTail(Encoding.ASCII.GetBytes("value:" + i));
        Assert.Equal(100_000, list.Count);
        // About 13 bytes an element in 8 KB nodes: ~160 nodes, not one object per element.
        Assert.InRange(list.NodeCount, 100, 250);
        Assert.InRange(list.MemoryUsage, 1_300_000, 2_000_000);
        var five = new ListObject("k"u8.ToArray(), 5);
        for (int i = 0; i < 100; i++) five.PushHead("x"u8);
        Assert.Equal(20, five.NodeCount);
        Assert.True(list.TryGet(77_777, out var v));
        Assert.Equal("value:77777", Encoding.ASCII.GetString(v));
    }
}

/// <summary>Lists seen through the other families: OBJECT, DEBUG, CONFIG, MEMORY, COPY/RENAME/SWAPDB waking blocked clients.</summary>
public sealed class ListIntegrationTests : IDisposable
{
    private readonly ServerProcess _server = new(null, "--enable-debug-command", "yes");

    public void Dispose() => _server.Dispose();

    private static object?[] Arr(params object?[] items) => items;

    private static long BlockedClients(RespClient c)
    {
        string info = (string)c.Call("INFO", "clients")!;
        var line = info.Split("\r\n").First(l => l.StartsWith("blocked_clients:", StringComparison.Ordinal));
        return long.Parse(line["blocked_clients:".Length..]);
    }

    private static void WaitForBlocked(RespClient c, long count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (BlockedClients(c) != count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("blocked clients never reached " + count);
            Thread.Sleep(5);
        }
    }

    [Fact]
    public void EncodingDigestAndMemory()
    {
        using var c = _server.Connect();
        c.Call("RPUSH", "dl", "a", "bb", "", "12345");
        c.Call("RPUSH", "dl2", "x");
        Assert.Equal("quicklist", c.Call("OBJECT", "ENCODING", "dl"));
        Assert.Equal("list", c.Call("TYPE", "dl"));
        // Values taken from redis-server 7.0.15 with the same contents.
        Assert.Equal(Arr("8929ac27d680e8e597fb506ceb4027668f4db1c9"), c.Call("DEBUG", "DIGEST-VALUE", "dl"));
        Assert.Equal("1f96d84f5692d292617e5246e403e9e1bd74d5a0", c.Call("DEBUG", "DIGEST"));
        Assert.InRange((long)c.Call("MEMORY", "USAGE", "dl")!, 50, 1000);
        Assert.Equal(1L, c.Call("COPY", "dl", "dl3"));
        c.Call("RPUSH", "dl3", "more");
        Assert.Equal(4L, c.Call("LLEN", "dl"));
        Assert.Equal(5L, c.Call("LLEN", "dl3"));
    }

    [Fact]
    public void NodeSettingsChangeStorageNotReplies()
    {
        using var c = _server.Connect();
        Assert.Equal("OK", c.Call("CONFIG", "SET", "list-max-ziplist-size", "1"));
        Assert.Equal("OK", c.Call("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "10b"));
        try
        {
            var big = new string('p', 40);
            c.Call("RPUSH", "ns", "a", big, "b");
            c.Call("LINSERT", "ns", "AFTER", big, big + "2");
            c.Call("LSET", "ns", "0", big + "0");
            c.Call("LPUSH", "ns", "x");
            Assert.Equal(Arr("x", big + "0", big, big + "2", "b"), c.Call("LRANGE", "ns", "0", "-1"));
            Assert.Equal(1L, c.Call("LREM", "ns", "0", big));
            Assert.Equal(Arr(big + "2", "b"), c.Call("LRANGE", "ns", "-2", "-1"));
        }
        finally
        {
            c.Call("CONFIG", "SET", "list-max-ziplist-size", "-2");
            c.Call("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0");
        }
    }

    [Fact]
    public void KeysMovedIntoPlaceWakeBlockedClients()
    {
        using var r = _server.Connect();
        using var rd = _server.Connect();
        r.Call("DEL", "{mv}foo", "{mv}bob");
        rd.SendRaw(RespClient.Encode("BLPOP", "{mv}foo", "0"));
        WaitForBlocked(r, 1);
        r.Call("LPUSH", "{mv}bob", "abc", "def", "hij");
        r.Call("RENAME", "{mv}bob", "{mv}foo");
        Assert.Equal(Arr("{mv}foo", "hij"), rd.Read());

        // SWAPDB brings a list into the database a client waits in.
        r.Call("SELECT", "1");
        r.Call("RPUSH", "sw", "hello");
        r.Call("SELECT", "9");
        r.Call("DEL", "sw");
        rd.Call("SELECT", "9");
        rd.SendRaw(RespClient.Encode("BRPOP", "sw", "5"));
        WaitForBlocked(r, 1);
        r.Call("SWAPDB", "1", "9");
        Assert.Equal(Arr("sw", "hello"), rd.Read());
        Assert.Equal(0L, BlockedClients(r));
        string clients = (string)r.Call("INFO", "clients")!;
        Assert.Contains("clients_in_timeout_table:0", clients);
    }
}
