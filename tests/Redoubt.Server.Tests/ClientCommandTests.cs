using System.Diagnostics;
using System.Text.RegularExpressions;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>CLIENT subcommands against a running server.</summary>
public sealed class ClientCommandTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public ClientCommandTests(SharedServer shared) => _server = shared.Server;

    private static string Field(string line, string name)
    {
        var m = Regex.Match(line, $"(?:^| ){Regex.Escape(name)}=(\\S*)");
        Assert.True(m.Success, $"no {name}= in {line}");
        return m.Groups[1].Value;
    }

    private static string[] Lines(object? reply) => ((string)reply!).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void IdAndInfoDescribeTheCallingConnection()
    {
        using var c = _server.Connect();
        long id = (long)c.Call("CLIENT", "ID")!;
        string info = (string)c.Call("CLIENT", "INFO")!;
        Assert.EndsWith("\n", info);
        Assert.Matches(@"^id=\d+ addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=\d+ name= age=\d+ idle=\d+ flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=\d+ argv-mem=\d+ multi-mem=0 rbs=\d+ rbp=\d+ obl=0 oll=0 omem=0 tot-mem=\d+ events=r cmd=client\|info user=default redir=-1 resp=2\n$", info);
        Assert.Equal(id.ToString(), Field(info, "id"));
        // argv-mem counts the running command's arguments: "client" + "info".
        Assert.Equal("10", Field(info, "argv-mem"));
    }

    [Fact]
    public void ListShowsEveryClientInConnectionOrderWithFilters()
    {
        using var a = _server.Connect();
        using var b = _server.Connect();
        long idA = (long)a.Call("CLIENT", "ID")!, idB = (long)b.Call("CLIENT", "ID")!;
        Assert.Equal("OK", b.Call("MULTI"));
        Assert.Equal("QUEUED", b.Call("PING"));

        var all = Lines(a.Call("CLIENT", "LIST"));
        var ids = all.Select(l => long.Parse(Field(l, "id"))).ToList();
        Assert.Equal(ids.OrderBy(x => x), ids);
        Assert.Contains(idA, ids);
        var lineB = all.Single(l => Field(l, "id") == idB.ToString());
        Assert.Equal("x", Field(lineB, "flags"));
        Assert.Equal("1", Field(lineB, "multi"));
        Assert.Equal("ping", Field(lineB, "cmd"));
        // Between commands a client holds no arguments.
        Assert.Equal("0", Field(lineB, "argv-mem"));

        var byId = Lines(a.Call("CLIENT", "LIST", "ID", idB, 999999, idA));
        Assert.Equal(2, byId.Length);
        Assert.Equal(idB.ToString(), Field(byId[0], "id"));
        Assert.Equal(idA.ToString(), Field(byId[1], "id"));

        Assert.Equal(all.Length, Lines(a.Call("CLIENT", "LIST", "TYPE", "normal")).Length);
        Assert.Equal("", a.Call("CLIENT", "LIST", "TYPE", "replica"));
        Assert.Equal("", a.Call("CLIENT", "LIST", "TYPE", "pubsub"));
        Assert.Equal("ERR Unknown client type 'bogus'", a.Call("CLIENT", "LIST", "TYPE", "bogus")!.ToString());
        Assert.Equal("ERR Invalid client ID", a.Call("CLIENT", "LIST", "ID", "1", "x")!.ToString());
        Assert.Equal("ERR syntax error", a.Call("CLIENT", "LIST", "ID")!.ToString());
        Assert.Equal("ERR syntax error", a.Call("CLIENT", "LIST", "foo")!.ToString());
        b.Call("DISCARD");
    }

    [Fact]
    public void SetNameValidatesAndGetNameReturnsIt()
    {
        using var c = _server.Connect();
        Assert.Null(c.Call("CLIENT", "GETNAME"));
        Assert.Equal("ERR Client names cannot contain spaces, newlines or special characters.", c.Call("CLIENT", "SETNAME", "a b")!.ToString());
        Assert.Equal("ERR Client names cannot contain spaces, newlines or special characters.", c.Call("CLIENT", "SETNAME", "a\nb")!.ToString());
        Assert.Equal("OK", c.Call("CLIENT", "SETNAME", "worker-1"));
        Assert.Equal("worker-1", c.Call("CLIENT", "GETNAME"));
        Assert.Equal("worker-1", Field((string)c.Call("CLIENT", "INFO")!, "name"));
        Assert.Equal("OK", c.Call("CLIENT", "SETNAME", ""));
        Assert.Null(c.Call("CLIENT", "GETNAME"));
        Assert.Equal("ERR wrong number of arguments for 'client|setname' command", c.Call("CLIENT", "SETNAME", "a", "b")!.ToString());
    }

    [Fact]
    public void KillByAddressIdAndUser()
    {
        using var admin = _server.Connect();
        using var v1 = _server.Connect();
        using var v2 = _server.Connect();
        string addr1 = Field((string)v1.Call("CLIENT", "INFO")!, "addr");
        long id2 = (long)v2.Call("CLIENT", "ID")!;

        Assert.Equal("OK", admin.Call("CLIENT", "KILL", addr1));
        Assert.True(v1.IsClosedByServer());
        Assert.Equal("ERR No such client", admin.Call("CLIENT", "KILL", addr1)!.ToString());

        Assert.Equal(0L, admin.Call("CLIENT", "KILL", "ID", "999999"));
        Assert.Equal(1L, admin.Call("CLIENT", "KILL", "ID", id2.ToString(), "USER", "default"));
        Assert.True(v2.IsClosedByServer());

        Assert.Equal("ERR client-id should be greater than 0", admin.Call("CLIENT", "KILL", "ID", "0")!.ToString());
        Assert.Equal("ERR client-id should be greater than 0", admin.Call("CLIENT", "KILL", "ID", "str")!.ToString());
        Assert.Equal("ERR Unknown client type 'wrong'", admin.Call("CLIENT", "KILL", "TYPE", "wrong")!.ToString());
        Assert.Equal("ERR No such user 'nobody'", admin.Call("CLIENT", "KILL", "USER", "nobody")!.ToString());
        Assert.Equal("ERR syntax error", admin.Call("CLIENT", "KILL", "SKIPME", "maybe")!.ToString());
        Assert.Equal("ERR syntax error", admin.Call("CLIENT", "KILL", "ID", "10", "wrong")!.ToString());
        Assert.Equal("ERR wrong number of arguments for 'client|kill' command", admin.Call("CLIENT", "KILL")!.ToString());
        Assert.Equal("PONG", admin.Call("PING"));
    }

    [Fact]
    public void KillingYourselfClosesAfterTheReply()
    {
        using var c = _server.Connect();
        long id = (long)c.Call("CLIENT", "ID")!;
        // New form skips the caller by default.
        Assert.Equal(0L, c.Call("CLIENT", "KILL", "ID", id.ToString()));
        Assert.Equal(1L, c.Call("CLIENT", "KILL", "ID", id.ToString(), "SKIPME", "no"));
        Assert.True(c.IsClosedByServer());

        using var d = _server.Connect();
        string addr = Field((string)d.Call("CLIENT", "INFO")!, "addr");
        Assert.Equal("OK", d.Call("CLIENT", "KILL", addr));
        Assert.True(d.IsClosedByServer());
    }

    [Fact]
    public void ReplyOffSkipAndOn()
    {
        using var c = _server.Connect();
        c.SendRaw(RespClient.Encode("CLIENT", "REPLY", "OFF"));
        c.SendRaw(RespClient.Encode("PING", "silenced"));
        c.SendRaw(RespClient.Encode("NOSUCHCOMMAND"));
        c.SendRaw(RespClient.Encode("CLIENT", "REPLY", "BOGUS"));
        c.SendRaw(RespClient.Encode("CLIENT", "REPLY", "ON"));
        Assert.Equal("OK", c.Read());
        c.SendRaw(RespClient.Encode("CLIENT", "REPLY", "SKIP"));
        c.SendRaw(RespClient.Encode("PING", "skipped"));
        c.SendRaw(RespClient.Encode("PING", "shown"));
        Assert.Equal("shown", c.Read());
        // ON right after SKIP cancels the skip.
        c.SendRaw(RespClient.Encode("CLIENT", "REPLY", "SKIP"));
        c.SendRaw(RespClient.Encode("CLIENT", "REPLY", "ON"));
        Assert.Equal("OK", c.Read());
        Assert.Equal("PONG", c.Call("PING"));
        // SKIP inside a transaction applies to the command after EXEC (the EXEC array then lacks
        // that element, exactly as Redis sends it).
        c.SendRaw(RespClient.Encode("MULTI"));
        Assert.Equal("OK", c.Read());
        c.SendRaw(RespClient.Encode("PING", "q"));
        Assert.Equal("QUEUED", c.Read());
        c.SendRaw(RespClient.Encode("CLIENT", "REPLY", "SKIP"));
        Assert.Equal("QUEUED", c.Read());
        c.SendRaw(RespClient.Encode("EXEC"));
        c.SendRaw(RespClient.Encode("PING", "after"));
        c.SendRaw(RespClient.Encode("PING", "after2"));
        Assert.Equal(new object?[] { "q", "after2" }, (object?[])c.Read()!);
    }

    [Fact]
    public void NoEvictSetsTheFlag()
    {
        using var c = _server.Connect();
        Assert.Equal("OK", c.Call("CLIENT", "NO-EVICT", "on"));
        Assert.Equal("e", Field((string)c.Call("CLIENT", "INFO")!, "flags"));
        Assert.Equal("OK", c.Call("CLIENT", "NO-EVICT", "off"));
        Assert.Equal("N", Field((string)c.Call("CLIENT", "INFO")!, "flags"));
        Assert.Equal("ERR syntax error", c.Call("CLIENT", "NO-EVICT", "maybe")!.ToString());
    }

    [Fact]
    public void UnblockAnswersZeroForClientsThatAreNotBlocked()
    {
        using var c = _server.Connect();
        using var other = _server.Connect();
        long id = (long)other.Call("CLIENT", "ID")!;
        Assert.Equal(0L, c.Call("CLIENT", "UNBLOCK", id.ToString()));
        Assert.Equal(0L, c.Call("CLIENT", "UNBLOCK", "999999", "ERROR"));
        Assert.Equal("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR", c.Call("CLIENT", "UNBLOCK", id.ToString(), "foo")!.ToString());
        Assert.Equal("ERR value is not an integer or out of range", c.Call("CLIENT", "UNBLOCK", "abc")!.ToString());
        Assert.Equal("ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP.", c.Call("CLIENT", "UNBLOCK", "1", "timeout", "x")!.ToString());
    }

    [Fact]
    public void TrackingInfoOffThenOn()
    {
        using var c = _server.Connect();
        var info = (object?[])c.Call("CLIENT", "TRACKINGINFO")!;
        Assert.Equal("flags", info[0]);
        Assert.Equal(new object?[] { "off" }, (object?[])info[1]!);
        Assert.Equal("redirect", info[2]);
        Assert.Equal(-1L, info[3]);
        Assert.Equal("prefixes", info[4]);
        Assert.Empty((object?[])info[5]!);
        Assert.Equal(-1L, c.Call("CLIENT", "GETREDIR"));
        Assert.Equal("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
            c.Call("CLIENT", "caching", "yes")!.ToString());
        Assert.Equal("OK", c.Call("CLIENT", "tracking", "on", "OPTIN", "NOLOOP"));
        Assert.Equal("OK", c.Call("CLIENT", "caching", "yes"));
        info = (object?[])c.Call("CLIENT", "TRACKINGINFO")!;
        Assert.Equal(new object?[] { "on", "optin", "caching-yes", "noloop" }, (object?[])info[1]!);
        Assert.Equal(0L, info[3]);
        Assert.Equal(0L, c.Call("CLIENT", "GETREDIR"));
        Assert.Equal("OK", c.Call("CLIENT", "tracking", "off"));
    }

    [Fact]
    public void HelpListsSubcommands()
    {
        using var c = _server.Connect();
        var help = (object?[])c.Call("client", "help")!;
        Assert.Equal("CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", help[0]);
        Assert.Equal(48, help.Length);
        Assert.Equal("    Prints this help.", help[^1]);
    }
}

/// <summary>CLIENT PAUSE / UNPAUSE: held-back commands, their order, and what is never held back.</summary>
public sealed class ClientPauseTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public ClientPauseTests(SharedServer shared) => _server = shared.Server;

    private static bool Answers(RespClient c, int withinMs)
    {
        try
        {
            var t = Task.Run(c.Read);
            return t.Wait(withinMs);
        }
        catch (AggregateException) { return false; }
    }

    [Fact]
    public void WritePauseHoldsWritesAndResumesThemInOrder()
    {
        using var admin = _server.Connect();
        using var w1 = _server.Connect();
        using var w2 = _server.Connect();
        using var w3 = _server.Connect();
        using var reader = _server.Connect();
        admin.Call("SET", "pause:k", "0");
        Assert.Equal("OK", admin.Call("CLIENT", "PAUSE", "100000", "WRITE"));
        try
        {
            w1.SendRaw(RespClient.Encode("SET", "pause:k", "1"));
            Thread.Sleep(50);
            w2.SendRaw(RespClient.Encode("SET", "pause:k", "2"));
            Thread.Sleep(50);
            w3.SendRaw(RespClient.Encode("SET", "pause:k", "3"));
            Thread.Sleep(100);
            // Reads, admin commands and errors are answered at once.
            Assert.Equal("0", reader.Call("GET", "pause:k"));
            Assert.Equal("PONG", reader.Call("PING"));
            Assert.Equal("ERR wrong number of arguments for 'set' command", reader.Call("SET", "x")!.ToString());
            var list = ((string)admin.Call("CLIENT", "LIST")!).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, list.Count(l => l.Contains(" flags=b ") && l.Contains(" cmd=set ")));
            // Held-back clients count as blocked, which is what the suite waits on.
            Assert.Contains("blocked_clients:3\r\n", (string)admin.Call("INFO", "clients")!);
        }
        finally
        {
            Assert.Equal("OK", admin.Call("CLIENT", "UNPAUSE"));
        }
        Assert.Equal("OK", w1.Read());
        Assert.Equal("OK", w2.Read());
        Assert.Equal("OK", w3.Read());
        Assert.Equal("3", reader.Call("GET", "pause:k"));
    }

    [Fact]
    public void ExecOfQueuedWritesIsHeldButReadOnlyTransactionsAreNot()
    {
        using var admin = _server.Connect();
        using var tx = _server.Connect();
        using var ro = _server.Connect();
        Assert.Equal("OK", tx.Call("MULTI"));
        Assert.Equal("QUEUED", tx.Call("SET", "pause:tx", "v"));
        Assert.Equal("OK", admin.Call("CLIENT", "PAUSE", "100000", "WRITE"));
        try
        {
            Assert.Equal("OK", ro.Call("MULTI"));
            Assert.Equal("QUEUED", ro.Call("GET", "pause:tx"));
            Assert.Equal(new object?[] { null }, (object?[])ro.Call("EXEC")!);
            tx.SendRaw(RespClient.Encode("EXEC"));
            Assert.False(Answers(tx, 300));
        }
        finally
        {
            admin.Call("CLIENT", "UNPAUSE");
        }
        Assert.Equal("v", admin.Call("GET", "pause:tx"));
    }

    [Fact]
    public void AllPauseEndsOnItsOwnAfterTheTimeout()
    {
        using var admin = _server.Connect();
        using var c = _server.Connect();
        var sw = Stopwatch.StartNew();
        Assert.Equal("OK", admin.Call("CLIENT", "PAUSE", "400", "ALL"));
        Assert.Equal("PONG", c.Call("PING"));
        Assert.True(sw.ElapsedMilliseconds >= 300, $"answered after {sw.ElapsedMilliseconds} ms");
        Assert.Equal("ERR CLIENT PAUSE mode must be WRITE or ALL", c.Call("CLIENT", "PAUSE", "10", "foo")!.ToString());
        Assert.Equal("ERR timeout is not an integer or out of range", c.Call("CLIENT", "PAUSE", "abc")!.ToString());
        Assert.Equal("ERR timeout is negative", c.Call("CLIENT", "PAUSE", "-1")!.ToString());
    }

    [Fact]
    public void PauseInsideATransactionStartsAfterIt()
    {
        using var c = _server.Connect();
        using var other = _server.Connect();
        try
        {
            Assert.Equal("OK", c.Call("MULTI"));
            c.Call("SET", "pause:t1", "a");
            c.Call("CLIENT", "PAUSE", "100000", "WRITE");
            c.Call("SET", "pause:t2", "b");
            var res = (object?[])c.Call("EXEC")!;
            Assert.Equal(new object?[] { "OK", "OK", "OK" }, res);
            Assert.Equal("b", other.Call("GET", "pause:t2"));
            other.SendRaw(RespClient.Encode("SET", "pause:t3", "c"));
            Assert.False(Answers(other, 300));
        }
        finally
        {
            c.Call("CLIENT", "UNPAUSE");
        }
        Assert.Equal("c", c.Call("GET", "pause:t3"));
    }
}

/// <summary>maxclients, the idle timeout and TCP keepalive, each on a server of its own.</summary>
public sealed class ConnectionLimitTests
{
    [Fact]
    public void MaxClientsRefusesExtraConnections()
    {
        using var server = new ServerProcess(null, "--maxclients", "2");
        using var a = server.Connect();
        using var b = server.Connect();
        Assert.Equal("PONG", a.Call("PING"));
        Assert.Equal("PONG", b.Call("PING"));
        using var c = server.Connect();
        Assert.Equal("ERR max number of clients reached", c.Read()!.ToString());
        Assert.True(c.IsClosedByServer());
        b.Dispose();
        // Once a slot frees up, connections are accepted again.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            using var d = server.Connect();
            var reply = d.Call("PING");
            if (reply is "PONG") break;
            Assert.True(DateTime.UtcNow < deadline, "slot never freed");
            Thread.Sleep(50);
        }
    }

    [Fact]
    public void IdleClientsAreClosedAfterTimeoutButMonitorsAreNot()
    {
        using var server = new ServerProcess(null, "--timeout", "1", "--hz", "50");
        using var idle = server.Connect();
        using var monitor = server.Connect();
        using var busy = server.Connect();
        Assert.Equal("PONG", idle.Call("PING"));
        Assert.Equal("OK", monitor.Call("MONITOR"));
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 2500)
        {
            Assert.Equal("PONG", busy.Call("PING"));
            Thread.Sleep(200);
        }
        Assert.True(idle.IsClosedByServer(2000));
        var list = (string)busy.Call("CLIENT", "LIST")!;
        Assert.Contains("flags=O", list);
        Assert.Equal(2, list.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    private static string SocketTimers(int port)
    {
        var psi = new ProcessStartInfo("ss", $"-tnoH state established ( sport = :{port} )") { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }

    [Fact]
    public void TcpKeepaliveIsSetOnAcceptedSockets()
    {
        using (var server = new ServerProcess(null, "--tcp-keepalive", "120"))
        {
            using var c = server.Connect();
            Assert.Equal("PONG", c.Call("PING"));
            Assert.Contains("timer:(keepalive,", SocketTimers(server.Port));
        }
        using (var server = new ServerProcess(null, "--tcp-keepalive", "0"))
        {
            using var c = server.Connect();
            Assert.Equal("PONG", c.Call("PING"));
            string timers = SocketTimers(server.Port);
            Assert.Contains(server.Port.ToString(), timers);
            Assert.DoesNotContain("keepalive", timers);
        }
    }
}
