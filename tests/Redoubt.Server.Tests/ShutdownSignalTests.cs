using System.Diagnostics;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>SIGTERM/SIGINT schedule a shutdown that the cron carries out; SHUTDOWN ABORT cancels it.</summary>
public sealed class ShutdownSignalTests
{
    private static void Signal(Process p, string sig) => Process.Start("kill", ["-" + sig, p.Id.ToString()])!.WaitForExit();

    private static bool LogShows(ServerProcess server, string text)
        => SpinWait.SpinUntil(() => server.Output.Contains(text), 10_000);

    [Fact]
    public void ShutdownAbortCancelsASigtermWhileTheCronIsPaused()
    {
        using var server = new ServerProcess(null, "--enable-debug-command", "yes");
        using var c = server.Connect();
        Assert.Equal("ERR No shutdown in progress.", c.Call("SHUTDOWN", "ABORT")!.ToString());
        Assert.Equal("OK", c.Call("DEBUG", "PAUSE-CRON", "1"));
        Signal(server.Process, "TERM");
        Assert.True(LogShows(server, "Received SIGTERM scheduling shutdown..."));
        // Nothing happens until the cron runs.
        Thread.Sleep(300);
        Assert.False(server.Process.HasExited);
        Assert.Equal("OK", c.Call("SHUTDOWN", "ABORT"));
        Assert.True(LogShows(server, "Shutdown manually aborted."));
        Assert.Equal("OK", c.Call("DEBUG", "PAUSE-CRON", "0"));
        Thread.Sleep(300);
        Assert.Equal("PONG", c.Call("PING"));
        Assert.Equal("ERR No shutdown in progress.", c.Call("SHUTDOWN", "ABORT")!.ToString());

        // Left alone, a SIGTERM shuts the server down cleanly.
        Signal(server.Process, "TERM");
        Assert.True(server.Process.WaitForExit(10_000));
        Assert.Equal(0, server.Process.ExitCode);
    }

    [Fact]
    public void ASecondSigintWhileOneIsPendingExitsAtOnceWithAnError()
    {
        using var server = new ServerProcess(null, "--enable-debug-command", "yes");
        using var c = server.Connect();
        Assert.Equal("OK", c.Call("DEBUG", "PAUSE-CRON", "1"));
        Signal(server.Process, "INT");
        Assert.True(LogShows(server, "Received SIGINT scheduling shutdown..."));
        Signal(server.Process, "INT");
        Assert.True(server.Process.WaitForExit(10_000));
        Assert.Equal(1, server.Process.ExitCode);
        server.Process.WaitForExit();
        Assert.Contains("You insist... exiting now.", server.Output);
    }
}
