using System.Text.RegularExpressions;
using System.Text;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Streams against our server and, for deterministic command sequences (explicit IDs, no timing
/// fields), against a real redis-server 7.0 with replies compared exactly.
/// </summary>
public sealed class StreamTests : IClassFixture<ServerPair>
{
    private readonly ServerPair _pair;
    public StreamTests(ServerPair pair) => _pair = pair;

    private static string Show(object? r) => r switch
    {
        null => "(nil)",
        object?[] a => "[" + string.Join(",", a.Select(Show)) + "]",
        RespError e => "ERR:" + e.Message,
        _ => r.ToString()!,
    };

    /// <summary>Runs each command on both servers and asserts identical replies.</summary>
    private void Differential(string prefix, params string[][] script)
    {
        using var ours = new RespClient(_pair.Ours.Port);
        using var real = _pair.Real.Connect();
        for (int i = 0; i < script.Length; i++)
        {
            var cmd = script[i].Select(a => (object)a.Replace("{k}", prefix)).ToArray();
            string a = Show(ours.Call(cmd)), b = Show(real.Call(cmd));
            // HELLO's reply carries the connection id, which depends on each server's history.
            if (cmd[0] is "HELLO") { a = Regex.Replace(a, @",id,\d+,", ",id,N,"); b = Regex.Replace(b, @",id,\d+,", ",id,N,"); }
            Assert.True(a == b, $"#{i} {string.Join(' ', cmd)}:\n ours {a}\n real {b}");
        }
    }

    private static string[] C(params string[] a) => a;

    [Fact]
    public void BasicCommandsMatchRealRedis() => Differential("sb",
        C("DEL", "{k}"),
        C("XADD", "{k}", "1-1", "a", "1", "b", "2"),
        C("XADD", "{k}", "1-1", "a", "1"),
        C("XADD", "{k}", "0-0", "a", "1"),
        C("XADD", "{k}", "1-*", "c", "3"),
        C("XADD", "{k}", "5", "c", "3", "d", "4"),
        C("XADD", "{k}", "5-x", "c", "3"),
        C("XADD", "{k}", "6-0", "c"),
        C("XADD", "{k}", "NOMKSTREAM", "7-0", "x", "y"),
        C("XADD", "missing{k}", "NOMKSTREAM", "7-0", "x", "y"),
        C("XADD", "{k}", "MAXLEN", "~", "10", "LIMIT", "5", "8-0", "x", "y"),
        C("XADD", "{k}", "MAXLEN", "10", "LIMIT", "5", "8-0", "x", "y"),
        C("XADD", "{k}", "MAXLEN", "-1", "8-0", "x", "y"),
        C("XADD", "{k}", "MAXLEN", "1", "MINID", "1", "8-0", "x", "y"),
        C("XRANGE", "{k}", "-", "+"),
        C("XRANGE", "{k}", "(1-1", "+", "COUNT", "2"),
        C("XRANGE", "{k}", "-", "(5", "COUNT", "0"),
        C("XRANGE", "{k}", "(-", "+"),
        C("XRANGE", "{k}", "(18446744073709551615-18446744073709551615", "+"),
        C("XREVRANGE", "{k}", "+", "-", "COUNT", "2"),
        C("XREVRANGE", "{k}", "(7", "1-2"),
        C("XRANGE", "{k}", "-", "+", "FOO"),
        C("XLEN", "{k}"),
        C("XDEL", "{k}", "1-2", "9-9", "bad"),
        C("XDEL", "{k}", "1-2", "9-9"),
        C("XINFO", "STREAM", "{k}"),
        C("XTRIM", "{k}", "MAXLEN", "2"),
        C("XTRIM", "{k}", "MINID", "=", "7"),
        C("XTRIM", "{k}", "LIMIT", "2"),
        C("XTRIM", "{k}", "MAXLEN", "=", "1", "LIMIT", "2"),
        C("XINFO", "STREAM", "{k}"),
        C("XSETID", "{k}", "1-0"),
        C("XSETID", "{k}", "100-0", "ENTRIESADDED", "50", "MAXDELETEDID", "99-0"),
        C("XSETID", "{k}", "100-0", "MAXDELETEDID", "101-0"),
        C("XSETID", "nokey{k}", "100-0"),
        C("XINFO", "STREAM", "{k}"),
        C("XLEN", "nokey{k}"),
        C("SET", "str{k}", "x"),
        C("XADD", "str{k}", "*", "a", "b"),
        C("XRANGE", "str{k}", "-", "+"));

    [Fact]
    public void ApproximateTrimmingFollowsNodeSize()
    {
        var script = new List<string[]> { C("DEL", "{k}"), C("CONFIG", "SET", "stream-node-max-entries", "10") };
        for (int i = 1; i <= 95; i++) script.Add(C("XADD", "{k}", $"{i}-0", "f", "v" + i));
        script.Add(C("XTRIM", "{k}", "MAXLEN", "~", "42"));
        script.Add(C("XLEN", "{k}"));
        script.Add(C("XADD", "{k}", "MINID", "~", "61", "200-0", "g", "w"));
        script.Add(C("XRANGE", "{k}", "-", "+", "COUNT", "3"));
        script.Add(C("XTRIM", "{k}", "MAXLEN", "~", "0", "LIMIT", "15"));
        script.Add(C("XLEN", "{k}"));
        script.Add(C("XTRIM", "{k}", "MAXLEN", "3"));
        script.Add(C("XRANGE", "{k}", "-", "+"));
        script.Add(C("XINFO", "STREAM", "{k}"));
        script.Add(C("CONFIG", "SET", "stream-node-max-entries", "100"));
        Differential("trim", script.ToArray());
    }

    [Fact]
    public void ConsumerGroupsMatchRealRedis() => Differential("cg",
        C("DEL", "{k}"),
        C("XGROUP", "CREATE", "{k}", "g", "$"),
        C("XGROUP", "CREATE", "{k}", "g", "$", "MKSTREAM"),
        C("XGROUP", "CREATE", "{k}", "g", "$", "MKSTREAM"),
        C("XADD", "{k}", "1-0", "a", "1"),
        C("XADD", "{k}", "2-0", "b", "2"),
        C("XADD", "{k}", "3-0", "c", "3"),
        C("XGROUP", "CREATE", "{k}", "g2", "0", "ENTRIESREAD", "-5"),
        C("XGROUP", "CREATE", "{k}", "g2", "0"),
        C("XINFO", "GROUPS", "{k}"),
        C("XREADGROUP", "GROUP", "g2", "alice", "COUNT", "1", "STREAMS", "{k}", ">"),
        C("XREADGROUP", "GROUP", "g2", "bob", "STREAMS", "{k}", ">"),
        C("XREADGROUP", "GROUP", "g2", "bob", "STREAMS", "{k}", ">"),
        C("XREADGROUP", "GROUP", "g2", "alice", "STREAMS", "{k}", "0"),
        C("XREADGROUP", "GROUP", "nogroup", "alice", "STREAMS", "{k}", ">"),
        C("XREADGROUP", "GROUP", "g2", "alice", "STREAMS", "{k}", "$"),
        C("XREAD", "STREAMS", "{k}", ">"),
        C("XREAD", "GROUP", "g", "a", "STREAMS", "{k}", "0"),
        C("XREAD", "COUNT", "2", "STREAMS", "{k}", "nokey{k}", "0", "0"),
        C("XREAD", "STREAMS", "{k}"),
        C("XINFO", "GROUPS", "{k}"),
        C("XPENDING", "{k}", "g2"),
        C("XPENDING", "{k}", "g2", "-", "+", "10", "nobody"),
        C("XPENDING", "{k}", "nogroup"),
        C("XACK", "{k}", "g2", "1-0", "9-0"),
        C("XACK", "{k}", "g2", "bad"),
        C("XDEL", "{k}", "2-0"),
        C("XINFO", "GROUPS", "{k}"),
        C("XCLAIM", "{k}", "g2", "carol", "0", "2-0", "3-0", "JUSTID", "RETRYCOUNT", "7"),
        C("XCLAIM", "{k}", "g2", "carol", "0", "3-0", "FOO"),
        C("XCLAIM", "{k}", "nogroup", "carol", "0", "3-0"),
        C("XPENDING", "{k}", "g2"),
        C("XAUTOCLAIM", "{k}", "g2", "dave", "0", "0", "COUNT", "0"),
        C("XAUTOCLAIM", "{k}", "g2", "dave", "0", "0", "JUSTID"),
        C("XGROUP", "CREATECONSUMER", "{k}", "g2", "erin"),
        C("XGROUP", "CREATECONSUMER", "{k}", "g2", "erin"),
        C("XGROUP", "DELCONSUMER", "{k}", "g2", "dave"),
        C("XGROUP", "DELCONSUMER", "{k}", "nog", "dave"),
        C("XGROUP", "SETID", "{k}", "g2", "0", "ENTRIESREAD", "0"),
        C("XINFO", "GROUPS", "{k}"),
        C("XGROUP", "SETID", "{k}", "g2", "$"),
        C("XINFO", "GROUPS", "{k}"),
        C("XGROUP", "DESTROY", "{k}", "g"),
        C("XGROUP", "DESTROY", "{k}", "g"),
        C("XGROUP", "FOO", "{k}", "g"),
        C("XINFO", "CONSUMERS", "{k}", "nog"),
        C("XINFO", "STREAM", "nokey{k}"),
        C("XGROUP", "HELP"),
        C("XINFO", "HELP"));

    [Fact]
    public void BlockingXReadIsServedByXAdd()
    {
        using var reader = new RespClient(_pair.Ours.Port);
        using var writer = new RespClient(_pair.Ours.Port);
        writer.Call("DEL", "bx");
        reader.SendRaw(RespClient.Encode("XREAD", "BLOCK", "5000", "STREAMS", "bx", "$"));
        Thread.Sleep(100);
        Assert.Equal("5-0", writer.Call("XADD", "bx", "5-0", "f", "v"));
        Assert.Equal("[[bx,[[5-0,[f,v]]]]]", Show(reader.Read()));
        // A timeout answers a null array; inside MULTI it never blocks.
        Assert.Null(reader.Call("XREAD", "BLOCK", "50", "STREAMS", "bx", "$"));
        reader.Call("MULTI");
        reader.Call("XREAD", "BLOCK", "0", "STREAMS", "bx", "$");
        Assert.Equal("[(nil)]", Show(reader.Call("EXEC")));
    }

    [Fact]
    public void BlockedGroupReaderLearnsOfDestroyedGroupAndDeletedKey()
    {
        using var reader = new RespClient(_pair.Ours.Port);
        using var writer = new RespClient(_pair.Ours.Port);
        writer.Call("DEL", "bg");
        writer.Call("XGROUP", "CREATE", "bg", "g", "$", "MKSTREAM");
        reader.SendRaw(RespClient.Encode("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "bg", ">"));
        Thread.Sleep(100);
        writer.Call("XGROUP", "DESTROY", "bg", "g");
        Assert.Equal("ERR:NOGROUP the consumer group this client was blocked on no longer exists", Show(reader.Read()));
        writer.Call("XGROUP", "CREATE", "bg", "g", "$");
        reader.SendRaw(RespClient.Encode("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "bg", ">"));
        Thread.Sleep(100);
        writer.Call("DEL", "bg");
        Assert.Equal("ERR:UNBLOCKED the stream key no longer exists", Show(reader.Read()));
        // Served by an XADD, the entry becomes pending for the consumer.
        writer.Call("XGROUP", "CREATE", "bg", "g", "$", "MKSTREAM");
        reader.SendRaw(RespClient.Encode("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "bg", ">"));
        Thread.Sleep(100);
        writer.Call("XADD", "bg", "1-0", "k", "v");
        Assert.Equal("[[bg,[[1-0,[k,v]]]]]", Show(reader.Read()));
        Assert.Equal("[1,1-0,1-0,[[c,1]]]", Show(writer.Call("XPENDING", "bg", "g")));
    }

    [Fact]
    public void StreamIsIntrospectable()
    {
        using var c = new RespClient(_pair.Ours.Port);
        c.Call("DEL", "is");
        c.Call("XADD", "is", "1-0", "a", "b");
        Assert.Equal("stream", c.Call("TYPE", "is"));
        Assert.Equal("stream", c.Call("OBJECT", "ENCODING", "is"));
        Assert.True((long)c.Call("MEMORY", "USAGE", "is")! > 0);
        Assert.IsType<string>(c.Call("DEBUG", "DIGEST-VALUE", "is") is object?[] d ? d[0] : null);
        Assert.Contains("is", Show(c.Call("SCAN", "0", "TYPE", "stream", "COUNT", "1000")));
    }

    [Fact]
    public void ManyEntriesIterateBothWays()
    {
        using var c = new RespClient(_pair.Ours.Port);
        c.Call("DEL", "many");
        var sb = new StringBuilder();
        for (int i = 1; i <= 1000; i++) c.Call("XADD", "many", $"{i}-{i % 3}", i % 7 == 0 ? "other" : "f", new string('x', i % 200));
        var fwd = (object?[])c.Call("XRANGE", "many", "-", "+")!;
        var rev = (object?[])c.Call("XREVRANGE", "many", "+", "-")!;
        Assert.Equal(1000, fwd.Length);
        Assert.Equal(fwd.Select(Show), rev.Reverse().Select(Show));
        Assert.Equal("[[500-2,[f," + new string('x', 100) + "]]]", Show(c.Call("XRANGE", "many", "500", "500")));
    }

    [Fact]
    public void Resp3RepliesMatchRealRedis() => Differential("r3",
        C("HELLO", "3"),
        C("DEL", "{k}"),
        C("XADD", "{k}", "1-0", "a", "1"),
        C("XREAD", "STREAMS", "{k}", "0"),
        C("XREAD", "STREAMS", "{k}", "$"),
        C("XGROUP", "CREATE", "{k}", "g", "0"),
        C("XREADGROUP", "GROUP", "g", "c", "STREAMS", "{k}", ">"),
        C("XINFO", "GROUPS", "{k}"),
        C("XPENDING", "{k}", "g", "-", "+", "0"),
        C("XRANGE", "{k}", "-", "+", "COUNT", "0"));

    [Fact]
    public void WritesSendKeyspaceEvents()
    {
        using var c = new RespClient(_pair.Ours.Port);
        using var sub = new RespClient(_pair.Ours.Port);
        c.Call("CONFIG", "SET", "notify-keyspace-events", "Et");
        try
        {
            sub.Call("SUBSCRIBE", "__keyevent@0__:xadd", "__keyevent@0__:xtrim", "__keyevent@0__:xdel",
                "__keyevent@0__:xgroup-create", "__keyevent@0__:xgroup-createconsumer", "__keyevent@0__:xgroup-delconsumer",
                "__keyevent@0__:xgroup-setid", "__keyevent@0__:xgroup-destroy", "__keyevent@0__:xsetid");
            for (int i = 1; i < 9; i++) sub.Read();
            c.Call("DEL", "ev");
            c.Call("XADD", "ev", "MAXLEN", "0", "1-0", "a", "b");
            c.Call("XADD", "ev", "2-0", "a", "b");
            c.Call("XDEL", "ev", "2-0");
            c.Call("XGROUP", "CREATE", "ev", "g", "0");
            c.Call("XGROUP", "CREATECONSUMER", "ev", "g", "c");
            c.Call("XGROUP", "DELCONSUMER", "ev", "g", "c");
            c.Call("XGROUP", "SETID", "ev", "g", "0");
            c.Call("XGROUP", "DESTROY", "ev", "g");
            c.Call("XSETID", "ev", "5-0");
            var events = new List<string>();
            for (int i = 0; i < 10; i++) events.Add(((string)((object?[])sub.Read()!)[1]!).Split(':')[1]);
            Assert.Equal(new[] { "xadd", "xtrim", "xadd", "xdel", "xgroup-create", "xgroup-createconsumer",
                "xgroup-delconsumer", "xgroup-setid", "xgroup-destroy", "xsetid" }, events);
        }
        finally
        {
            c.Call("CONFIG", "SET", "notify-keyspace-events", "");
        }
    }

    [Fact]
    public void WatchedStreamIsInvalidatedByXAdd()
    {
        using var c = new RespClient(_pair.Ours.Port);
        using var other = new RespClient(_pair.Ours.Port);
        c.Call("DEL", "wx");
        c.Call("WATCH", "wx");
        other.Call("XADD", "wx", "1-0", "a", "b");
        c.Call("MULTI");
        c.Call("PING");
        Assert.Null(c.Call("EXEC"));
    }

    /// <summary>
    /// Random stream and group commands with explicit IDs on both servers, small nodes so trimming
    /// crosses node boundaries; every reply must match (XINFO STREAM's radix-tree-nodes, a property of
    /// Redis's tree, is left out).
    /// </summary>
    [Theory]
    [InlineData(1, "3")]
    [InlineData(2, "10")]
    [InlineData(3, "100")]
    public void RandomCommandsMatchRealRedis(int seed, string nodeEntries)
    {
        using var ours = new RespClient(_pair.Ours.Port);
        using var real = _pair.Real.Connect();
        var rng = new Random(seed);
        string key = "fz" + seed;
        ulong ms = 1, seq = 0;
        string RandId() => $"{rng.Next(0, (int)ms + 3)}-{rng.Next(0, 4)}";
        string Bound() => rng.Next(6) switch { 0 => "-", 1 => "+", 2 => "(" + RandId(), 3 => rng.Next(0, (int)ms + 2).ToString(), _ => RandId() };
        var script = new List<string[]>
        {
            C("DEL", key), C("CONFIG", "SET", "stream-node-max-entries", nodeEntries),
            C("XGROUP", "CREATE", key, "g1", "0", "MKSTREAM"), C("XGROUP", "CREATE", key, "g2", "$"),
        };
        for (int i = 0; i < 1500; i++)
        {
            switch (rng.Next(16))
            {
                case < 5:
                    if (rng.Next(3) == 0) { ms += (ulong)rng.Next(0, 3); seq = 0; } else seq++;
                    var add = new List<string> { "XADD", key };
                    if (rng.Next(8) == 0) add.AddRange(new[] { "MAXLEN", rng.Next(2) == 0 ? "~" : "=", rng.Next(0, 60).ToString() });
                    add.Add(rng.Next(10) == 0 ? $"{ms}-*" : $"{ms}-{seq}");
                    int pairs = rng.Next(1, 3);
                    for (int p = 0; p < pairs; p++) add.AddRange(new[] { rng.Next(3) == 0 ? "x" + p : "f" + p, "v" + rng.Next(1000) });
                    script.Add(add.ToArray());
                    break;
                case 5: script.Add(C("XDEL", key, RandId(), RandId())); break;
                case 6:
                    script.Add(rng.Next(3) switch
                    {
                        0 => C("XTRIM", key, "MAXLEN", "~", rng.Next(0, 80).ToString(), "LIMIT", rng.Next(0, 30).ToString()),
                        1 => C("XTRIM", key, "MINID", rng.Next(2) == 0 ? "~" : "=", RandId()),
                        _ => C("XTRIM", key, "MAXLEN", rng.Next(0, 80).ToString()),
                    });
                    break;
                case 7: script.Add(C("XRANGE", key, Bound(), Bound(), "COUNT", rng.Next(0, 8).ToString())); break;
                case 8: script.Add(C("XREVRANGE", key, Bound(), Bound())); break;
                case 9: script.Add(C("XREADGROUP", "GROUP", rng.Next(2) == 0 ? "g1" : "g2", "c" + rng.Next(3), "COUNT", rng.Next(1, 5).ToString(), "STREAMS", key, rng.Next(4) == 0 ? "0" : ">")); break;
                case 10: script.Add(C("XACK", key, "g1", RandId(), RandId())); break;
                case 11: script.Add(C("XPENDING", key, rng.Next(2) == 0 ? "g1" : "g2")); break;
                case 12: script.Add(C("XINFO", "GROUPS", key)); break;
                case 13: script.Add(C("XAUTOCLAIM", key, "g1", "c9", "0", RandId(), "COUNT", rng.Next(1, 4).ToString(), "JUSTID")); break;
                case 14: script.Add(C("XREAD", "COUNT", rng.Next(1, 4).ToString(), "STREAMS", key, RandId())); break;
                default:
                    script.Add(rng.Next(3) == 0 ? C("XGROUP", "SETID", key, "g2", RandId()) : C("XLEN", key));
                    break;
            }
        }
        script.Add(C("XINFO", "STREAM", key));
        script.Add(C("CONFIG", "SET", "stream-node-max-entries", "100"));
        for (int i = 0; i < script.Count; i++)
        {
            var cmd = script[i].Cast<object>().ToArray();
            string a = Show(ours.Call(cmd)), b = Show(real.Call(cmd));
            if (script[i][0] == "XINFO" && script[i][1] == "STREAM")
            {
                a = System.Text.RegularExpressions.Regex.Replace(a, "radix-tree-nodes,\\d+", "");
                b = System.Text.RegularExpressions.Regex.Replace(b, "radix-tree-nodes,\\d+", "");
            }
            Assert.True(a == b, $"#{i} {string.Join(' ', cmd)}:\n ours {a}\n real {b}");
        }
    }

    [Fact]
    public void BlockedGroupReaderLearnsOfSwappedAwayStream()
    {
        using var reader = new RespClient(_pair.Ours.Port);
        using var writer = new RespClient(_pair.Ours.Port);
        foreach (var db in new[] { "4", "9" })
        {
            writer.Call("SELECT", db);
            writer.Call("FLUSHDB");
        }
        writer.Call("SELECT", "4");
        writer.Call("LPUSH", "sw", "e1");
        writer.Call("SELECT", "9");
        writer.Call("XADD", "sw", "666", "f", "v");
        writer.Call("XGROUP", "CREATE", "sw", "g", "$");
        reader.Call("SELECT", "9");
        reader.SendRaw(RespClient.Encode("XREADGROUP", "GROUP", "g", "Alice", "BLOCK", "0", "STREAMS", "sw", ">"));
        Thread.Sleep(100);
        writer.Call("SWAPDB", "4", "9");
        Assert.Equal("ERR:UNBLOCKED the stream key no longer exists", Show(reader.Read()));
        // A plain XREAD keeps waiting while its key is missing, and is served once it is added again.
        writer.Call("FLUSHDB");
        reader.SendRaw(RespClient.Encode("XREAD", "BLOCK", "0", "STREAMS", "sw", "0"));
        Thread.Sleep(100);
        writer.Call("SET", "sw", "not a stream");
        writer.Call("DEL", "sw");
        writer.Call("XADD", "sw", "1-0", "a", "b");
        Assert.Equal("[[sw,[[1-0,[a,b]]]]]", Show(reader.Read()));
    }
}
