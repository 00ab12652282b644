using System.Net.Sockets;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>client-output-buffer-limit enforcement: slow readers are cut off while others are served.</summary>
public sealed class OutputBufferLimitTests
{
    /// <summary>A client that never reads, with a tiny receive window so the kernel holds little for it.</summary>
    private static TcpClient SlowReader(int port)
    {
        var tcp = new TcpClient { ReceiveBufferSize = 4096 };
        tcp.Connect("127.0.0.1", port);
        return tcp;
    }

    private static bool Listed(RespClient c, string name) => ((string)c.Call("CLIENT", "LIST")!).Contains("name=" + name + " ");

    [Fact]
    public void HardLimitClosesAMonitorThatDoesNotReadWhileOthersAreServed()
    {
        using var server = new ServerProcess(null, "--client-output-buffer-limit", "normal 100000 0 0");
        using var slow = SlowReader(server.Port);
        var s = slow.GetStream();
        s.Write(RespClient.Encode("CLIENT", "SETNAME", "slowmon"));
        s.Write(RespClient.Encode("MONITOR"));
        using var writer = server.Connect();
        var value = new string('x', 1000);
        Assert.True(SpinUntil(() => Listed(writer, "slowmon")));
        int i = 0;
        for (; i < 20000 && Listed(writer, "slowmon"); i++)
            for (int j = 0; j < 50; j++) Assert.Equal("OK", writer.Call("SET", "obuf:" + j, value));
        Assert.False(Listed(writer, "slowmon"), "the slow monitor was never disconnected");
        Assert.Equal("PONG", writer.Call("PING"));
        Assert.True(SpinUntil(() => server.Output.Contains("scheduled to be closed ASAP for overcoming of output buffer limits.")));
        Assert.Contains(" name=slowmon ", server.Output);
    }

    [Fact]
    public void OneReplyOverTheHardLimitClosesTheClientWithoutAnswer()
    {
        using var server = new ServerProcess(null, "--client-output-buffer-limit", "normal 100000 0 0");
        using var c = server.Connect();
        Assert.Equal("OK", c.Call("SET", "big", new string('v', 200_000)));
        using var other = server.Connect();
        c.SendRaw(RespClient.Encode("GET", "big"));
        c.SendRaw(RespClient.Encode("PING"));
        Assert.True(c.IsClosedByServer());
        Assert.Equal("PONG", other.Call("PING"));
        Assert.Equal(1L, other.Call("EXISTS", "big"));
    }

    [Fact]
    public void SoftLimitClosesAClientThatStaysOverItEvenWithoutMoreTraffic()
    {
        using var server = new ServerProcess(null, "--client-output-buffer-limit", "normal 0 50000 1", "--hz", "50");
        using var slow = SlowReader(server.Port);
        var s = slow.GetStream();
        s.Write(RespClient.Encode("CLIENT", "SETNAME", "softmon"));
        s.Write(RespClient.Encode("MONITOR"));
        using var writer = server.Connect();
        Assert.True(SpinUntil(() => Listed(writer, "softmon")));
        var value = new string('y', 1000);
        long Omem()
        {
            string list = (string)writer.Call("CLIENT", "LIST")!;
            var line = list.Split('\n').FirstOrDefault(l => l.Contains("name=softmon "));
            return line is null ? -1 : long.Parse(System.Text.RegularExpressions.Regex.Match(line, @"omem=(\d+)").Groups[1].Value);
        }
        // Fill until the socket buffers are full and the monitor's pending output is well over the
        // soft limit (one batch alone can briefly pass it), then stop all traffic: the cron must close
        // it. The kernel may still grow the socket's send buffer and take the pending output (on a
        // loaded machine that takes long enough to matter); the client is then under the limit again
        // and is filled once more.
        for (int round = 0; round < 10 && Omem() >= 0; round++)
        {
            for (int i = 0; i < 20000; i++)
            {
                for (int j = 0; j < 50; j++) writer.Call("SET", "soft:" + j, value);
                long omem = Omem();
                if (omem < 0 || omem >= 150000) break;
            }
            SpinUntil(() => Omem() is < 0 or < 50000, 5000);
            // Still over the limit after 5 s without traffic: the cron did not enforce it.
            Assert.True(Omem() < 50000, "soft limit never enforced");
        }
        Assert.False(Listed(writer, "softmon"), "soft limit never enforced");
    }

    private static bool SpinUntil(Func<bool> condition, int timeoutMs = 5000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            Thread.Sleep(20);
        }
        return condition();
    }
}
