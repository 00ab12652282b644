using System.Diagnostics;
using Redoubt.Server.Config;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// A server in the test process listening on a free loopback port, so tests can wait until clients
/// are really blocked (and check that nothing is left behind) before acting.
/// </summary>
public sealed class InProcessBlockingServer : IDisposable
{
    public RedisServer Server { get; }
    public int Port { get; }

    public InProcessBlockingServer()
    {
        Port = ServerProcess.FreePort();
        Server = new RedisServer(new ServerConfig { Port = Port, Bind = ["127.0.0.1"], LogLevel = "warning" });
        Server.Start();
    }

    public RespClient Connect() => new(Port);

    public int Blocked
    {
        get { lock (Server.Sync) return Server.Blocking.BlockedClients; }
    }

    public int InTimeoutTable
    {
        get { lock (Server.Sync) return Server.Blocking.ClientsInTimeoutTable; }
    }

    /// <summary>Sends a blocking command without reading, and waits until the server has blocked it.</summary>
    public void Block(RespClient c, params object[] command)
    {
        int before = Blocked;
        c.SendRaw(RespClient.Encode(command));
        WaitForBlocked(before + 1);
    }

    /// <summary>Waits until exactly <paramref name="count"/> clients are blocked on keys.</summary>
    public void WaitForBlocked(int count)
    {
        var sw = Stopwatch.StartNew();
        while (Blocked != count)
        {
            if (sw.ElapsedMilliseconds > 5000) throw new TimeoutException($"expected {count} blocked clients, have {Blocked}");
            Thread.Sleep(2);
        }
    }

    public void Dispose() => Server.Shutdown(noSave: true, force: true);
}

/// <summary>Blocking list commands: who is served, in which order, and what is left afterwards.</summary>
public sealed class BlockingTests : IClassFixture<InProcessBlockingServer>
{
    private readonly InProcessBlockingServer _s;
    public BlockingTests(InProcessBlockingServer s) => _s = s;

    private static object?[] Arr(params object?[] items) => items;

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    private static long ClientId(RespClient c)
    {
        var hello = Assert.IsType<object?[]>(c.Call("HELLO", "2"));
        return (long)hello[Array.IndexOf(hello, "id") + 1]!;
    }

    [Fact]
    public void FirstBlockedIsFirstServed()
    {
        using var r = _s.Connect();
        using var c1 = _s.Connect();
        using var c2 = _s.Connect();
        using var c3 = _s.Connect();
        r.Call("DEL", "fifo");
        _s.Block(c1, "BLPOP", "fifo", "0");
        _s.Block(c2, "BRPOP", "fifo", "0");
        _s.Block(c3, "BLPOP", "fifo", "0");
        Assert.Equal(4L, r.Call("RPUSH", "fifo", "a", "b", "c", "d"));
        Assert.Equal(Arr("fifo", "a"), c1.Read());
        Assert.Equal(Arr("fifo", "d"), c2.Read());
        Assert.Equal(Arr("fifo", "b"), c3.Read());
        Assert.Equal(Arr("c"), r.Call("LRANGE", "fifo", "0", "-1"));
        Assert.Equal(0, _s.Blocked);
    }

    [Fact]
    public void ServedFromTheKeyThatGotData()
    {
        using var r = _s.Connect();
        using var c = _s.Connect();
        r.Call("DEL", "{mk}1", "{mk}2");
        _s.Block(c, "BLPOP", "{mk}1", "{mk}2", "{mk}2", "{mk}1", "0");
        r.Call("LPUSH", "{mk}2", "b");
        Assert.Equal(Arr("{mk}2", "b"), c.Read());
        // With data already there, the first non-empty key in argument order wins.
        r.Call("LPUSH", "{mk}2", "y");
        r.Call("LPUSH", "{mk}1", "x");
        Assert.Equal(Arr("{mk}1", "x"), c.Call("BLPOP", "{mk}1", "{mk}2", "0"));
        Assert.Equal(Arr("{mk}2", "y"), c.Call("BRPOP", "{mk}1", "{mk}2", "0"));
        Assert.Equal(0L, r.Call("EXISTS", "{mk}1", "{mk}2"));
    }

    [Fact]
    public void OnlyTheBlockedDatabaseWakes()
    {
        using var r = _s.Connect();
        using var c = _s.Connect();
        c.Call("SELECT", "9");
        r.Call("SELECT", "9");
        r.Call("DEL", "dbk");
        _s.Block(c, "BLPOP", "dbk", "0");
        r.Call("SELECT", "0");
        r.Call("RPUSH", "dbk", "db0");
        Assert.Equal(1, _s.Blocked);
        r.Call("SELECT", "9");
        r.Call("RPUSH", "dbk", "db9");
        Assert.Equal(Arr("dbk", "db9"), c.Read());
        r.Call("SELECT", "0");
        Assert.Equal("db0", r.Call("LPOP", "dbk"));
    }

    [Fact]
    public void DisconnectWhileBlockedLeavesNoTrace()
    {
        using var r = _s.Connect();
        r.Call("DEL", "gone");
        var c = _s.Connect();
        _s.Block(c, "BLPOP", "gone", "100");
        Assert.Equal(1, _s.InTimeoutTable);
        c.Dispose();
        _s.WaitForBlocked(0);
        Assert.Equal(0, _s.InTimeoutTable);
        r.Call("RPUSH", "gone", "kept");
        Assert.Equal(Arr("kept"), r.Call("LRANGE", "gone", "0", "-1"));
        using var c2 = _s.Connect();
        Assert.Equal(Arr("gone", "kept"), c2.Call("BLPOP", "gone", "0"));
        lock (_s.Server.Sync) Assert.False(_s.Server.Blocking.HasReadyKeys);
    }

    [Fact]
    public void PushesInsideMultiAreServedAfterExec()
    {
        using var r = _s.Connect();
        using var c = _s.Connect();
        r.Call("DEL", "mx");
        _s.Block(c, "BLPOP", "mx", "0");
        r.Call("MULTI");
        r.Call("LPUSH", "mx", "a");
        r.Call("LPUSH", "mx", "b");
        r.Call("LPUSH", "mx", "c");
        Assert.Equal(Arr(1L, 2L, 3L), r.Call("EXEC"));
        Assert.Equal(Arr("mx", "c"), c.Read());

        // A list created and deleted within one transaction wakes nobody.
        r.Call("DEL", "mx");
        _s.Block(c, "BLMPOP", "0", "1", "mx", "LEFT", "COUNT", "1");
        r.Call("MULTI");
        r.Call("LPUSH", "mx", "a");
        r.Call("DEL", "mx");
        r.Call("SET", "mx", "foo");
        r.Call("EXEC");
        Assert.Equal(1, _s.Blocked);
        r.Call("DEL", "mx");
        r.Call("LPUSH", "mx", "b");
        Assert.Equal(Arr("mx", Arr("b")), c.Read());
    }

    [Fact]
    public void LinkedAndCircularMoves()
    {
        using var r = _s.Connect();
        using var c1 = _s.Connect();
        using var c2 = _s.Connect();
        r.Call("DEL", "{lm}1", "{lm}2", "{lm}3");
        _s.Block(c1, "BLMOVE", "{lm}1", "{lm}2", "RIGHT", "LEFT", "0");
        _s.Block(c2, "BLMOVE", "{lm}2", "{lm}3", "LEFT", "RIGHT", "0");
        r.Call("RPUSH", "{lm}1", "foo");
        Assert.Equal("foo", c1.Read());
        Assert.Equal("foo", c2.Read());
        Assert.Equal(Arr(), r.Call("LRANGE", "{lm}1", "0", "-1"));
        Assert.Equal(Arr(), r.Call("LRANGE", "{lm}2", "0", "-1"));
        Assert.Equal(Arr("foo"), r.Call("LRANGE", "{lm}3", "0", "-1"));

        r.Call("DEL", "{lm}1", "{lm}2");
        _s.Block(c1, "BRPOPLPUSH", "{lm}1", "{lm}2", "0");
        _s.Block(c2, "BRPOPLPUSH", "{lm}2", "{lm}1", "0");
        r.Call("RPUSH", "{lm}1", "bar");
        Assert.Equal("bar", c1.Read());
        Assert.Equal("bar", c2.Read());
        Assert.Equal(Arr("bar"), r.Call("LRANGE", "{lm}1", "0", "-1"));
        Assert.Equal(0L, r.Call("EXISTS", "{lm}2"));

        r.Call("DEL", "{lm}1");
        _s.Block(c1, "BRPOPLPUSH", "{lm}1", "{lm}1", "0");
        r.Call("RPUSH", "{lm}1", "self");
        Assert.Equal("self", c1.Read());
        Assert.Equal(Arr("self"), r.Call("LRANGE", "{lm}1", "0", "-1"));
    }

    [Fact]
    public void MoveIntoAListAnotherClientWaitsOn()
    {
        using var r = _s.Connect();
        using var mover = _s.Connect();
        using var popper = _s.Connect();
        r.Call("DEL", "{t}src", "{t}dst");
        _s.Block(popper, "BLPOP", "{t}dst", "0");
        _s.Block(mover, "BLMOVE", "{t}src", "{t}dst", "LEFT", "RIGHT", "0");
        r.Call("RPUSH", "{t}src", "foo");
        Assert.Equal("foo", mover.Read());
        Assert.Equal(Arr("{t}dst", "foo"), popper.Read());
        Assert.Equal(0L, r.Call("EXISTS", "{t}src", "{t}dst"));
    }

    [Fact]
    public void WrongTypeDestinationReleasesWithErrorAndKeepsTheElement()
    {
        using var r = _s.Connect();
        using var c1 = _s.Connect();
        using var c2 = _s.Connect();
        r.Call("DEL", "{w}src", "{w}dst2");
        r.Call("SET", "{w}dst1", "nolist");
        _s.Block(c1, "BRPOPLPUSH", "{w}src", "{w}dst1", "0");
        _s.Block(c2, "BRPOPLPUSH", "{w}src", "{w}dst2", "0");
        r.Call("RPUSH", "{w}src", "a", "b", "c");
        Assert.StartsWith("WRONGTYPE", Err(c1.Read()));
        Assert.Equal("c", c2.Read());
        Assert.Equal(Arr("a", "b"), r.Call("LRANGE", "{w}src", "0", "-1"));
        Assert.Equal(Arr("c"), r.Call("LRANGE", "{w}dst2", "0", "-1"));
    }

    [Fact]
    public void BlmpopWithCountsServesInOrder()
    {
        using var r = _s.Connect();
        var c = new RespClient[4];
        for (int i = 0; i < 4; i++) c[i] = _s.Connect();
        try
        {
            r.Call("DEL", "{bm}1", "{bm}2");
            _s.Block(c[0], "BLMPOP", "0", "2", "{bm}1", "{bm}2", "LEFT", "COUNT", "1");
            _s.Block(c[1], "BLMPOP", "0", "2", "{bm}1", "{bm}2", "RIGHT", "COUNT", "10");
            _s.Block(c[2], "BLMPOP", "0", "2", "{bm}1", "{bm}2", "LEFT", "COUNT", "10");
            _s.Block(c[3], "BLMPOP", "0", "2", "{bm}1", "{bm}2", "RIGHT", "COUNT", "1");
            r.Call("MULTI");
            r.Call("LPUSH", "{bm}1", "a", "b", "c", "d", "e");
            r.Call("LPUSH", "{bm}2", "1", "2", "3", "4", "5");
            r.Call("EXEC");
            Assert.Equal(Arr("{bm}1", Arr("e")), c[0].Read());
            Assert.Equal(Arr("{bm}1", Arr("a", "b", "c", "d")), c[1].Read());
            Assert.Equal(Arr("{bm}2", Arr("5", "4", "3", "2", "1")), c[2].Read());
            Assert.Equal(1, _s.Blocked);
            r.Call("LPUSH", "{bm}2", "1", "2", "3");
            Assert.Equal(Arr("{bm}2", Arr("1")), c[3].Read());
        }
        finally
        {
            foreach (var x in c) x.Dispose();
        }
    }

    [Fact]
    public void PipelinedCommandsRunOnceUnblocked()
    {
        using var r = _s.Connect();
        using var c = _s.Connect();
        r.Call("DEL", "pipe", "pipe2");
        c.SendRaw("BLPOP pipe 0\r\nPING\r\nBLPOP pipe2 0\r\nRPUSH pipe3 x\r\n");
        _s.WaitForBlocked(1);
        r.Call("RPUSH", "pipe", "v");
        Assert.Equal(Arr("pipe", "v"), c.Read());
        Assert.Equal("PONG", c.Read());
        _s.WaitForBlocked(1);
        Assert.Equal(0L, r.Call("EXISTS", "pipe3"));
        r.Call("RPUSH", "pipe2", "w");
        Assert.Equal(Arr("pipe2", "w"), c.Read());
        Assert.Equal(1L, c.Read());
        r.Call("DEL", "pipe3");
    }

    [Fact]
    public void ServedMoveTouchesWatchedDestination()
    {
        using var r = _s.Connect();
        using var blocked = _s.Connect();
        using var watcher = _s.Connect();
        r.Call("DEL", "{wa}src", "{wa}dst");
        r.Call("SET", "{wa}some", "value");
        _s.Block(blocked, "BRPOPLPUSH", "{wa}src", "{wa}dst", "0");
        Assert.Equal("OK", watcher.Call("WATCH", "{wa}dst"));
        watcher.Call("MULTI");
        watcher.Call("GET", "{wa}some");
        r.Call("LPUSH", "{wa}src", "element");
        Assert.Equal("element", blocked.Read());
        Assert.Null(watcher.Call("EXEC"));
    }

    [Fact]
    public void ClientUnblockReleasesWithTimeoutOrError()
    {
        using var r = _s.Connect();
        using var c = _s.Connect();
        long id = ClientId(c);
        r.Call("DEL", "ub");
        _s.Block(c, "BLPOP", "ub", "0");
        Assert.Equal(1L, r.Call("CLIENT", "UNBLOCK", id.ToString()));
        Assert.Null(c.Read());
        _s.Block(c, "BLMOVE", "ub", "ub2", "LEFT", "LEFT", "0");
        Assert.Equal(1L, r.Call("CLIENT", "UNBLOCK", id.ToString(), "TIMEOUT"));
        Assert.Null(c.Read());
        _s.Block(c, "BRPOP", "ub", "0");
        Assert.Equal(1L, r.Call("CLIENT", "UNBLOCK", id.ToString(), "ERROR"));
        Assert.Equal("UNBLOCKED client unblocked via CLIENT UNBLOCK", Err(c.Read()));
        Assert.Equal(0L, r.Call("CLIENT", "UNBLOCK", id.ToString()));
        Assert.Equal(0L, r.Call("CLIENT", "UNBLOCK", ClientId(r).ToString()));
        Assert.Equal(0L, r.Call("CLIENT", "UNBLOCK", "999999"));
        Assert.Equal("ERR value is not an integer or out of range", Err(r.Call("CLIENT", "UNBLOCK", "asd")));
        Assert.Equal("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR", Err(r.Call("CLIENT", "UNBLOCK", id.ToString(), "LATER")));
        Assert.Equal("PONG", c.Call("PING"));
    }

    [Fact]
    public void NegativeZeroTimeoutWaitsForever()
    {
        using var r = _s.Connect();
        using var c = _s.Connect();
        r.Call("DEL", "nz");
        // -0.0001 s rounds up to 0 ms: no timeout at all, as in Redis.
        _s.Block(c, "BLPOP", "nz", "-0.0001");
        Assert.Equal(0, _s.InTimeoutTable);
        Thread.Sleep(50);
        Assert.Equal(1, _s.Blocked);
        r.Call("RPUSH", "nz", "x");
        Assert.Equal(Arr("nz", "x"), c.Read());
    }
}

/// <summary>Timeouts and transactions against the real executable.</summary>
public sealed class BlockingTimeoutTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public BlockingTimeoutTests(SharedServer shared) => _server = shared.Server;

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    [Theory]
    [InlineData("BLPOP", "0.25", 250)]
    [InlineData("BRPOP", "0.05", 50)]
    [InlineData("BLMPOP", "0.1", 100)]
    [InlineData("BLMOVE", ".03", 30)]
    [InlineData("BRPOPLPUSH", "1e-2", 10)]
    public void TimeoutsFireOnTime(string command, string timeout, int ms)
    {
        using var c = _server.Connect();
        object[] args = command switch
        {
            "BLMPOP" => [command, timeout, "1", "to:none", "LEFT"],
            "BLMOVE" => [command, "to:none", "to:dst", "LEFT", "RIGHT", timeout],
            "BRPOPLPUSH" => [command, "to:none", "to:dst", timeout],
            _ => [command, "to:none", timeout],
        };
        // Never early; late by a few milliseconds (a timer, not the cron, fires them). On a loaded
        // machine a single wake-up can be delayed, so the best of three attempts is judged.
        long bestLateness = long.MaxValue;
        for (int attempt = 0; attempt < 3 && bestLateness > 100; attempt++)
        {
            var sw = Stopwatch.StartNew();
            Assert.Null(c.Call(args));
            long elapsed = sw.ElapsedMilliseconds;
            Assert.True(elapsed >= ms, $"timed out after {elapsed} ms, before {ms} ms");
            bestLateness = Math.Min(bestLateness, elapsed - ms);
        }
        Assert.InRange(bestLateness, 0, 100);
        Assert.Equal("PONG", c.Call("PING"));
    }

    [Theory]
    [InlineData("abc", "ERR timeout is not a float or out of range")]
    [InlineData(" 1", "ERR timeout is not a float or out of range")]
    [InlineData("nan", "ERR timeout is not a float or out of range")]
    [InlineData("", "ERR timeout is not a float or out of range")]
    [InlineData("-1", "ERR timeout is negative")]
    [InlineData("-0.5", "ERR timeout is negative")]
    [InlineData("inf", "ERR timeout is negative")]
    [InlineData("1e16", "ERR timeout is negative")]
    public void TimeoutArgumentsAreValidated(string timeout, string error)
    {
        using var c = _server.Connect();
        Assert.Equal(error, Err(c.Call("BLPOP", "to:k", timeout)));
        Assert.Equal(error, Err(c.Call("BRPOPLPUSH", "to:k", "to:d", timeout)));
        Assert.Equal(error, Err(c.Call("BLMOVE", "to:k", "to:d", "LEFT", "LEFT", timeout)));
        Assert.Equal(error, Err(c.Call("BLMPOP", timeout, "1", "to:k", "LEFT")));
    }

    [Fact]
    public void ArgumentsAreCheckedInRedisOrder()
    {
        using var c = _server.Connect();
        // BLMPOP checks numkeys, the side and COUNT before its timeout; BLMOVE the sides first.
        Assert.Equal("ERR numkeys should be greater than 0", Err(c.Call("BLMPOP", "x", "0", "to:k", "LEFT")));
        Assert.Equal("ERR syntax error", Err(c.Call("BLMPOP", "x", "1", "to:k", "UP")));
        Assert.Equal("ERR count should be greater than 0", Err(c.Call("BLMPOP", "x", "1", "to:k", "LEFT", "COUNT", "0")));
        Assert.Equal("ERR syntax error", Err(c.Call("BLMOVE", "to:k", "to:d", "UP", "LEFT", "x")));
        Assert.Equal("ERR wrong number of arguments for 'blpop' command", Err(c.Call("BLPOP", "to:k")));
        // The timeout comes before the keys' types.
        c.Call("SET", "to:str", "x");
        Assert.Equal("ERR timeout is negative", Err(c.Call("BLPOP", "to:str", "-1")));
        Assert.StartsWith("WRONGTYPE", Err(c.Call("BLPOP", "to:none", "to:str", "0")));
    }

    [Fact]
    public void TransactionsNeverBlock()
    {
        using var c = _server.Connect();
        c.Call("DEL", "{tx}a", "{tx}b");
        Assert.Equal("*4\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n", ListCommandTests.ExchangeUntil(_server.Port,
            "MULTI\r\nBLPOP {tx}a 0\r\nBLMOVE {tx}a {tx}b LEFT LEFT 0\r\nBRPOPLPUSH {tx}a {tx}b 0\r\nBLMPOP 0 1 {tx}a LEFT\r\nEXEC\r\n",
            "*4\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n").Replace("+OK\r\n", "").Replace("+QUEUED\r\n", ""));
        c.Call("RPUSH", "{tx}a", "foo", "bar");
        c.Call("MULTI");
        c.Call("BRPOPLPUSH", "{tx}a", "{tx}b", "0");
        c.Call("BRPOPLPUSH", "{tx}a", "{tx}b", "0");
        c.Call("BRPOPLPUSH", "{tx}a", "{tx}b", "0");
        c.Call("LRANGE", "{tx}a", "0", "-1");
        c.Call("LRANGE", "{tx}b", "0", "-1");
        Assert.Equal(new object?[] { "bar", "foo", null, Array.Empty<object?>(), new object?[] { "foo", "bar" } }, c.Call("EXEC"));
        // Still able to block afterwards.
        Assert.Null(c.Call("BLPOP", "{tx}a", "0.01"));
    }
}
