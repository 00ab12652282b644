using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>Generic key commands against a running server, with Redis 7.0's replies and errors.</summary>
public sealed class KeyspaceCommandTests : IClassFixture<KeyspaceServer>
{
    private readonly ServerProcess _server;
    public KeyspaceCommandTests(KeyspaceServer shared) => _server = shared.Server;

    /// <summary>A connection on its own database, emptied first, so tests do not see each other's keys.</summary>
    private RespClient Db(int db)
    {
        var c = _server.Connect();
        Assert.Equal("OK", c.Call("SELECT", db));
        Assert.Equal("OK", c.Call("FLUSHDB"));
        return c;
    }

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    [Fact]
    public void DelUnlinkExistsCountEveryArgument()
    {
        using var c = Db(1);
        c.Call("SET", "k1", "a");
        c.Call("SET", "k2", "b");
        Assert.Equal(3L, c.Call("EXISTS", "k1", "k1", "k2", "nokey"));
        Assert.Equal(1L, c.Call("DEL", "k1", "nokey"));
        Assert.Equal(1L, c.Call("UNLINK", "k2", "k1"));
        Assert.Equal(0L, c.Call("DBSIZE"));
        Assert.Equal("ERR wrong number of arguments for 'del' command", Err(c.Call("DEL")));
    }

    [Fact]
    public void TypeAndTouch()
    {
        using var c = Db(2);
        c.Call("SET", "s", "v");
        Assert.Equal("string", c.Call("TYPE", "s"));
        Assert.Equal("none", c.Call("TYPE", "nokey"));
        Assert.Equal(2L, c.Call("TOUCH", "s", "nokey", "s"));
    }

    [Fact]
    public void RenameMovesValueAndTtlAndReplacesDestination()
    {
        using var c = Db(3);
        c.Call("SET", "src", "hello");
        c.Call("EXPIRE", "src", "100");
        c.Call("SET", "dst", "old");
        c.Call("EXPIRE", "dst", "5000");
        Assert.Equal("OK", c.Call("RENAME", "src", "dst"));
        Assert.Equal(0L, c.Call("EXISTS", "src"));
        Assert.Equal("hello", c.Call("GET", "dst"));
        long ttl = (long)c.Call("TTL", "dst")!;
        Assert.InRange(ttl, 95, 100);

        // Without a TTL on the source, the destination's TTL is not inherited.
        c.Call("SET", "plain", "p");
        Assert.Equal("OK", c.Call("RENAME", "plain", "dst"));
        Assert.Equal(-1L, c.Call("TTL", "dst"));

        Assert.Equal("ERR no such key", Err(c.Call("RENAME", "nokey", "x")));
        Assert.Equal("ERR no such key", Err(c.Call("RENAME", "nokey", "nokey")));
        Assert.Equal("OK", c.Call("RENAME", "dst", "dst"));
    }

    [Fact]
    public void RenameNxKeepsTtlAndRefusesExistingDestination()
    {
        using var c = Db(4);
        c.Call("SET", "a", "1");
        c.Call("PEXPIRE", "a", "100000");
        c.Call("SET", "b", "2");
        Assert.Equal(0L, c.Call("RENAMENX", "a", "b"));
        Assert.Equal(0L, c.Call("RENAMENX", "a", "a"));
        Assert.Equal(1L, c.Call("RENAMENX", "a", "c"));
        Assert.Equal("1", c.Call("GET", "c"));
        Assert.InRange((long)c.Call("PTTL", "c")!, 90000, 100000);
        Assert.Equal("2", c.Call("GET", "b"));
    }

    [Fact]
    public void MoveCarriesTtlAndRespectsTarget()
    {
        using var c = Db(5);
        using var other = Db(6);
        c.Call("SET", "m", "v", "EX", "100");
        Assert.Equal(1L, c.Call("MOVE", "m", "6"));
        Assert.Equal(-2L, c.Call("TTL", "m"));
        Assert.InRange((long)other.Call("TTL", "m")!, 95, 100);
        Assert.Equal("v", other.Call("GET", "m"));

        c.Call("SET", "m", "again");
        Assert.Equal(0L, c.Call("MOVE", "m", "6"));
        Assert.Equal(0L, c.Call("MOVE", "nokey", "6"));
        Assert.Equal("ERR source and destination objects are the same", Err(c.Call("MOVE", "m", "5")));
        Assert.Equal("ERR DB index is out of range", Err(c.Call("MOVE", "m", "16")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("MOVE", "m", "x")));
        Assert.Equal("ERR value is out of range, value must between -2147483648 and 2147483647", Err(c.Call("MOVE", "m", "99999999999")));
    }

    [Fact]
    public void CopyWithinAndAcrossDatabases()
    {
        using var c = Db(7);
        using var other = Db(8);
        c.Call("SET", "orig", "foobar", "EX", "100");
        Assert.Equal(1L, c.Call("COPY", "orig", "dup"));
        Assert.Equal("foobar", c.Call("GET", "dup"));
        Assert.InRange((long)c.Call("TTL", "dup")!, 95, 100);

        c.Call("SET", "noexp", "x");
        Assert.Equal(1L, c.Call("COPY", "noexp", "dup2", "DB", "8"));
        Assert.Equal(-1L, other.Call("TTL", "dup2"));
        other.Call("SET", "dup2", "changed");
        Assert.Equal("x", c.Call("GET", "noexp"));

        Assert.Equal(0L, c.Call("COPY", "noexp", "dup2", "DB", "8"));
        Assert.Equal(1L, c.Call("COPY", "noexp", "dup2", "db", "8", "replace"));
        Assert.Equal("x", other.Call("GET", "dup2"));
        Assert.Equal(0L, c.Call("COPY", "nokey", "z"));

        Assert.Equal("ERR source and destination objects are the same", Err(c.Call("COPY", "orig", "orig")));
        Assert.Equal(1L, c.Call("COPY", "orig", "orig", "DB", "8"));
        Assert.Equal("ERR syntax error", Err(c.Call("COPY", "orig", "x", "DB")));
        Assert.Equal("ERR syntax error", Err(c.Call("COPY", "orig", "x", "FOO")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("COPY", "orig", "x", "DB", "notanumber")));
        Assert.Equal("ERR DB index is out of range", Err(c.Call("COPY", "orig", "x", "DB", "16")));
    }

    [Fact]
    public void SwapDbExchangesContentsForEveryClient()
    {
        using var a = Db(9);
        using var b = Db(10);
        a.Call("SET", "only-in-9", "1");
        b.Call("SET", "only-in-10", "2");
        b.Call("SET", "x", "3");
        Assert.Equal("OK", a.Call("SWAPDB", "9", "10"));
        Assert.Equal(2L, a.Call("DBSIZE"));
        Assert.Equal("2", a.Call("GET", "only-in-10"));
        Assert.Equal("1", b.Call("GET", "only-in-9"));
        Assert.Equal("OK", a.Call("SWAPDB", "9", "9"));
        Assert.Equal("ERR invalid first DB index", Err(a.Call("SWAPDB", "x", "1")));
        Assert.Equal("ERR invalid second DB index", Err(a.Call("SWAPDB", "1", "x")));
        Assert.Equal("ERR DB index is out of range", Err(a.Call("SWAPDB", "1", "16")));
        Assert.Equal("ERR DB index is out of range", Err(a.Call("SWAPDB", "-1", "0")));
    }

    [Fact]
    public void FlushDbAndFlushAllOptions()
    {
        using var c = Db(11);
        c.Call("SET", "k", "v");
        Assert.Equal("ERR syntax error", Err(c.Call("FLUSHDB", "NOW")));
        Assert.Equal("ERR syntax error", Err(c.Call("FLUSHDB", "ASYNC", "SYNC")));
        Assert.Equal(1L, c.Call("DBSIZE"));
        Assert.Equal("OK", c.Call("FLUSHDB", "async"));
        Assert.Equal(0L, c.Call("DBSIZE"));
        c.Call("SET", "k", "v");
        c.Call("SELECT", "12");
        c.Call("SET", "k", "v");
        Assert.Equal("OK", c.Call("FLUSHALL", "SYNC"));
        Assert.Equal(0L, c.Call("DBSIZE"));
        c.Call("SELECT", "11");
        Assert.Equal(0L, c.Call("DBSIZE"));
    }

    [Fact]
    public void RandomKeyReturnsEveryKeyEventuallyAndNullWhenEmpty()
    {
        using var c = Db(13);
        Assert.Null(c.Call("RANDOMKEY"));
        c.Call("SET", "foo", "x");
        c.Call("SET", "bar", "y");
        var seen = new HashSet<string>();
        for (int i = 0; i < 200 && seen.Count < 2; i++) seen.Add((string)c.Call("RANDOMKEY")!);
        Assert.Equal(new HashSet<string> { "foo", "bar" }, seen);
        c.Call("DEL", "foo", "bar");
        Assert.Null(c.Call("RANDOMKEY"));
    }

    [Fact]
    public void RandomKeySkipsAndReclaimsExpiredKeys()
    {
        using var c = Db(14);
        for (int i = 0; i < 20; i++) c.Call("SET", "gone" + i, "x", "PX", "1");
        c.Call("SET", "live", "y");
        Thread.Sleep(20);
        Assert.Equal("live", c.Call("RANDOMKEY"));
    }

    [Fact]
    public void KeysMatchesGlobAndHidesExpired()
    {
        using var c = Db(15);
        foreach (var k in new[] { "key_x", "key_y", "key_z", "foo_a", "foo_b", "foo_c" }) c.Call("SET", k, "hello");
        c.Call("SET", "foo_gone", "x", "PX", "1");
        Thread.Sleep(10);
        var foo = ((object?[])c.Call("KEYS", "foo*")!).Cast<string>().OrderBy(s => s, StringComparer.Ordinal);
        Assert.Equal(["foo_a", "foo_b", "foo_c"], foo);
        Assert.Equal(6, ((object?[])c.Call("KEYS", "*")!).Length);
        Assert.Empty((object?[])c.Call("KEYS", "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b")!);
    }

    [Fact]
    public void ObjectEncodingRefcountIdletimeFreqAndHelp()
    {
        using var c = Db(0);
        c.Call("SET", "int", "12345");
        c.Call("SET", "neg", "-9223372036854775808");
        c.Call("SET", "notint", "012");
        c.Call("SET", "embstr", new string('a', 44));
        c.Call("SET", "raw", new string('a', 45));
        Assert.Equal("int", c.Call("OBJECT", "ENCODING", "int"));
        Assert.Equal("int", c.Call("OBJECT", "encoding", "neg"));
        Assert.Equal("embstr", c.Call("OBJECT", "ENCODING", "notint"));
        Assert.Equal("embstr", c.Call("OBJECT", "ENCODING", "embstr"));
        Assert.Equal("raw", c.Call("OBJECT", "ENCODING", "raw"));
        Assert.Null(c.Call("OBJECT", "ENCODING", "nokey"));

        c.Call("SET", "small", "9999");
        Assert.Equal((long)int.MaxValue, c.Call("OBJECT", "REFCOUNT", "small"));
        Assert.Equal(1L, c.Call("OBJECT", "REFCOUNT", "int"));
        Assert.Equal(1L, c.Call("OBJECT", "REFCOUNT", "raw"));

        Assert.InRange((long)c.Call("OBJECT", "IDLETIME", "raw")!, 0, 2);
        Assert.StartsWith("ERR An LFU maxmemory policy is not selected, access frequency not tracked.", Err(c.Call("OBJECT", "FREQ", "raw")));

        var help = (object?[])c.Call("OBJECT", "HELP")!;
        Assert.Equal("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", help[0]);
        Assert.Equal("HELP", help[^2]);
        Assert.Equal("    Prints this help.", help[^1]);
        Assert.Equal(15, help.Length);
        Assert.Equal("ERR unknown subcommand 'foo'. Try OBJECT HELP.", Err(c.Call("OBJECT", "foo", "raw")));
        Assert.Equal("ERR wrong number of arguments for 'object|encoding' command", Err(c.Call("OBJECT", "ENCODING")));
    }

    [Fact]
    public void IdleTimeGrowsWithoutAccessAndResetsOnAccess()
    {
        using var c = Db(1);
        c.Call("SET", "idle", "v");
        Thread.Sleep(2100);
        Assert.InRange((long)c.Call("OBJECT", "IDLETIME", "idle")!, 1, 4);
        // TYPE and OBJECT do not touch; GET does.
        c.Call("TYPE", "idle");
        Assert.InRange((long)c.Call("OBJECT", "IDLETIME", "idle")!, 1, 4);
        c.Call("GET", "idle");
        Assert.InRange((long)c.Call("OBJECT", "IDLETIME", "idle")!, 0, 1);
    }

    [Fact]
    public void WatchIsRefusedInsideMultiAndUnwatchClearsDirtyState()
    {
        using var c = Db(2);
        using var other = _server.Connect();
        other.Call("SELECT", "2");
        Assert.Equal("OK", c.Call("MULTI"));
        Assert.Equal("ERR WATCH inside MULTI is not allowed", Err(c.Call("WATCH", "x")));
        Assert.Equal(Array.Empty<object?>(), c.Call("EXEC"));

        c.Call("SET", "x", "30");
        c.Call("WATCH", "x");
        other.Call("SET", "x", "40");
        Assert.Equal("OK", c.Call("UNWATCH"));
        c.Call("MULTI");
        c.Call("PING");
        Assert.Equal(new object?[] { "PONG" }, c.Call("EXEC"));
    }

    [Fact]
    public void WatchedKeyTouchedByExpireRenameMoveOrDelFailsExec()
    {
        using var c = Db(3);
        using var other = _server.Connect();
        other.Call("SELECT", "3");
        foreach (var touch in new Func<object?>[]
                 {
                     () => other.Call("EXPIRE", "w", "100"),
                     () => other.Call("RENAME", "w", "w2"),
                     () => other.Call("MOVE", "w", "4"),
                     () => other.Call("DEL", "w"),
                     () => other.Call("PERSIST", "w"),
                 })
        {
            c.Call("SELECT", "4");
            c.Call("DEL", "w");
            c.Call("SELECT", "3");
            c.Call("DEL", "w2");
            c.Call("SET", "w", "v", "EX", "1000");
            c.Call("WATCH", "w");
            touch();
            c.Call("MULTI");
            c.Call("PING");
            Assert.Null(c.Call("EXEC"));
        }
    }

    [Fact]
    public void WatchAcrossFlushAndSwapDbOnlyDirtiesAffectedKeys()
    {
        using var c = Db(5);
        using var admin = Db(6);

        // A watched key that does not exist is untouched by a flush.
        c.Call("WATCH", "x");
        admin.Call("FLUSHALL");
        c.Call("MULTI");
        c.Call("PING");
        Assert.Equal(new object?[] { "PONG" }, c.Call("EXEC"));

        // One that exists is.
        c.Call("SET", "x", "1");
        c.Call("WATCH", "x");
        admin.Call("FLUSHDB");
        c.Call("MULTI");
        c.Call("PING");
        Assert.Equal(new object?[] { "PONG" }, c.Call("EXEC"));
        c.Call("WATCH", "x");
        c.Call("FLUSHDB");
        c.Call("MULTI");
        c.Call("PING");
        Assert.Null(c.Call("EXEC"));

        // SWAPDB dirties a key that exists on either side, not one absent from both.
        admin.Call("SET", "x", "from-6");
        c.Call("WATCH", "x");
        c.Call("SWAPDB", "5", "6");
        c.Call("MULTI");
        c.Call("PING");
        Assert.Null(c.Call("EXEC"));
        c.Call("FLUSHALL");
        c.Call("WATCH", "x");
        c.Call("SWAPDB", "5", "6");
        c.Call("MULTI");
        c.Call("PING");
        Assert.Equal(new object?[] { "PONG" }, c.Call("EXEC"));
    }

    [Fact]
    public void WatchingAnAlreadyExpiredKeyIsNoChangeUntilRecreated()
    {
        using var c = Db(7);
        c.Call("SET", "stale", "v", "PX", "1");
        Thread.Sleep(10);
        c.Call("WATCH", "stale");
        Assert.Equal(0L, c.Call("EXISTS", "stale"));
        c.Call("MULTI");
        c.Call("PING");
        Assert.Equal(new object?[] { "PONG" }, c.Call("EXEC"));

        c.Call("SET", "stale", "v", "PX", "1");
        Thread.Sleep(10);
        c.Call("WATCH", "stale");
        c.Call("SET", "stale", "new");
        c.Call("MULTI");
        c.Call("PING");
        Assert.Null(c.Call("EXEC"));
    }

    [Fact]
    public void ExecFailsWhenAWatchedKeyExpiresMeanwhile()
    {
        using var c = Db(8);
        c.Call("SET", "soon", "v", "PX", "50");
        c.Call("WATCH", "soon");
        Thread.Sleep(120);
        c.Call("MULTI");
        c.Call("PING");
        Assert.Null(c.Call("EXEC"));
    }
}

public sealed class KeyspaceServer : IDisposable
{
    public ServerProcess Server { get; } = new();
    public void Dispose() => Server.Dispose();
}
