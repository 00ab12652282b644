using System.Diagnostics;
using System.Net.Sockets;
using Redoubt.Server.Tests.Support;
using static Redoubt.Server.Tests.Support.ReplicationKit;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>A real redis-server 7.0.15 replicating from our server.</summary>
[Collection("Serial")]
public sealed class ReplicationMasterTests
{
    [Theory]
    [InlineData("yes")]
    [InlineData("no")]
    public void RealReplicaFullResyncThenStreamThenPartialResync(string diskless)
    {
        using var server = new ServerProcess((string?)null, "--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes");
        using var m = new RespClient(server.Port);
        WriteEveryType(m, "before");
        using var replica = new ReplNode(NodeKind.Real, "--replicaof", "127.0.0.1", server.Port.ToString());
        using var r = new RespClient(replica.Port);
        WaitFor(() => Info(r, "master_link_status") == "up", "replica link up");
        WaitFor(() => server.Output.Contains("Full resync requested by replica"), "full resync in our log");
        Assert.Contains(diskless == "yes" ? "Starting BGSAVE for SYNC with target: replicas sockets" : "Starting BGSAVE for SYNC with target: disk", server.Output);
        Assert.Contains("Full resync requested by replica", server.Output);
        WriteEveryType(m, "after");
        AssertSameData(m, r);
        Assert.Equal("1", Info(m, "connected_slaves"));
        Assert.Contains("state=online", (string)m.Call("INFO", "replication")!);
        Assert.Equal(1L, m.Call("WAIT", "1", "2000"));
        var role = (object?[])m.Call("ROLE")!;
        Assert.Equal("master", role[0]);
        var listed = (object?[])((object?[])role[2]!)[0]!;
        Assert.Equal(replica.Port.ToString(), listed[1]);

        // Cut the link: the replica comes back asking for the missing bytes only.
        m.Call("CLIENT", "KILL", "TYPE", "replica");
        m.Call("SET", "during", "cut");
        WaitFor(() => replica.Log.Contains("Successful partial resynchronization"), "partial resync in replica log");
        WaitFor(() => Equals(r.Call("GET", "during"), "cut"), "write after cut replicated");
        Assert.Contains("sync_partial_ok:1", (string)m.Call("INFO", "stats")!);
        // Our log reaches the test through a pipe, possibly after the replica's own log says it is done.
        WaitFor(() => server.Output.Contains("Partial resynchronization request from"), "partial resync in our log");
        AssertSameData(m, r);
    }

    [Fact]
    public void MinReplicasToWriteAndWait()
    {
        using var server = new ServerProcess((string?)null, "--repl-diskless-sync-delay", "0");
        using var m = new RespClient(server.Port);
        // No replica yet: WAIT times out with 0, and min-replicas refuses writes.
        Assert.Equal(0L, m.Call("WAIT", "1", "100"));
        m.Call("CONFIG", "SET", "min-replicas-to-write", "1");
        var err = Assert.IsType<RespError>(m.Call("SET", "k", "v"));
        Assert.Equal("NOREPLICAS Not enough good replicas to write.", err.Message);
        Assert.Equal("OK", m.Call("CONFIG", "SET", "min-replicas-to-write", "0"));
        using var replica = new ReplNode(NodeKind.Real, "--replicaof", "127.0.0.1", server.Port.ToString());
        using var r = new RespClient(replica.Port);
        WaitFor(() => Info(r, "master_link_status") == "up", "replica link up");
        m.Call("CONFIG", "SET", "min-replicas-to-write", "1");
        WaitFor(() => Equals(m.Call("SET", "k", "v"), "OK"), "write accepted with one good replica");
        Assert.Equal(1L, m.Call("WAIT", "1", "0"));
        Assert.Equal(1L, m.Call("WAIT", "2", "200"));
        WaitFor(() => Equals(r.Call("GET", "k"), "v"), "replicated");
        m.Call("PUBLISH", "ch", "msg");
        WaitFor(() => Info(r, "master_repl_offset") == Info(m, "master_repl_offset"), "PUBLISH reached the replica's offset");
    }

    [Fact]
    public void ReplconfErrorsAndReplies()
    {
        using var server = new ServerProcess((string?)null, "--repl-diskless-sync", "no");
        using var c = new RespClient(server.Port);
        Assert.Equal("OK", c.Call("REPLCONF", "listening-port", "6380", "capa", "eof", "capa", "psync2"));
        Assert.Equal("OK", c.Call("REPLCONF", "ip-address", "10.0.0.1"));
        Assert.Equal("OK", c.Call("REPLCONF", "rdb-only", "0"));
        Assert.Equal("ERR Unrecognized REPLCONF option: foo", Assert.IsType<RespError>(c.Call("REPLCONF", "foo", "bar")).Message);
        Assert.Equal("ERR syntax error", Assert.IsType<RespError>(c.Call("REPLCONF", "foo")).Message);
        Assert.Equal("ERR value is not an integer or out of range", Assert.IsType<RespError>(c.Call("PSYNC", "?", "x")).Message);
        // ACK from a non-replica is silently ignored: the next reply is PING's.
        c.SendRaw(RespClient.Encode("REPLCONF", "ACK", "10"));
        Assert.Equal("PONG", c.Call("PING"));
        // A PSYNC gets +FULLRESYNC with a 40-char replid and then the RDB.
        var full = (string)c.Call("PSYNC", "?", "-1")!;
        Assert.Matches("^FULLRESYNC [0-9a-f]{40} 0$", full);
        using var admin = new RespClient(server.Port);
        Assert.Equal("1", Info(admin, "repl_backlog_active"));
        Assert.Equal(full.Split(' ')[1], Info(admin, "master_replid"));
        // Without replicas for repl-backlog-ttl seconds the backlog goes, with a new history id.
        admin.Call("CONFIG", "SET", "repl-backlog-ttl", "1");
        c.Dispose();
        WaitFor(() => Info(admin, "repl_backlog_active") == "0", "backlog freed after the ttl", 10);
        Assert.NotEqual(full.Split(' ')[1], Info(admin, "master_replid"));
    }
}
