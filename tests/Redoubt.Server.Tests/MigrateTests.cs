using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>MIGRATE from our server to a real redis-server and to another of ours.</summary>
public sealed class MigrateTests
{
    [Fact]
    public void KeysMoveToRealRedisWithTheirTtlAndAreDeletedHere()
    {
        using var source = new ServerProcess(configText: null);
        using var target = new RealRedisServer();
        using var s = source.Connect();
        using var t = target.Connect();
        s.Call("SET", "plain", "v");
        s.Call("SET", "expiring", "w", "PX", "100000");
        s.Call("RPUSH", "list", "a", "b", "c");
        Assert.Equal("OK", s.Call("MIGRATE", "127.0.0.1", target.Port.ToString(), "plain", "0", "5000"));
        Assert.Equal("OK", s.Call("MIGRATE", "127.0.0.1", target.Port.ToString(), "", "0", "5000", "KEYS", "expiring", "list", "missing"));
        Assert.Equal(0L, s.Call("EXISTS", "plain", "expiring", "list"));
        Assert.Equal("v", t.Call("GET", "plain"));
        Assert.InRange((long)t.Call("PTTL", "expiring")!, 90000, 100000);
        Assert.Equal(new object?[] { "a", "b", "c" }, (object?[])t.Call("LRANGE", "list", "0", "-1")!);
        Assert.Equal("NOKEY", s.Call("MIGRATE", "127.0.0.1", target.Port.ToString(), "plain", "0", "5000"));
        Assert.Contains("migrate_cached_sockets:1", (string)s.Call("INFO", "stats")!);
    }

    [Fact]
    public void CopyReplaceErrorsAndAuthBetweenTwoOfOurs()
    {
        using var source = new ServerProcess(configText: null);
        using var target = new ServerProcess(null, "--requirepass", "secret");
        using var s = source.Connect();
        using var t = target.Connect();
        t.Call("AUTH", "secret");
        s.Call("SET", "k", "1");
        string port = target.Port.ToString();
        Assert.StartsWith("ERR Target instance replied with error: NOAUTH", ((RespError)s.Call("MIGRATE", "127.0.0.1", port, "k", "0", "5000")!).Message);
        Assert.Equal("OK", s.Call("MIGRATE", "127.0.0.1", port, "k", "3", "5000", "COPY", "AUTH", "secret"));
        Assert.Equal("1", s.Call("GET", "k"));
        t.Call("SELECT", "3");
        Assert.Equal("1", t.Call("GET", "k"));
        s.Call("SET", "k", "2");
        Assert.StartsWith("ERR Target instance replied with error: BUSYKEY", ((RespError)s.Call("MIGRATE", "127.0.0.1", port, "k", "3", "5000", "AUTH", "secret")!).Message);
        Assert.Equal("2", s.Call("GET", "k"));
        Assert.Equal("OK", s.Call("MIGRATE", "127.0.0.1", port, "k", "3", "5000", "REPLACE", "AUTH2", "default", "secret"));
        Assert.Equal(0L, s.Call("EXISTS", "k"));
        Assert.Equal("2", t.Call("GET", "k"));
        Assert.Equal("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
            ((RespError)s.Call("MIGRATE", "127.0.0.1", port, "x", "3", "5000", "KEYS", "a")!).Message);
        s.Call("SET", "k", "3");
        Assert.StartsWith("IOERR error or timeout connecting", ((RespError)s.Call("MIGRATE", "127.0.0.1", ServerProcess.FreePort().ToString(), "k", "0", "300")!).Message);
    }
}
