using System.Diagnostics;
using System.Text.RegularExpressions;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>BZPOPMIN, BZPOPMAX and BZMPOP: who is served, in which order, and what is left afterwards.</summary>
public sealed class SortedSetBlockingTests : IClassFixture<InProcessBlockingServer>
{
    private readonly InProcessBlockingServer _s;
    public SortedSetBlockingTests(InProcessBlockingServer s) => _s = s;

    private static object?[] Arr(params object?[] items) => items;

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    private static long ClientId(RespClient c) => (long)c.Call("CLIENT", "ID")!;

    [Fact]
    public void FirstBlockedIsFirstServedFromEitherEnd()
    {
        using var r = _s.Connect();
        using var c1 = _s.Connect();
        using var c2 = _s.Connect();
        using var c3 = _s.Connect();
        r.Call("DEL", "zf");
        _s.Block(c1, "BZPOPMIN", "zf", "0");
        _s.Block(c2, "BZPOPMAX", "zf", "0");
        _s.Block(c3, "BZMPOP", "0", "1", "zf", "MIN", "COUNT", "10");
        Assert.Equal(5L, r.Call("ZADD", "zf", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"));
        Assert.Equal(Arr("zf", "a", "1"), c1.Read());
        Assert.Equal(Arr("zf", "e", "5"), c2.Read());
        Assert.Equal(Arr("zf", Arr(Arr("b", "2"), Arr("c", "3"), Arr("d", "4"))), c3.Read());
        Assert.Equal(0L, r.Call("EXISTS", "zf"));
        Assert.Equal(0, _s.Blocked);
    }

    [Fact]
    public void ServingStopsWhenTheSetIsEmptied()
    {
        using var r = _s.Connect();
        using var c1 = _s.Connect();
        using var c2 = _s.Connect();
        r.Call("DEL", "ze");
        _s.Block(c1, "BZPOPMIN", "ze", "0");
        _s.Block(c2, "BZPOPMIN", "ze", "0");
        r.Call("ZADD", "ze", "1", "only");
        Assert.Equal(Arr("ze", "only", "1"), c1.Read());
        Assert.Equal(1, _s.Blocked);
        r.Call("ZADD", "ze", "2", "next");
        Assert.Equal(Arr("ze", "next", "2"), c2.Read());
    }

    [Fact]
    public void KeyOfAnotherTypeKeepsTheClientBlocked()
    {
        using var r = _s.Connect();
        using var c = _s.Connect();
        r.Call("DEL", "zt");
        _s.Block(c, "BZPOPMIN", "zt", "0");
        r.Call("RPUSH", "zt", "x");
        r.Call("SET", "zt", "foo");
        Assert.Equal(1, _s.Blocked);
        r.Call("DEL", "zt");
        r.Call("ZADD", "zt", "7", "m");
        Assert.Equal(Arr("zt", "m", "7"), c.Read());
        // With a non-zset key present at call time the command fails at once.
        r.Call("SET", "zt", "foo");
        Assert.StartsWith("WRONGTYPE", Err(c.Call("BZPOPMAX", "zt", "0")));
        Assert.StartsWith("WRONGTYPE", Err(c.Call("BZMPOP", "0", "1", "zt", "MAX")));
        r.Call("DEL", "zt");
    }

    [Fact]
    public void ServedAfterTheWholeTransaction()
    {
        using var r = _s.Connect();
        using var c = _s.Connect();
        r.Call("DEL", "zm");
        _s.Block(c, "BZPOPMIN", "zm", "0");
        r.Call("MULTI");
        r.Call("ZADD", "zm", "1", "a");
        r.Call("ZADD", "zm", "2", "b");
        r.Call("ZREM", "zm", "a");
        Assert.Equal(Arr(1L, 1L, 1L), r.Call("EXEC"));
        Assert.Equal(Arr("zm", "b", "2"), c.Read());

        // Created and deleted inside one transaction: nobody wakes.
        _s.Block(c, "BZPOPMAX", "zm", "0");
        r.Call("MULTI");
        r.Call("ZADD", "zm", "1", "a");
        r.Call("DEL", "zm");
        r.Call("EXEC");
        Assert.Equal(1, _s.Blocked);
        r.Call("ZADD", "zm", "3", "c");
        Assert.Equal(Arr("zm", "c", "3"), c.Read());
    }

    [Fact]
    public void ClientUnblockAndDisconnect()
    {
        using var r = _s.Connect();
        using var c = _s.Connect();
        long id = ClientId(c);
        r.Call("DEL", "zu");
        _s.Block(c, "BZPOPMIN", "zu", "0");
        Assert.Equal(1L, r.Call("CLIENT", "UNBLOCK", id.ToString(), "TIMEOUT"));
        Assert.Null(c.Read());
        _s.Block(c, "BZMPOP", "0", "1", "zu", "MIN");
        Assert.Equal(1L, r.Call("CLIENT", "UNBLOCK", id.ToString(), "ERROR"));
        Assert.Equal("UNBLOCKED client unblocked via CLIENT UNBLOCK", Err(c.Read()));

        var gone = _s.Connect();
        _s.Block(gone, "BZPOPMAX", "zu", "100");
        Assert.Equal(1, _s.InTimeoutTable);
        gone.Dispose();
        _s.WaitForBlocked(0);
        Assert.Equal(0, _s.InTimeoutTable);
        r.Call("ZADD", "zu", "1", "kept");
        Assert.Equal(1L, r.Call("ZCARD", "zu"));
        r.Call("DEL", "zu");
    }

    [Fact]
    public void ServedPopTouchesWatchersAndCountsAsTheBlockedCommand()
    {
        using var r = _s.Connect();
        using var c = _s.Connect();
        using var watcher = _s.Connect();
        r.Call("DEL", "zw");
        r.Call("CONFIG", "RESETSTAT");
        _s.Block(c, "BZPOPMIN", "zw", "0");
        Assert.Matches(@"blocked_clients:1\r\n", (string)r.Call("INFO", "clients")!);
        r.Call("ZADD", "zw", "1", "x", "2", "y");
        Assert.Equal(Arr("zw", "x", "1"), c.Read());
        // A pop served at once (y is there) is a write to the key like ZPOPMAX: the watcher's EXEC fails.
        watcher.Call("WATCH", "zw");
        Assert.Equal(Arr("zw", "y", "2"), c.Call("BZPOPMAX", "zw", "{zw}other", "0"));
        watcher.Call("MULTI");
        watcher.Call("PING");
        Assert.Null(watcher.Call("EXEC"));
        var stats = (string)r.Call("INFO", "commandstats")!;
        Assert.Matches(@"cmdstat_bzpopmin:calls=1,", stats);
        Assert.Matches(@"cmdstat_bzpopmax:calls=1,", stats);
        Assert.Matches(@"blocked_clients:0\r\n", (string)r.Call("INFO", "clients")!);
    }

    [Fact]
    public void TimeoutsAndArguments()
    {
        using var c = _s.Connect();
        c.Call("DEL", "zn");
        var sw = Stopwatch.StartNew();
        Assert.Null(c.Call("BZPOPMIN", "zn", "0.05"));
        Assert.Null(c.Call("BZMPOP", "0.05", "1", "zn", "MAX", "COUNT", "3"));
        Assert.InRange(sw.ElapsedMilliseconds, 100, 5000);
        Assert.Equal("ERR timeout is negative", Err(c.Call("BZPOPMIN", "zn", "-1")));
        Assert.Equal("ERR timeout is not a float or out of range", Err(c.Call("BZPOPMAX", "zn", "abc")));
        Assert.Equal("ERR timeout is negative", Err(c.Call("BZMPOP", "-0.5", "1", "zn", "MIN")));
        Assert.Equal("ERR numkeys should be greater than 0", Err(c.Call("BZMPOP", "0", "0", "zn", "MIN")));
        Assert.Equal("ERR syntax error", Err(c.Call("BZMPOP", "0", "1", "zn", "UP")));
        Assert.Equal("ERR syntax error", Err(c.Call("BZMPOP", "0", "5", "zn", "MIN")));
        Assert.Equal("ERR count should be greater than 0", Err(c.Call("BZMPOP", "0", "1", "zn", "MIN", "COUNT", "0")));
        Assert.Equal("ERR wrong number of arguments for 'bzpopmin' command", Err(c.Call("BZPOPMIN", "zn")));
        Assert.Equal(0, _s.Blocked);
    }
}

/// <summary>
/// The same scripted sessions of blocking sorted-set commands against our server and a real
/// redis-server 7.0, comparing every reply, notification and error byte for byte, in RESP2 and RESP3.
/// </summary>
public sealed class SortedSetBlockingDifferentialTests : IClassFixture<ServerPair>
{
    private readonly ServerPair _pair;
    public SortedSetBlockingDifferentialTests(ServerPair pair) => _pair = pair;

    // Connection 0 writes and watches; 1-3 block; 4 listens to keyspace notifications (always RESP2).
    private static readonly string[][] Script =
    [
        ["0", "call", "DEL", "z1", "z2", "z3", "zs"],
        ["0", "call", "CONFIG", "SET", "notify-keyspace-events", "KEA"],
        ["4", "call", "PSUBSCRIBE", "__key*@0__:*"],
        ["1", "block", "BZPOPMIN", "z1", "z2", "0"],
        ["2", "block", "BZPOPMAX", "z1", "0"],
        ["3", "block", "BZMPOP", "0", "2", "z2", "z1", "MAX", "COUNT", "2"],
        ["0", "call", "ZADD", "z1", "1", "a", "2.5", "b", "3", "c", "4", "d", "5", "e"],
        ["1", "read"], ["2", "read"], ["3", "read"],
        ["0", "call", "ZRANGE", "z1", "0", "-1", "WITHSCORES"],
        // zadd, then a zpopmin and two zpopmax, each as a keyspace and a keyevent message.
        ["4", "read"], ["4", "read"], ["4", "read"], ["4", "read"],
        ["4", "read"], ["4", "read"], ["4", "read"], ["4", "read"],
        ["1", "block", "BZMPOP", "0", "1", "z3", "MIN"],
        ["0", "call", "SET", "z3", "foo"],
        ["0", "call", "DEL", "z3"],
        ["0", "call", "MULTI"],
        ["0", "call", "ZADD", "z3", "1", "x", "2", "y"],
        ["0", "call", "ZREM", "z3", "x"],
        ["0", "call", "EXEC"],
        ["1", "read"],
        ["0", "call", "MULTI"],
        ["0", "call", "BZPOPMIN", "none", "0"],
        ["0", "call", "BZMPOP", "0", "1", "none", "MIN"],
        ["0", "call", "BZPOPMAX", "z1", "0"],
        ["0", "call", "EXEC"],
        ["1", "call", "BZPOPMIN", "none", "0.01"],
        ["1", "call", "BZMPOP", "0.01", "2", "none", "none2", "MAX", "COUNT", "5"],
        ["0", "call", "ZADD", "z1", "-inf", "lo", "inf", "hi", "0", "mid", "1.5e300", "big"],
        ["1", "call", "BZPOPMIN", "z1", "0"],
        ["1", "call", "BZPOPMAX", "z1", "0"],
        ["1", "call", "BZMPOP", "0", "1", "z1", "MIN", "COUNT", "100"],
        ["0", "call", "SET", "zs", "str"],
        ["1", "call", "BZPOPMIN", "none", "zs", "0"],
        ["1", "call", "BZPOPMIN", "zs", "-1"],
        ["1", "call", "BZPOPMIN", "zs", "1e400"],
        ["1", "call", "BZMPOP", "0", "2", "zs", "MIN"],
        ["1", "call", "BZMPOP", "x", "1", "zs", "MIN"],
        ["1", "call", "BZMPOP", "0", "1", "zs", "MIN", "COUNT", "1", "COUNT", "2"],
        ["2", "block", "BZPOPMIN", "zu", "0"],
        ["0", "call", "CLIENT", "UNBLOCK", "$2", "TIMEOUT"],
        ["2", "read"],
        ["2", "block", "BZMPOP", "0", "1", "zu", "MAX"],
        ["0", "call", "CLIENT", "UNBLOCK", "$2", "ERROR"],
        ["2", "read"],
        ["0", "call", "CONFIG", "SET", "notify-keyspace-events", ""],
    ];

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void SameRepliesAsRedis(int protocol)
    {
        var ours = Run(_pair.Ours.Port, protocol);
        var real = Run(_pair.Real.Port, protocol);
        Assert.Equal(real.Count, ours.Count);
        for (int i = 0; i < real.Count; i++) Assert.Equal(real[i], ours[i]);
    }

    private static List<string> Run(int port, int protocol)
    {
        var conns = new RawRespConnection[5];
        var ids = new string[5];
        for (int i = 0; i < conns.Length; i++)
        {
            conns[i] = new RawRespConnection(port);
            if (i != 4) conns[i].Call(["HELLO", protocol.ToString()]);
            var id = conns[i].Call(["CLIENT", "ID"]);
            ids[i] = id[1..];
        }
        var transcript = new List<string>();
        try
        {
            foreach (var step in Script)
            {
                var conn = conns[int.Parse(step[0])];
                var args = step.Skip(2).Select(a => a.StartsWith('$') ? ids[int.Parse(a[1..])] : a).ToArray();
                string line = step[0] + " " + string.Join(' ', step.Skip(1)) + " -> ";
                switch (step[1])
                {
                    case "call":
                        transcript.Add(line + conn.Call(args));
                        break;
                    case "read":
                        try { transcript.Add(line + conn.ReadReply()); }
                        catch (IOException)
                        {
                            // Recorded, so a missing reply shows where the two sessions part.
                            transcript.Add(line + "no reply");
                            return transcript;
                        }
                        break;
                    case "block":
                        int before = BlockedClients(conns[0]);
                        conn.Send(args);
                        WaitBlocked(conns[0], before + 1);
                        transcript.Add(line + "blocked");
                        break;
                }
            }
            transcript.Add("blocked at end: " + BlockedClients(conns[0]));
        }
        finally
        {
            foreach (var c in conns) c.Dispose();
        }
        return transcript;
    }

    private static int BlockedClients(RawRespConnection c)
    {
        var m = Regex.Match(c.Call(["INFO", "clients"]), @"blocked_clients:(\d+)");
        return int.Parse(m.Groups[1].Value);
    }

    private static void WaitBlocked(RawRespConnection c, int count)
    {
        var sw = Stopwatch.StartNew();
        while (BlockedClients(c) != count)
        {
            if (sw.ElapsedMilliseconds > 5000) throw new TimeoutException($"expected {count} blocked clients");
            Thread.Sleep(2);
        }
    }
}
