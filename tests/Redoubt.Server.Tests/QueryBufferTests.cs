using System.Diagnostics;
using System.Text.RegularExpressions;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>Query buffer sizing as CLIENT LIST shows it (qbuf + qbuf-free): growth, shrinking, idle release.</summary>
public sealed class QueryBufferTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public QueryBufferTests(SharedServer shared) => _server = shared.Server;

    /// <summary>qbuf + qbuf-free of the client with this name, and its idle seconds.</summary>
    private static (long Size, long Idle) Buffer(RespClient admin, string name)
    {
        string list = (string)admin.Call("CLIENT", "LIST")!;
        var line = list.Split('\n').Single(l => l.Contains(" name=" + name + " "));
        long Field(string f) => long.Parse(Regex.Match(line, " " + f + @"=(\d+)").Groups[1].Value);
        return (Field("qbuf") + Field("qbuf-free"), Field("idle"));
    }

    [Fact]
    public void AnIdleClientGivesItsBufferBackAndGetsANewOneWhenItSpeaks()
    {
        using var admin = _server.Connect();
        using var c = _server.Connect();
        Assert.Equal("OK", c.Call("CLIENT", "SETNAME", "qb-idle"));
        var (size, _) = Buffer(admin, "qb-idle");
        Assert.InRange(size, 16384, 32767);
        var sw = Stopwatch.StartNew();
        long idle;
        while (true)
        {
            (size, idle) = Buffer(admin, "qb-idle");
            if (size == 0) break;
            Assert.True(sw.ElapsedMilliseconds < 8000, $"buffer still {size} bytes after {sw.ElapsedMilliseconds} ms");
            Thread.Sleep(100);
        }
        // Released only once idle for more than 2 whole seconds.
        Assert.True(idle >= 3, $"released after {idle} s idle");
        // The client still works, big arguments included.
        string big = new('x', 100_000);
        Assert.Equal("OK", c.Call("SET", "qb:k", big));
        Assert.Equal(big, c.Call("GET", "qb:k"));
        Assert.True(Buffer(admin, "qb-idle").Size > 0);
    }

    [Fact]
    public void AnIdleClientThatClosesIsGoneBeforeTheNextClientsCommands()
    {
        using var admin = _server.Connect();
        for (int round = 0; round < 2; round++)
        {
            var c = _server.Connect();
            Assert.Equal("OK", c.Call("CLIENT", "SETNAME", "qb-gone"));
            Assert.True(SpinWait.SpinUntil(() => Buffer(admin, "qb-gone").Size == 0, 8000), "buffer not given back");
            c.Dispose();
            // The close was sent first: it is handled before anything the next client sends.
            using var next = _server.Connect();
            Assert.DoesNotContain("name=qb-gone ", (string)next.Call("CLIENT", "LIST")!);
        }
    }

    [Fact]
    public void ABufferGrownForOneBigCommandShrinksWhileTheClientKeepsTalking()
    {
        using var admin = _server.Connect();
        using var c = _server.Connect();
        Assert.Equal("OK", c.Call("CLIENT", "SETNAME", "qb-busy"));
        Assert.Equal("OK", c.Call("SET", "qb:big", new string('A', 400_000)));
        long grown = Buffer(admin, "qb-busy").Size;
        Assert.True(grown > 32768, $"buffer {grown}");
        var sw = Stopwatch.StartNew();
        long size;
        do
        {
            Assert.Equal("OK", c.Call("SET", "qb:big", "small"));
            size = Buffer(admin, "qb-busy").Size;
            Thread.Sleep(10);
        } while (size >= grown && sw.ElapsedMilliseconds < 3000);
        Assert.InRange(size, 1, grown - 1);
    }
}
