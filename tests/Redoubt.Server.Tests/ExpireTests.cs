using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>EXPIRE family, TTL family, PERSIST and active expiry against a running server.</summary>
public sealed class ExpireTests : IClassFixture<KeyspaceServer>
{
    private readonly ServerProcess _server;
    public ExpireTests(KeyspaceServer shared) => _server = shared.Server;

    private RespClient Db(int db)
    {
        var c = _server.Connect();
        Assert.Equal("OK", c.Call("SELECT", db));
        Assert.Equal("OK", c.Call("FLUSHDB"));
        return c;
    }

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    [Fact]
    public void ExpireSetsAndReplacesTimeouts()
    {
        using var c = Db(1);
        c.Call("SET", "x", "foobar");
        Assert.Equal(1L, c.Call("EXPIRE", "x", "5"));
        Assert.InRange((long)c.Call("TTL", "x")!, 4, 5);
        Assert.Equal(1L, c.Call("EXPIRE", "x", "10"));
        Assert.Equal(10L, c.Call("TTL", "x"));
        Assert.InRange((long)c.Call("PTTL", "x")!, 9000, 10000);
        Assert.Equal(0L, c.Call("EXPIRE", "nokey", "10"));
    }

    [Fact]
    public void AbsoluteFormsAndExpireTimeReadBack()
    {
        using var c = Db(2);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        c.Call("SET", "x", "v");
        Assert.Equal(1L, c.Call("EXPIREAT", "x", now + 100));
        Assert.Equal(now + 100, c.Call("EXPIRETIME", "x"));
        Assert.Equal((now + 100) * 1000, c.Call("PEXPIRETIME", "x"));
        Assert.Equal(1L, c.Call("PEXPIREAT", "x", (now + 200) * 1000 + 123));
        Assert.Equal((now + 200) * 1000 + 123, c.Call("PEXPIRETIME", "x"));
        Assert.Equal(now + 200, c.Call("EXPIRETIME", "x"));
        Assert.Equal(1L, c.Call("PEXPIRE", "x", "5500"));
        Assert.InRange((long)c.Call("PTTL", "x")!, 5000, 5500);
    }

    [Fact]
    public void TtlFamilyForMissingAndPersistentKeys()
    {
        using var c = Db(3);
        foreach (var cmd in new[] { "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME" })
            Assert.Equal(-2L, c.Call(cmd, "nokey"));
        c.Call("SET", "p", "v");
        foreach (var cmd in new[] { "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME" })
            Assert.Equal(-1L, c.Call(cmd, "p"));
    }

    [Fact]
    public void PersistRemovesOnlyExistingTimeouts()
    {
        using var c = Db(4);
        c.Call("SET", "x", "foo");
        c.Call("EXPIRE", "x", "50");
        Assert.Equal(1L, c.Call("PERSIST", "x"));
        Assert.Equal(-1L, c.Call("TTL", "x"));
        Assert.Equal(0L, c.Call("PERSIST", "x"));
        Assert.Equal(0L, c.Call("PERSIST", "nokey"));
        Assert.Equal("foo", c.Call("GET", "x"));
    }

    [Fact]
    public void ConditionalOptions()
    {
        using var c = Db(5);
        c.Call("SET", "foo", "bar", "EX", "100");
        Assert.Equal(0L, c.Call("EXPIRE", "foo", "200", "NX"));
        Assert.Equal(0L, c.Call("EXPIRE", "foo", "50", "GT"));
        Assert.Equal(1L, c.Call("EXPIRE", "foo", "200", "GT"));
        Assert.Equal(0L, c.Call("EXPIRE", "foo", "300", "LT"));
        Assert.Equal(1L, c.Call("EXPIRE", "foo", "150", "lt", "xx"));
        Assert.InRange((long)c.Call("TTL", "foo")!, 140, 150);

        c.Call("SET", "foo", "bar");
        Assert.Equal(0L, c.Call("EXPIRE", "foo", "200", "XX"));
        Assert.Equal(0L, c.Call("EXPIRE", "foo", "200", "GT"));
        Assert.Equal(-1L, c.Call("TTL", "foo"));
        Assert.Equal(1L, c.Call("EXPIRE", "foo", "100", "LT"));
        c.Call("PERSIST", "foo");
        Assert.Equal(1L, c.Call("EXPIRE", "foo", "100", "NX"));
        foreach (var opt in new[] { "NX", "XX", "GT", "LT" }) Assert.Equal(0L, c.Call("EXPIRE", "none", "100", opt));
    }

    [Fact]
    public void OptionAndTimeErrors()
    {
        using var c = Db(6);
        c.Call("SET", "foo", "bar");
        Assert.Equal("ERR GT and LT options at the same time are not compatible", Err(c.Call("EXPIRE", "foo", "200", "LT", "GT")));
        foreach (var pair in new[] { ("NX", "GT"), ("NX", "LT"), ("NX", "XX"), ("XX", "NX") })
            Assert.Equal("ERR NX and XX, GT or LT options at the same time are not compatible", Err(c.Call("EXPIRE", "foo", "200", pair.Item1, pair.Item2)));
        Assert.Equal("ERR Unsupported option AB", Err(c.Call("EXPIRE", "foo", "200", "XX", "AB")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("EXPIRE", "foo", "")));
        Assert.Equal("ERR invalid expire time in 'expire' command", Err(c.Call("EXPIRE", "foo", "9223370399119966")));
        Assert.Equal("ERR invalid expire time in 'expire' command", Err(c.Call("EXPIRE", "foo", "9223372036854776")));
        Assert.Equal("ERR invalid expire time in 'expire' command", Err(c.Call("EXPIRE", "foo", "-9223372036854776")));
        Assert.Equal("ERR invalid expire time in 'pexpire' command", Err(c.Call("PEXPIRE", "foo", "9223372036854770000")));
        Assert.Equal("ERR invalid expire time in 'expireat' command", Err(c.Call("EXPIREAT", "foo", "9223372036854775807")));
        Assert.Equal(-1L, c.Call("TTL", "foo"));
        Assert.Equal(1L, c.Call("PEXPIREAT", "foo", "9223372036854770000"));
        Assert.True((long)c.Call("TTL", "foo")! > 1_000_000_000);
    }

    [Fact]
    public void PastOrNegativeTimesDeleteTheKey()
    {
        using var c = Db(7);
        c.Call("SET", "a", "1");
        Assert.Equal(1L, c.Call("EXPIRE", "a", "-10"));
        Assert.Equal(0L, c.Call("EXISTS", "a"));
        c.Call("SET", "b", "1", "EX", "100");
        Assert.Equal(1L, c.Call("EXPIRE", "b", "-10", "LT"));
        Assert.Equal(-2L, c.Call("TTL", "b"));
        c.Call("SET", "c", "1");
        Assert.Equal(1L, c.Call("PEXPIREAT", "c", "-9223372036854770000"));
        Assert.Equal(-2L, c.Call("TTL", "c"));
        c.Call("SET", "d", "1");
        Assert.Equal(1L, c.Call("EXPIREAT", "d", DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 100));
        Assert.Equal(0L, c.Call("DBSIZE"));
    }

    [Fact]
    public void SubSecondExpiresAreHonouredOnAccess()
    {
        using var c = Db(8);
        for (int attempt = 0; ; attempt++)
        {
            c.Call("SET", "x", "somevalue");
            c.Call("PEXPIRE", "x", "100");
            var before = c.Call("GET", "x");
            Thread.Sleep(150);
            var after = c.Call("GET", "x");
            if (Equals(before, "somevalue") && after is null) break;
            Assert.True(attempt < 10, "sub-second expire not honoured");
        }
    }

    [Fact]
    public void ExpiredKeysAreReclaimedWithoutAccess()
    {
        using var c = Db(9);
        for (int i = 0; i < 3; i++) c.Call("SET", "key" + i, "a", "PX", "300");
        Assert.Equal(3L, c.Call("DBSIZE"));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while ((long)c.Call("DBSIZE")! != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "keys did not actively expire");
            Thread.Sleep(100);
        }
    }
}

/// <summary>
/// Active expiry on a server of its own with a higher hz: the sweep must find the few expired keys
/// among many long-lived volatile ones, which random sampling alone would take far longer to hit.
/// </summary>
public sealed class ActiveExpirySweepTests
{
    [Fact]
    public void SweepFindsRareExpiredKeysAmongManyVolatileOnes()
    {
        using var server = new ServerProcess(configText: null, "--hz", "100");
        using var c = server.Connect();
        var batch = new MemoryStream();
        for (int i = 0; i < 3000; i++) batch.Write(RespClient.Encode("SET", "long:" + i, "v", "EX", "3600"));
        for (int i = 0; i < 30; i++) batch.Write(RespClient.Encode("SET", "short:" + i, "v", "PX", "100"));
        c.SendRaw(batch.ToArray());
        for (int i = 0; i < 3030; i++) Assert.Equal("OK", c.Read());
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((long)c.Call("DBSIZE")! != 3000)
        {
            Assert.True(DateTime.UtcNow < deadline, $"dbsize still {c.Call("DBSIZE")}");
            Thread.Sleep(100);
        }
        Assert.Equal(3000, ((object?[])c.Call("KEYS", "long:*")!).Length);
    }
}

/// <summary>Keyspace notifications of the generic commands, observed in-process through the publish hook.</summary>
public sealed class KeyspaceNotificationTests
{
    private readonly InProcessKeyspace _k = new();
    private readonly Client _c;

    public KeyspaceNotificationTests()
    {
        _k.Server.NotifyFlags = RedisServer.ParseNotifyFlags("KEA", out _);
        _c = _k.NewClient();
    }

    private List<(string, string)> Events(params string[] cmd)
    {
        _k.Published.Clear();
        _k.Call(_c, cmd);
        return _k.Published.ToList();
    }

    [Fact]
    public void RenameMoveCopyNotifyBothSides()
    {
        _k.Call(_c, "SET", "a", "1");
        Assert.Equal([("__keyspace@0__:a", "rename_from"), ("__keyevent@0__:rename_from", "a"),
                      ("__keyspace@0__:b", "rename_to"), ("__keyevent@0__:rename_to", "b")], Events("RENAME", "a", "b"));
        Assert.Equal([("__keyspace@0__:b", "move_from"), ("__keyevent@0__:move_from", "b"),
                      ("__keyspace@3__:b", "move_to"), ("__keyevent@3__:move_to", "b")], Events("MOVE", "b", "3"));
        _k.Call(_c, "SELECT", "3");
        Assert.Equal([("__keyspace@5__:c", "copy_to"), ("__keyevent@5__:copy_to", "c")], Events("COPY", "b", "c", "DB", "5"));
        Assert.Empty(Events("RENAMENX", "b", "b"));
    }

    [Fact]
    public void ExpirePersistAndDeleteEvents()
    {
        _k.Call(_c, "SET", "k", "v");
        Assert.Equal([("__keyspace@0__:k", "expire"), ("__keyevent@0__:expire", "k")], Events("EXPIRE", "k", "100"));
        Assert.Equal([("__keyspace@0__:k", "persist"), ("__keyevent@0__:persist", "k")], Events("PERSIST", "k"));
        Assert.Empty(Events("PERSIST", "k"));
        Assert.Equal([("__keyspace@0__:k", "del"), ("__keyevent@0__:del", "k")], Events("EXPIRE", "k", "-1"));
        _k.Call(_c, "SET", "k", "v");
        Assert.Equal([("__keyspace@0__:k", "del"), ("__keyevent@0__:del", "k")], Events("UNLINK", "k"));
        Assert.Empty(Events("DEL", "k"));
    }

    [Fact]
    public void LazyExpiryNotifiesExpired()
    {
        _k.Call(_c, "SET", "e", "v", "PX", "1");
        Thread.Sleep(10);
        Assert.Equal([("__keyspace@0__:e", "expired"), ("__keyevent@0__:expired", "e")], Events("TTL", "e"));
        Assert.Equal(1L, _k.Server.Stats.ExpiredKeys);
    }

    [Fact]
    public void OnlyEnabledClassesArePublished()
    {
        _k.Server.NotifyFlags = RedisServer.ParseNotifyFlags("Ex", out _);
        _k.Call(_c, "SET", "e", "v", "PX", "1");
        Assert.Empty(Events("EXPIRE", "e", "100", "XX"));
        _k.Call(_c, "PEXPIRE", "e", "1");
        Thread.Sleep(10);
        Assert.Equal([("__keyevent@0__:expired", "e")], Events("EXISTS", "e"));
    }

    [Fact]
    public void ReadMissesNotifyKeymissExceptForObject()
    {
        _k.Server.NotifyFlags = RedisServer.ParseNotifyFlags("Em", out _);
        Assert.Equal([("__keyevent@0__:keymiss", "nokey")], Events("GET", "nokey"));
        Assert.Equal([("__keyevent@0__:keymiss", "nokey")], Events("EXISTS", "nokey"));
        Assert.Equal([("__keyevent@0__:keymiss", "nokey")], Events("TTL", "nokey"));
        Assert.Empty(Events("OBJECT", "ENCODING", "nokey"));
        Assert.Empty(Events("EXPIRE", "nokey", "10"));
        _k.Call(_c, "SET", "k", "v");
        Assert.Empty(Events("TYPE", "k"));
    }

    [Fact]
    public void SwapDbAndFlushTellSubscribedSubsystems()
    {
        var swaps = new List<(int, int)>();
        var flushes = new List<int>();
        _k.Server.DbSwappedHooks += (a, b) => swaps.Add((a, b));
        _k.Server.DbFlushedHooks += flushes.Add;
        _k.Call(_c, "SWAPDB", "1", "2");
        _k.Call(_c, "SWAPDB", "1", "1");
        _k.Call(_c, "FLUSHDB");
        _k.Call(_c, "FLUSHALL");
        Assert.Equal([(1, 2)], swaps);
        Assert.Equal([0, -1], flushes);
    }
}
