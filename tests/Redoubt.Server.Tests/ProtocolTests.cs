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

    [Fact]
    public void MixedPipelineAnswersAsIfSentOneByOne()
    {
        // Keys scanned ahead of their commands (the lookup prefetch) must change nothing: database
        // switches, inline commands, long keys and a protocol error mid-pipeline all behave as usual.
        using var c = _server.Connect();
        string longKey = "mix:" + new string('k', 300);
        var batch = new MemoryStream();
        batch.Write(RespClient.Encode("SET", "mix:a", "0"));
        batch.Write(RespClient.Encode("SELECT", "5"));
        batch.Write(RespClient.Encode("SET", "mix:a", "5"));
        batch.Write(RespClient.Encode("SET", longKey, "long"));
        batch.Write("GET mix:a\r\n"u8);
        for (int i = 0; i < 40; i++) batch.Write(RespClient.Encode("INCR", "mix:n"));
        batch.Write(RespClient.Encode("SELECT", "0"));
        batch.Write(RespClient.Encode("GET", "mix:a"));
        batch.Write(RespClient.Encode("GET", longKey));
        batch.Write(RespClient.Encode("MGET", "mix:a", "mix:n"));
        batch.Write("*2\r\n$3\r\nGET\r\n:1\r\n"u8);
        c.SendRaw(batch.ToArray());
        foreach (var expected in new object?[] { "OK", "OK", "OK", "OK", "5" }) Assert.Equal(expected, c.Read());
        for (long i = 1; i <= 40; i++) Assert.Equal(i, c.Read());
        Assert.Equal("OK", c.Read());
        Assert.Equal("0", c.Read());
        Assert.Null(c.Read());
        Assert.Equal(new object?[] { "0", null }, Assert.IsType<object?[]>(c.Read()));
        Assert.Equal("ERR Protocol error: expected '$', got ':'", Assert.IsType<RespError>(c.Read()).Message);
        Assert.True(c.IsClosedByServer());
    }

    [Fact]
    public void PipelinesOnBigHashesAndSetsAnswerAsIfSentOneByOne()
    {
        // Their fields are prefetched ahead of the commands: the answers must not change.
        using var c = _server.Connect();
        c.Call("DEL", "pipe:h", "pipe:s");
        // Past the default 512 entries of the packed encodings.
        const int n = 600;
        for (int i = 0; i < n; i++)
        {
            c.Call("HSET", "pipe:h", $"f{i}", $"v{i}");
            c.Call("SADD", "pipe:s", $"m{i}");
        }
        Assert.Equal("hashtable", c.Call("OBJECT", "ENCODING", "pipe:h"));
        Assert.Equal("hashtable", c.Call("OBJECT", "ENCODING", "pipe:s"));
        var batch = new MemoryStream();
        var expected = new List<object?>();
        for (int i = 0; i < 60; i++)
        {
            batch.Write(RespClient.Encode("HSET", "pipe:h", $"f{i * 17}", "new"));
            expected.Add(i * 17 < n ? 0L : 1L);
            batch.Write(RespClient.Encode("HGET", "pipe:h", $"f{i * 17}"));
            expected.Add("new");
            batch.Write(RespClient.Encode("SADD", "pipe:s", $"m{i * 19}"));
            expected.Add(i * 19 < n ? 0L : 1L);
            // Never added by the SADDs of the batch (those are multiples of 19).
            batch.Write(RespClient.Encode("SISMEMBER", "pipe:s", $"m{i * 19 + 1}"));
            expected.Add(i * 19 + 1 < n ? 1L : 0L);
        }
        c.SendRaw(batch.ToArray());
        foreach (var e in expected) Assert.Equal(e, c.Read());
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
