using System.Diagnostics;
using System.Text.RegularExpressions;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// What a client's buffers cost as CLIENT LIST and client eviction see them: a big argument being read
/// is held once (not in a doubled buffer) and shown alone in qbuf, and replies a client does not read
/// pile up in its output while its commands keep being served.
/// </summary>
public sealed class ClientMemoryTests
{
    private static long Field(RespClient admin, string name, string field)
    {
        string list = (string)admin.Call("CLIENT", "LIST")!;
        var line = list.Split('\n').SingleOrDefault(l => l.Contains(" name=" + name + " "));
        if (line is null) return -1;
        return long.Parse(Regex.Match(line, " " + field + @"=(\d+)").Groups[1].Value);
    }

    private static bool SpinUntil(Func<bool> condition, int ms = 10000) => SpinWait.SpinUntil(condition, ms);

    [Fact]
    public void APartlyReadBigArgumentIsHeldOnceAndShownAloneInQbuf()
    {
        using var server = new ServerProcess();
        using var admin = server.Connect();
        // 7% of 6 MB: 440401 bytes for all clients together.
        Assert.Equal("OK", admin.Call("CONFIG", "SET", "maxmemory", "6291456"));
        Assert.Equal("OK", admin.Call("CONFIG", "SET", "maxmemory-clients", "7%"));
        Assert.Equal("OK", admin.Call("CLIENT", "NO-EVICT", "on"));

        using var half = server.Connect();
        Assert.Equal("OK", half.Call("CLIENT", "SETNAME", "half"));
        const int n = 220200;
        half.SendRaw($"*1\r\n${n}\r\n" + new string('v', n));
        // qbuf counts the argument's bytes only, not the header before them.
        Assert.True(SpinUntil(() => Field(admin, "half", "qbuf") == n), $"qbuf {Field(admin, "half", "qbuf")}");
        long size = Field(admin, "half", "qbuf") + Field(admin, "half", "qbuf-free");
        Assert.InRange(size, n, n + 4096);
        long totMem = Field(admin, "half", "tot-mem");
        Assert.InRange(totMem, n, 440400);

        // An argument of the whole limit takes the client over it.
        using var full = server.Connect();
        Assert.Equal("OK", full.Call("CLIENT", "SETNAME", "full"));
        full.SendRaw("*1\r\n$440401\r\n" + new string('v', 440401));
        Assert.True(full.IsClosedByServer(10000));
        Assert.Equal(-1, Field(admin, "full", "tot-mem"));
    }

    [Fact]
    public void RepliesAClientDoesNotReadPileUpWhileItsCommandsKeepRunning()
    {
        using var server = new ServerProcess();
        using var admin = server.Connect();
        Assert.Equal(1048576L, admin.Call("SETRANGE", "big", "1048575", "v"));
        using var lazy = server.Connect();
        Assert.Equal("OK", lazy.Call("CLIENT", "SETNAME", "lazy"));
        // 30 replies of 1 MB and a counter, none read yet: far more than the socket buffers hold.
        const int gets = 30;
        for (int i = 0; i < gets; i++)
        {
            lazy.SendRaw(RespClient.Encode("GET", "big"));
            lazy.SendRaw(RespClient.Encode("INCR", "served"));
        }
        // Every command ran although the client reads nothing, and its output holds the replies.
        Assert.True(SpinUntil(() => admin.Call("GET", "served") as string == gets.ToString()),
            $"served {admin.Call("GET", "served")}");
        Assert.True(Field(admin, "lazy", "tot-mem") > 10 * 1024 * 1024, $"tot-mem {Field(admin, "lazy", "tot-mem")}");
        // The replies arrive whole and in order.
        for (int i = 1; i <= gets; i++)
        {
            Assert.Equal(1048576, ((string)lazy.Read()!).Length);
            Assert.Equal((long)i, lazy.Read());
        }
        Assert.Equal("PONG", lazy.Call("PING"));
    }

    [Fact]
    public void AClientClosedForItsOutputLimitGetsNoOtherClientEvicted()
    {
        using var server = new ServerProcess();
        using var admin = server.Connect();
        Assert.Equal("OK", admin.Call("CONFIG", "SET", "maxmemory-clients", "10mb"));
        Assert.Equal("OK", admin.Call("CONFIG", "SET", "client-output-buffer-limit", "normal 3mb 0 0"));
        Assert.Equal("OK", admin.Call("CLIENT", "NO-EVICT", "on"));
        Assert.Equal(4L * 1024 * 1024, admin.Call("SETRANGE", "k", (4 * 1024 * 1024 - 1).ToString(), "v"));
        using var holder = server.Connect();
        Assert.Equal("OK", holder.Call("CLIENT", "SETNAME", "holder"));
        const int qb = 6 * 1024 * 1024;
        holder.SendRaw($"*1\r\n${qb}\r\n" + new string('v', qb - 1024 * 1024));
        holder.SendRaw(new string('v', 1024 * 1024));
        Assert.True(SpinUntil(() => Field(admin, "holder", "qbuf") == qb), $"qbuf {Field(admin, "holder", "qbuf")}");
        // A 4 MB reply: the reader goes over its output limit and is closed; with the holder's 6 MB
        // that is over maxmemory-clients too, but the reader's memory is on its way out.
        using var reader = server.Connect();
        reader.SendRaw(RespClient.Encode("GET", "k"));
        Assert.True(reader.IsClosedByServer(10000));
        Assert.Equal(qb, Field(admin, "holder", "qbuf"));
        Assert.Contains("evicted_clients:0", (string)admin.Call("INFO", "stats")!);
    }

    [Fact]
    public void TrackingPrefixesCountTowardsClientEviction()
    {
        using var server = new ServerProcess();
        using var admin = server.Connect();
        Assert.Equal("OK", admin.Call("CLIENT", "NO-EVICT", "on"));
        Assert.Equal("OK", admin.Call("CONFIG", "SET", "maxmemory-clients", "200000"));
        using var c = server.Connect();
        int added = 0;
        try
        {
            for (; added < 20000; added++)
                if (c.Call("CLIENT", "TRACKING", "on", "prefix", added.ToString("D12"), "bcast") is not "OK") break;
        }
        catch (Exception e) when (e is IOException or EndOfStreamException) { }
        Assert.True(added < 20000, "never evicted");
        Assert.Contains("evicted_clients:1", (string)admin.Call("INFO", "stats")!);
    }
}
