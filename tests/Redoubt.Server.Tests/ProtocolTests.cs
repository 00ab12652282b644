using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>Wire-level behaviour against a running server: RESP, inline commands, protocol errors.</summary>
public sealed class ProtocolTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public ProtocolTests(SharedServer shared) => _server = shared.Server;

    [Fact]
    public void PingAndEcho()
    {
        using var c = _server.Connect();
        Assert.Equal("PONG", c.Call("PING"));
        Assert.Equal("hello", c.Call("ECHO", "hello"));
    }

    [Fact]
    public void InlineCommandsWithQuotes()
    {
        using var c = _server.Connect();
        c.SendRaw("SET inline:k \"a b\\x41\"\r\n");
        Assert.Equal("OK", c.Read());
        c.SendRaw("GET inline:k\n");
        Assert.Equal("a bA", c.Read());
    }

    [Fact]
    public void PipelinedCommandsAnswerInOrder()
    {
        using var c = _server.Connect();
        var batch = new MemoryStream();
        for (int i = 0; i < 100; i++) batch.Write(RespClient.Encode("SET", $"pipe:{i}", i.ToString()));
        for (int i = 0; i < 100; i++) batch.Write(RespClient.Encode("GET", $"pipe:{i}"));
        c.SendRaw(batch.ToArray());
        for (int i = 0; i < 100; i++) Assert.Equal("OK", c.Read());
        for (int i = 0; i < 100; i++) Assert.Equal(i.ToString(), c.Read());
    }

    [Theory]
    [InlineData("*abc\r\n", "ERR Protocol error: invalid multibulk length")]
    [InlineData("*2\r\n$3\r\nGET\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'")]
    [InlineData("*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length")]
    [InlineData("*1\r\n$999999999999\r\n", "ERR Protocol error: invalid bulk length")]
    [InlineData("SET \"unbalanced\r\n", "ERR Protocol error: unbalanced quotes in request")]
    public void ProtocolErrorsReplyAndCloseOnlyThatConnection(string garbage, string expected)
    {
        using var bad = _server.Connect();
        using var good = _server.Connect();
        bad.SendRaw(garbage);
        var reply = Assert.IsType<RespError>(bad.Read());
        Assert.Equal(expected, reply.Message);
        Assert.True(bad.IsClosedByServer());
        Assert.Equal("PONG", good.Call("PING"));
    }

    [Fact]
    public void OversizedInlineRequestIsRefused()
    {
        using var c = _server.Connect();
        c.SendRaw(new string('a', 70 * 1024));
        var reply = Assert.IsType<RespError>(c.Read());
        Assert.Equal("ERR Protocol error: too big inline request", reply.Message);
    }

    [Fact]
    public void UnknownCommandAndArity()
    {
        using var c = _server.Connect();
        Assert.Equal("ERR unknown command 'nosuch', with args beginning with: 'a' 'b' ", c.Call("nosuch", "a", "b")!.ToString());
        Assert.Equal("ERR wrong number of arguments for 'get' command", c.Call("GET")!.ToString());
    }

    [Fact]
    public void RandomGarbageNeverKillsTheServer()
    {
        var rng = new Random(12345);
        for (int i = 0; i < 50; i++)
        {
            using var c = _server.Connect();
            var junk = new byte[rng.Next(1, 4096)];
            rng.NextBytes(junk);
            try { c.SendRaw(junk); } catch (IOException) { }
        }
        using var check = _server.Connect();
        Assert.Equal("PONG", check.Call("PING"));
    }
}

/// <summary>One server shared by a test class.</summary>
public sealed class SharedServer : IDisposable
{
    public ServerProcess Server { get; } = new();
    public void Dispose() => Server.Dispose();
}
