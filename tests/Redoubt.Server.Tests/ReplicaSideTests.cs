using Redoubt.Server.Tests.Support;
using Xunit;
using static Redoubt.Server.Tests.Support.ReplicationKit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Our server as a replica: of ours and of the real redis-server 7.0.15, in chains, through promotion
/// and demotion. The scenarios that involve only the real program's behaviour run with it too, to
/// show that the test itself expects what Redis does.
/// </summary>
[Collection("Serial")]
public sealed class ReplicaSideTests
{
    private static string[] ReplicaOf(ReplNode master, params string[] more) => ["--replicaof", "127.0.0.1", master.Port.ToString(), .. more];

    [Theory]
    [InlineData(NodeKind.Ours, "yes")]
    [InlineData(NodeKind.Ours, "no")]
    [InlineData(NodeKind.Real, "yes")]
    [InlineData(NodeKind.Real, "no")]
    public void FullSyncStreamAndPartialResyncFromMaster(NodeKind masterKind, string diskless)
    {
        using var master = new ReplNode(masterKind, "--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0");
        using var m = master.Connect();
        WriteEveryType(m, "before");
        using var replica = new ReplNode(NodeKind.Ours, ReplicaOf(master));
        using var r = replica.Connect();
        WaitFor(() => LinkUp(r), "link up");
        Assert.Contains("Full resync from master:", replica.Log);
        Assert.Contains(diskless == "yes" ? "receiving streamed RDB from master with EOF to disk" : "bytes from master to disk", replica.Log);
        Assert.Contains("MASTER <-> REPLICA sync: Finished with success", replica.Log);
        WriteEveryType(m, "after");
        AssertSameData(m, r);

        // Reads work, writes are refused, and the replica shows what it is.
        Assert.Equal("READONLY You can't write against a read only replica.", Assert.IsType<RespError>(r.Call("SET", "x", "1")).Message);
        var role = (object?[])r.Call("ROLE")!;
        Assert.Equal(["slave", "127.0.0.1", (long)master.Port, "connected"], role[..4]);
        Assert.Equal("slave", Info(r, "role"));
        Assert.Equal(Info(m, "master_replid"), Info(r, "master_replid"));
        WaitFor(() => Info(r, "master_repl_offset") == Info(m, "master_repl_offset"), "offsets equal");
        Assert.Equal(Info(m, "master_repl_offset"), Info(r, "slave_repl_offset"));
        // The master hears our ACKs: WAIT counts us.
        m.Call("SET", "acked", "1");
        Assert.Equal(1L, m.Call("WAIT", "1", "5000"));

        // Cut the link from the master's side: we come back with PSYNC and get only what we missed.
        m.Call("CLIENT", "KILL", "TYPE", "replica");
        m.Call("SET", "during", "cut");
        WaitFor(() => replica.Log.Contains("Successful partial resynchronization with master."), "partial resync");
        AssertSameData(m, r);
        Assert.Equal("0", Info(m, "sync_partial_err", "stats"));
    }

    [Theory]
    [InlineData(NodeKind.Ours)]
    [InlineData(NodeKind.Real)]
    public void SeedWalkthroughPromotesWithoutFullResync(NodeKind kind)
    {
        // A master with two replicas; the master stops; one replica is promoted; the other replica
        // and the restarted old master follow it, all with partial resyncs.
        using var master = new ReplNode(kind, "--repl-diskless-sync-delay", "0");
        using var r1 = new ReplNode(kind, ReplicaOf(master));
        using var r2 = new ReplNode(kind, ReplicaOf(master));
        using (var m = master.Connect())
        {
            using var c1 = r1.Connect();
            using var c2 = r2.Connect();
            WaitFor(() => LinkUp(c1) && LinkUp(c2), "both replicas up");
            WriteEveryType(m, "seed");
            WaitFor(() => Info(c1, "master_repl_offset") == Info(m, "master_repl_offset") && Info(c2, "master_repl_offset") == Info(m, "master_repl_offset"), "replicas caught up");
        }
        master.Shutdown(save: true);

        using var p = r1.Connect();
        Assert.Equal("OK", p.Call("REPLICAOF", "NO", "ONE"));
        Assert.Equal("master", Info(p, "role"));
        string fullBefore = Info(p, "sync_full", "stats");
        p.Call("SET", "after-promotion", "1");
        using (var c2 = r2.Connect())
        {
            Assert.Equal("OK", c2.Call("REPLICAOF", "127.0.0.1", r1.Port.ToString()));
            WaitFor(() => LinkUp(c2) && Equals(c2.Call("GET", "after-promotion"), "1"), "second replica follows the promoted one");
        }
        master.Start("--replicaof", "127.0.0.1", r1.Port.ToString());
        using var old = master.Connect();
        WaitFor(() => LinkUp(old) && Equals(old.Call("GET", "after-promotion"), "1"), "old master follows the promoted one");
        Assert.Equal("READONLY You can't write against a read only replica.", Assert.IsType<RespError>(old.Call("SET", "k", "v")).Message);
        Assert.Equal(fullBefore, Info(p, "sync_full", "stats"));
        Assert.Equal("2", Info(p, "sync_partial_ok", "stats"));
        Assert.Equal("2", Info(p, "connected_slaves"));
        AssertSameData(p, old);
    }

    [Fact]
    public void ChainsMixOursAndReal()
    {
        // real -> ours -> real: our replica forwards its master's exact stream.
        using var top = new ReplNode(NodeKind.Real, "--repl-diskless-sync-delay", "0");
        using var middle = new ReplNode(NodeKind.Ours, [.. ReplicaOf(top), "--repl-diskless-sync-delay", "0"]);
        using var bottom = new ReplNode(NodeKind.Real, ReplicaOf(middle));
        using var t = top.Connect();
        using var mid = middle.Connect();
        using var b = bottom.Connect();
        WriteEveryType(t, "one");
        WaitFor(() => LinkUp(mid) && LinkUp(b), "chain up");
        WriteEveryType(t, "two");
        AssertSameData(t, b);
        WaitFor(() => Info(b, "master_repl_offset") == Info(t, "master_repl_offset"), "same offsets down the chain");
        Assert.Equal(Info(t, "master_replid"), Info(b, "master_replid"));

        // ours -> real -> ours.
        using var top2 = new ReplNode(NodeKind.Ours, "--repl-diskless-sync-delay", "0");
        using var middle2 = new ReplNode(NodeKind.Real, [.. ReplicaOf(top2), "--repl-diskless-sync-delay", "0"]);
        using var bottom2 = new ReplNode(NodeKind.Ours, ReplicaOf(middle2));
        using var t2 = top2.Connect();
        using var b2 = bottom2.Connect();
        WriteEveryType(t2, "one");
        WaitFor(() => LinkUp(b2), "second chain up");
        WriteEveryType(t2, "two");
        AssertSameData(t2, b2);
        WaitFor(() => Info(b2, "master_repl_offset") == Info(t2, "master_repl_offset"), "same offsets down the second chain");
    }

    [Theory]
    [InlineData(NodeKind.Ours)]
    [InlineData(NodeKind.Real)]
    public void RestartedReplicaResyncsPartiallyFromItsRdb(NodeKind kind)
    {
        using var master = new ReplNode(NodeKind.Ours, "--repl-diskless-sync-delay", "0");
        using var replica = new ReplNode(kind, ReplicaOf(master));
        using var m = master.Connect();
        using (var r = replica.Connect())
        {
            WaitFor(() => LinkUp(r), "link up");
            WriteEveryType(m, "x");
            WaitFor(() => Info(r, "master_repl_offset") == Info(m, "master_repl_offset"), "caught up");
        }
        replica.Shutdown(save: true);
        m.Call("SET", "while-down", "1");
        replica.Start();
        using var r2 = replica.Connect();
        WaitFor(() => LinkUp(r2) && Equals(r2.Call("GET", "while-down"), "1"), "back up");
        Assert.Equal("1", Info(m, "sync_full", "stats"));
        Assert.Equal("1", Info(m, "sync_partial_ok", "stats"));
        AssertSameData(m, r2);
    }

    [Theory]
    [InlineData(NodeKind.Ours)]
    [InlineData(NodeKind.Real)]
    public void LinkCutLongerThanTheBacklogForcesAFullResync(NodeKind kind)
    {
        using var master = new ReplNode(NodeKind.Ours, "--repl-diskless-sync-delay", "0", "--repl-backlog-size", "16kb");
        using var replica = new ReplNode(kind, ReplicaOf(master));
        using var m = master.Connect();
        using var r = replica.Connect();
        WaitFor(() => LinkUp(r), "link up");
        // Stopped, the replica cannot read while the master writes more than its backlog holds.
        replica.Signal("STOP");
        m.Call("CLIENT", "KILL", "TYPE", "replica");
        for (int i = 0; i < 100; i++) m.Call("SET", $"k{i}", new string('v', 1000));
        replica.Signal("CONT");
        WaitFor(() => Info(m, "sync_full", "stats") == "2" && LinkUp(r), "second full resync");
        WaitFor(() => Equals(r.Call("GET", "k99"), new string('v', 1000)), "data after the full resync");
        Assert.Contains("for lack of backlog", master.Log);
    }

    [Theory]
    [InlineData(NodeKind.Ours)]
    [InlineData(NodeKind.Real)]
    public void StaleDataRefusedWhileTheLinkIsDown(NodeKind kind)
    {
        using var master = new ReplNode(NodeKind.Ours, "--repl-diskless-sync-delay", "0");
        using var replica = new ReplNode(kind, [.. ReplicaOf(master), "--replica-serve-stale-data", "no"]);
        using var r = replica.Connect();
        WaitFor(() => LinkUp(r), "link up");
        Assert.Equal("PONG", r.Call("PING"));
        master.Kill();
        WaitFor(() => r.Call("GET", "x") is RespError, "link noticed down");
        Assert.Equal("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", Assert.IsType<RespError>(r.Call("GET", "x")).Message);
        Assert.Equal("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", Assert.IsType<RespError>(r.Call("PING")).Message);
        // INFO has the stale flag: it still answers, with the link down.
        Assert.Equal("down", Info(r, "master_link_status"));
        Assert.Contains(((object?[])r.Call("ROLE")!)[3], new object[] { "connect", "connecting" });
    }

    [Theory]
    [InlineData(NodeKind.Ours)]
    [InlineData(NodeKind.Real)]
    public void WrongMasterauthIsLoggedAndRetriedUntilFixed(NodeKind kind)
    {
        using var master = new ReplNode(NodeKind.Ours, "--requirepass", "secret", "--repl-diskless-sync-delay", "0");
        using var replica = new ReplNode(kind, [.. ReplicaOf(master), "--masterauth", "wrong"]);
        using var r = replica.Connect();
        WaitFor(() => replica.Log.Contains("Unable to AUTH to MASTER: -WRONGPASS"), "auth error logged");
        WaitFor(() => System.Text.RegularExpressions.Regex.Matches(replica.Log, "Unable to AUTH to MASTER").Count >= 2, "retried");
        Assert.Equal("down", Info(r, "master_link_status"));
        r.Call("CONFIG", "SET", "masterauth", "secret");
        WaitFor(() => LinkUp(r), "link up with the right password");
    }

    [Theory]
    [InlineData(NodeKind.Ours)]
    [InlineData(NodeKind.Real)]
    public void MasterKilledDuringFullSyncThenBack(NodeKind kind)
    {
        // A slow snapshot (rdb-key-save-delay) keeps the transfer going when the master dies.
        using var master = new ReplNode(NodeKind.Ours, "--repl-diskless-sync", "no", "--rdb-key-save-delay", "2000");
        using (var m = master.Connect())
            m.Call("DEBUG", "POPULATE", "2000");
        using var replica = new ReplNode(kind, ReplicaOf(master));
        using var r = replica.Connect();
        WaitFor(() => master.Log.Contains("Starting BGSAVE for SYNC"), "full sync started");
        master.Kill();
        WaitFor(() => System.Text.RegularExpressions.Regex.Matches(replica.Log, "Connecting to MASTER").Count >= 2, "replica retries");
        Assert.Equal("down", Info(r, "master_link_status"));
        master.Start("--rdb-key-save-delay", "0");
        using var m2 = master.Connect();
        m2.Call("SET", "fresh", "1");
        WaitFor(() => LinkUp(r) && Equals(r.Call("GET", "fresh"), "1"), "synced after the master came back");
        // The master came back empty (no persistence): the replica followed it, as Redis's do.
        Assert.Equal(1L, r.Call("DBSIZE"));
    }

    [Fact]
    public void ReplicaofRepliesAndErrors()
    {
        using var master = new ReplNode(NodeKind.Ours);
        using var node = new ReplNode(NodeKind.Ours);
        using var c = node.Connect();
        Assert.Equal("OK", c.Call("REPLICAOF", "NO", "ONE"));
        Assert.Equal("ERR Invalid master port", Assert.IsType<RespError>(c.Call("REPLICAOF", "127.0.0.1", "70000")).Message);
        Assert.Equal("ERR Invalid master port", Assert.IsType<RespError>(c.Call("SLAVEOF", "127.0.0.1", "abc")).Message);
        Assert.Equal("OK", c.Call("SLAVEOF", "127.0.0.1", master.Port.ToString()));
        Assert.Equal("OK Already connected to specified master", c.Call("REPLICAOF", "127.0.0.1", master.Port.ToString()));
        WaitFor(() => LinkUp(c), "link up");
        Assert.Equal("127.0.0.1 " + master.Port, ((object?[])c.Call("CONFIG", "GET", "replicaof")!)[1]);
        Assert.Equal("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
            Assert.IsType<RespError>(c.Call("WAIT", "1", "0")).Message);
        Assert.Equal("OK", c.Call("replicaof", "no", "one"));
        Assert.Contains("MASTER MODE enabled (user request from", node.Log);
        Assert.Equal("OK", c.Call("SET", "writable", "again"));
        Assert.Equal("master", ((object?[])c.Call("ROLE")!)[0]);
    }

    [Theory]
    [InlineData(NodeKind.Ours, NodeKind.Ours)]
    [InlineData(NodeKind.Ours, NodeKind.Real)]
    [InlineData(NodeKind.Real, NodeKind.Ours)]
    public void FailoverHandsOverWithoutFullResync(NodeKind masterKind, NodeKind replicaKind)
    {
        using var master = new ReplNode(masterKind, "--repl-diskless-sync-delay", "0");
        using var replica = new ReplNode(replicaKind, ReplicaOf(master));
        using var m = master.Connect();
        using var r = replica.Connect();
        WaitFor(() => LinkUp(r), "link up");
        WriteEveryType(m, "pre");
        Assert.Equal("OK", m.Call("FAILOVER", "TO", "127.0.0.1", replica.Port.ToString(), "TIMEOUT", "10000"));
        WaitFor(() => Info(r, "role") == "master" && LinkUp(m), "roles swapped");
        WaitFor(() => Info(m, "master_failover_state") == "no-failover", "failover finished");
        Assert.Equal("READONLY You can't write against a read only replica.", Assert.IsType<RespError>(m.Call("SET", "k", "v")).Message);
        r.Call("SET", "after-failover", "1");
        WaitFor(() => Equals(m.Call("GET", "after-failover"), "1"), "old master follows");
        Assert.Equal("0", Info(r, "sync_full", "stats"));
        Assert.Equal("1", Info(r, "sync_partial_ok", "stats"));
        AssertSameData(r, m);
    }

    [Fact]
    public void FailoverErrors()
    {
        using var master = new ReplNode(NodeKind.Ours, "--repl-diskless-sync-delay", "0");
        using var m = master.Connect();
        Assert.Equal("ERR FAILOVER requires connected replicas.", Assert.IsType<RespError>(m.Call("FAILOVER")).Message);
        Assert.Equal("ERR No failover in progress.", Assert.IsType<RespError>(m.Call("FAILOVER", "ABORT")).Message);
        Assert.Equal("ERR FAILOVER timeout must be greater than 0", Assert.IsType<RespError>(m.Call("FAILOVER", "TIMEOUT", "0")).Message);
        Assert.Equal("ERR syntax error", Assert.IsType<RespError>(m.Call("FAILOVER", "BOGUS")).Message);
        using var replica = new ReplNode(NodeKind.Ours, ReplicaOf(master));
        using var r = replica.Connect();
        WaitFor(() => LinkUp(r), "link up");
        Assert.Equal("ERR FAILOVER is not valid when server is a replica.", Assert.IsType<RespError>(r.Call("FAILOVER")).Message);
        Assert.Equal("ERR FAILOVER with force option requires both a timeout and target HOST and IP.", Assert.IsType<RespError>(m.Call("FAILOVER", "FORCE")).Message);
        Assert.Equal("ERR FAILOVER target HOST and PORT is not a replica.", Assert.IsType<RespError>(m.Call("FAILOVER", "TO", "127.0.0.1", "1")).Message);
        // A replica that cannot catch up (stopped) makes the failover time out and writes resume.
        replica.Signal("STOP");
        try
        {
            m.Call("SET", "unacked", "1");
            Assert.Equal("OK", m.Call("FAILOVER", "TIMEOUT", "300"));
            Assert.Equal("waiting-for-sync", Info(m, "master_failover_state"));
            Assert.Equal("ERR FAILOVER already in progress.", Assert.IsType<RespError>(m.Call("FAILOVER")).Message);
            Assert.Equal("ERR REPLICAOF not allowed while failing over.", Assert.IsType<RespError>(m.Call("REPLICAOF", "NO", "ONE")).Message);
            WaitFor(() => Info(m, "master_failover_state") == "no-failover", "failover timed out", 10);
            WaitFor(() => master.Log.Contains("aborted: Replica never caught up before timeout"), "abort logged");
            Assert.Equal("OK", m.Call("SET", "writable", "1"));
            Assert.Equal("OK", m.Call("FAILOVER"));
            Assert.Equal("OK", m.Call("FAILOVER", "ABORT"));
            Assert.Equal("master", Info(m, "role"));
        }
        finally { replica.Signal("CONT"); }
    }

    [Fact]
    public void DebugDigestOfEveryTypeMatchesRealRedis()
    {
        // Replication tests (ours and Redis's own) compare datasets with DEBUG DIGEST.
        using var ours = new ReplNode(NodeKind.Ours);
        using var real = new ReplNode(NodeKind.Real);
        using var a = ours.Connect();
        using var b = real.Connect();
        foreach (var c in new[] { a, b })
        {
            c.Call("SADD", "s", "a", "b", "1", "2");
            c.Call("SADD", "si", "1", "2", "3");
            c.Call("ZADD", "z", "1", "a", "2.5", "b", "1e300", "c");
            c.Call(new object[] { "ZADD", "zbig" }.Concat(Enumerable.Range(0, 200).SelectMany(i => new object[] { (i * 0.5).ToString(System.Globalization.CultureInfo.InvariantCulture), "m" + i })).ToArray());
            c.Call("HSET", "h", "f", "v", "g", "w");
            c.Call(new object[] { "HSET", "hbig" }.Concat(Enumerable.Range(0, 200).SelectMany(i => new object[] { "f" + i, "v" + i })).ToArray());
            c.Call("RPUSH", "l", "x", "y");
            c.Call("SET", "str", "v", "EX", "100");
        }
        Assert.Equal(b.Call("DEBUG", "DIGEST"), a.Call("DEBUG", "DIGEST"));
        Assert.Equal(b.Call("DEBUG", "DIGEST-VALUE", "s", "si", "z", "zbig", "h", "hbig", "l", "str"),
                     a.Call("DEBUG", "DIGEST-VALUE", "s", "si", "z", "zbig", "h", "hbig", "l", "str"));
    }

    [Theory]
    [InlineData(NodeKind.Ours)]
    [InlineData(NodeKind.Real)]
    public void SlowReplicaOverItsOutputBufferLimitIsDroppedAndResyncs(NodeKind kind)
    {
        using var master = new ReplNode(NodeKind.Ours, "--repl-diskless-sync-delay", "0", "--client-output-buffer-limit", "replica 1mb 0 0");
        using var replica = new ReplNode(kind, ReplicaOf(master));
        using var m = master.Connect();
        using var r = replica.Connect();
        WaitFor(() => LinkUp(r), "link up");
        replica.Signal("STOP");
        try
        {
            // More than the socket buffers and the 1 MB limit can hold while the replica does not read.
            var value = new string('x', 100_000);
            for (int i = 0; i < 300; i++) m.Call("SET", $"big{i}", value);
            WaitFor(() => master.Log.Contains("scheduled to be closed ASAP for overcoming of output buffer limits"), "replica dropped");
        }
        finally { replica.Signal("CONT"); }
        WaitFor(() => LinkUp(r) && Equals(r.Call("GET", "big299"), new string('x', 100_000)), "replica resynced", 60);
        Assert.Equal(300L, r.Call("DBSIZE"));
    }

    [Fact]
    public void ClientsGetLoadingWhileTheReplicaLoadsTheMastersRdb()
    {
        using var master = new ReplNode(NodeKind.Ours, "--repl-diskless-sync-delay", "0");
        using (var m = master.Connect()) m.Call("DEBUG", "POPULATE", "3000");
        // A millisecond a key: the load takes about three seconds.
        using var replica = new ReplNode(NodeKind.Ours, "--key-load-delay", "1000", "--loading-process-events-interval-bytes", "1024");
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port.ToString());
        WaitFor(() => r.Call("GET", "key:1") is RespError { Message: var e } && e.StartsWith("LOADING"), "LOADING while the RDB loads");
        Assert.Equal("1", Info(r, "loading", "persistence"));
        WaitFor(() => LinkUp(r), "link up after the load", 60);
        Assert.Equal(3000L, r.Call("DBSIZE"));
        Assert.Equal("0", Info(r, "loading", "persistence"));
    }
}
