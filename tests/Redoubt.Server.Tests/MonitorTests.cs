using System.Text.RegularExpressions;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>MONITOR: the line format, quoting, redaction, and which commands are shown.</summary>
public sealed class MonitorTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public MonitorTests(SharedServer shared) => _server = shared.Server;

    private static readonly Regex LinePattern = new(@"^(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)$");

    /// <summary>Reads the next monitor line and returns its arguments part, checking the prefix.</summary>
    private static string NextArgs(RespClient monitor, string expectedAddr, int db = 0)
    {
        var line = (string)monitor.Read()!;
        var m = LinePattern.Match(line);
        Assert.True(m.Success, line);
        Assert.InRange(long.Parse(m.Groups[1].Value), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 60);
        Assert.Equal(db.ToString(), m.Groups[3].Value);
        Assert.Equal(expectedAddr, m.Groups[4].Value);
        return m.Groups[5].Value;
    }

    private static string Addr(RespClient c)
        => Regex.Match((string)c.Call("CLIENT", "INFO")!, @"addr=(\S+)").Groups[1].Value;

    [Fact]
    public void ShowsExecutedCommandsQuotedLikeRedis()
    {
        using var monitor = _server.Connect();
        using var c = _server.Connect();
        string addr = Addr(c);
        Assert.Equal("OK", monitor.Call("MONITOR"));
        c.Call("set", "mon:k", "a \"q\" \\ \n\r\t\x07\b\x01\xff é");
        c.Call("get", "mon:k");
        c.Call("select", "2");
        c.Call("ping");
        Assert.Equal("\"set\" \"mon:k\" \"a \\\"q\\\" \\\\ \\n\\r\\t\\a\\b\\x01\\xc3\\xbf \\xc3\\xa9\"", NextArgs(monitor, addr));
        Assert.Equal("\"get\" \"mon:k\"", NextArgs(monitor, addr));
        Assert.Equal("\"select\" \"2\"", NextArgs(monitor, addr, db: 2));
        Assert.Equal("\"ping\"", NextArgs(monitor, addr, db: 2));
    }

    [Fact]
    public void RedactsPasswordsAndSkipsAdminAndRejectedCommands()
    {
        using var monitor = _server.Connect();
        using var c = _server.Connect();
        string addr = Addr(c);
        Assert.Equal("OK", monitor.Call("MONITOR"));
        c.Call("auth", "not-real");
        c.Call("auth", "user", "not-a-password");
        c.Call("hello", "2", "AUTH", "user", "pw");
        c.Call("CLIENT", "LIST");         // admin: not shown
        c.Call("NOSUCHCOMMAND", "x");    // rejected: not shown
        c.Call("SET", "only-one-arg");   // arity error: not shown
        c.Call("client", "setname", "shown");
        Assert.Equal("\"auth\" \"(redacted)\"", NextArgs(monitor, addr));
        Assert.Equal("\"auth\" \"(redacted)\" \"(redacted)\"", NextArgs(monitor, addr));
        Assert.Equal("\"hello\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\"", NextArgs(monitor, addr));
        Assert.Equal("\"client\" \"setname\" \"shown\"", NextArgs(monitor, addr));
    }

    [Fact]
    public void TransactionsAreShownInExecutionOrder()
    {
        using var monitor = _server.Connect();
        using var c = _server.Connect();
        string addr = Addr(c);
        Assert.Equal("OK", monitor.Call("MONITOR"));
        c.Call("multi");
        c.Call("set", "mon:tx", "1");
        c.Call("exec");
        c.Call("multi");
        c.Call("NOSUCHCOMMAND");
        c.Call("exec");
        Assert.Equal("\"multi\"", NextArgs(monitor, addr));
        Assert.Equal("\"set\" \"mon:tx\" \"1\"", NextArgs(monitor, addr));
        Assert.Equal("\"exec\"", NextArgs(monitor, addr));
        Assert.Equal("\"multi\"", NextArgs(monitor, addr));
        Assert.Equal("\"exec\"", NextArgs(monitor, addr));
    }

    [Fact]
    public void MonitorModeIsListedAndEndedByReset()
    {
        using var monitor = _server.Connect();
        using var c = _server.Connect();
        long id = (long)monitor.Call("CLIENT", "ID")!;
        Assert.Equal("OK", monitor.Call("MONITOR"));
        var line = (string)c.Call("CLIENT", "LIST", "ID", id.ToString())!;
        Assert.Contains(" flags=O ", line);
        Assert.Contains(" cmd=monitor ", line);
        // A second MONITOR is ignored without a reply; the next thing read is the PING's line.
        monitor.SendRaw(RespClient.Encode("MONITOR"));
        monitor.SendRaw(RespClient.Encode("ping"));
        // The command's reply comes first, then its monitor line.
        Assert.Equal("PONG", monitor.Read());
        Assert.Matches("\"ping\"$", (string)monitor.Read()!);
        // RESET ends monitor mode before its own line is fed, so only the reply comes.
        monitor.SendRaw(RespClient.Encode("RESET"));
        Assert.Equal("RESET", monitor.Read());
        c.Call("SET", "mon:after-reset", "1");
        Assert.Equal("PONG", monitor.Call("PING"));
    }

    [Fact]
    public void MonitorIsRefusedInsideATransaction()
    {
        using var c = _server.Connect();
        c.Call("MULTI");
        Assert.Equal("QUEUED", c.Call("MONITOR"));
        var res = (object?[])c.Call("EXEC")!;
        Assert.Equal("ERR MONITOR isn't allowed for DENY BLOCKING client", res[0]!.ToString());
        Assert.Equal("PONG", c.Call("PING"));
    }
}
