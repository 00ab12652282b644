using System.Diagnostics;
using Redoubt.Server.Tests.Support;
using static Redoubt.Server.Tests.Support.ReplicationKit;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Redis 7's shutdown with lagging replicas: SHUTDOWN and SIGTERM give a stopped replica up to
/// shutdown-timeout seconds to catch up, SHUTDOWN ABORT cancels the wait, and the deadline ends it.
/// Our server is the master; a real redis-server is the replica that is stopped with SIGSTOP.
/// </summary>
[Collection("Serial")]
public sealed class ShutdownTests
{
    /// <summary>Master and a real replica in sync on k=1, then the replica stopped and its link clogged.</summary>
    private static (ReplNode Master, ReplNode Replica) LaggingPair(string shutdownTimeout)
    {
        var master = new ReplNode(NodeKind.Ours, "--shutdown-timeout", shutdownTimeout, "--repl-diskless-sync-delay", "0");
        var replica = new ReplNode(NodeKind.Real, "--replicaof", "127.0.0.1", master.Port.ToString());
        using var m = master.Connect();
        using var r = replica.Connect();
        WaitFor(() => LinkUp(r), "replica link up");
        m.Call("SET", "k", "1");
        WaitFor(() => Info(r, "master_repl_offset") == Info(m, "master_repl_offset"), "replica in sync");
        replica.Signal("STOP");
        // Fill the socket buffers towards the stopped replica, so that what follows stays in our
        // output buffer instead of reaching the replica's kernel.
        var value = new string('x', 1024);
        for (int round = 0; long.Parse(Info(m, "mem_total_replication_buffers", "memory")) < 2 << 20; round++)
        {
            Assert.True(round < 200, "the replication buffer never grew");
            for (int i = 0; i < 1024; i++) m.SendRaw(RespClient.Encode("SET", $"junk{round}:{i}", value));
            for (int i = 0; i < 1024; i++) m.Read();
            Thread.Sleep(10);
        }
        Assert.Equal(2L, m.Call("INCR", "k"));
        return (master, replica);
    }

    [Theory]
    [InlineData("shutdown")]
    [InlineData("sigterm")]
    public void MasterWaitsForALaggingReplicaBeforeExiting(string how)
    {
        var (master, replica) = LaggingPair("300");
        using (master)
        using (replica)
        {
            using var m = master.Connect();
            using var caller = master.Connect();
            if (how == "shutdown") caller.SendRaw(RespClient.Encode("SHUTDOWN"));
            else master.Signal("TERM");
            WaitFor(() => Info(m, "shutdown_in_milliseconds", "server") is { Length: > 0 } ms && long.Parse(ms) > 0, "shutdown waiting for the replica");
            Assert.Contains("Waiting for replicas before shutting down.", master.Log);
            if (how == "shutdown") Assert.Equal("1", Info(m, "blocked_clients", "clients"));
            Thread.Sleep(200);
            Assert.False(master.HasExited);

            replica.Signal("CONT");
            using var r = replica.Connect();
            WaitFor(() => Equals(r.Call("GET", "k"), "2"), "the replica caught up before the master left");
            WaitFor(() => master.HasExited, "master exited");
            Assert.Contains("1 of 1 replicas are in sync when shutting down.", master.Log);
            Assert.DoesNotContain("Lagging replica", master.Log);
            Assert.Contains("ready to exit, bye bye", master.Log);
        }
    }

    [Fact]
    public void TheWaitEndsAtShutdownTimeout()
    {
        var (master, replica) = LaggingPair("1");
        using (master)
        using (replica)
        {
            var watch = Stopwatch.StartNew();
            master.Signal("TERM");
            WaitFor(() => master.HasExited, "master exited after its timeout");
            Assert.InRange(watch.Elapsed.TotalSeconds, 0.9, 15);
            Assert.Matches(@"Lagging replica 127\.0\.0\.1:\d+ reported offset \d+ behind master, lag=\d+, state=online\.", master.Log);
            Assert.Contains("0 of 1 replicas are in sync when shutting down.", master.Log);
            replica.Signal("CONT");
            using var r = replica.Connect();
            Assert.Equal("1", r.Call("GET", "k"));
        }
    }

    [Fact]
    public void AbortAnswersEveryWaitingCallerAndResumesWrites()
    {
        var (master, replica) = LaggingPair("300");
        using (master)
        using (replica)
        {
            using var m = master.Connect();
            using var first = master.Connect();
            using var second = master.Connect();
            first.SendRaw(RespClient.Encode("SHUTDOWN"));
            second.SendRaw(RespClient.Encode("SHUTDOWN"));
            WaitFor(() => Info(m, "blocked_clients", "clients") == "2", "both callers blocked");

            // Writes are held while the shutdown waits; they run once it is aborted.
            using var writer = master.Connect();
            writer.SendRaw(RespClient.Encode("SET", "during", "wait"));
            Thread.Sleep(100);
            Assert.Null(m.Call("GET", "during"));

            Assert.Equal("OK", m.Call("SHUTDOWN", "ABORT"));
            Assert.Equal("ERR Errors trying to SHUTDOWN. Check logs.", Assert.IsType<RespError>(first.Read()).Message);
            Assert.Equal("ERR Errors trying to SHUTDOWN. Check logs.", Assert.IsType<RespError>(second.Read()).Message);
            Assert.Equal("OK", writer.Read());
            Assert.Equal("ERR No shutdown in progress.", Assert.IsType<RespError>(m.Call("SHUTDOWN", "ABORT")).Message);
            Assert.Equal("", Info(m, "shutdown_in_milliseconds", "server"));
            Assert.Contains("Shutdown manually aborted.", master.Log);
            replica.Signal("CONT");
            Assert.Equal("PONG", first.Call("PING"));
        }
    }

    [Fact]
    public void SigintIsHandledEvenWhenStartedWithItIgnored()
    {
        // A shell starting a background job without job control leaves SIGINT ignored in it; the
        // server must still shut down cleanly on SIGINT, as redis-server does.
        int port = ServerProcess.FreePort();
        string dir = Directory.CreateTempSubdirectory("redoubt-sigint-").FullName;
        string log = Path.Combine(dir, "server.log");
        var psi = new ProcessStartInfo("bash")
        {
            ArgumentList = { "-c", $"trap '' INT; exec '{ServerProcess.Launcher}' server --port {port} --bind 127.0.0.1 --save '' --dir '{dir}' --logfile '{log}'" },
            UseShellExecute = false,
        };
        using var process = Process.Start(psi)!;
        try
        {
            WaitFor(() =>
            {
                try { using var c = new RespClient(port); return Equals(c.Call("PING"), "PONG"); }
                catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException) { return false; }
            }, "server up", 60);
            Process.Start("kill", ["-INT", process.Id.ToString()])!.WaitForExit();
            Assert.True(process.WaitForExit(20000), "the server ignored SIGINT");
            Assert.Equal(0, process.ExitCode);
            var text = File.ReadAllText(log);
            Assert.Contains("Received SIGINT scheduling shutdown...", text);
            Assert.Contains("ready to exit, bye bye", text);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
            Directory.Delete(dir, recursive: true);
        }
    }
}
