using Redoubt.Server.Tests.Support;
using static Redoubt.Server.Tests.Support.ReplicationKit;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>Redis's bug report in the log when the process dies of SIGABRT or DEBUG SEGFAULT.</summary>
[Collection("Serial")]
public sealed class CrashReportTests
{
    [Theory]
    [InlineData("sigabrt", 6)]
    [InlineData("segfault", 11)]
    public void AFatalSignalLeavesABugReportAndKillsTheProcessWithIt(string how, int signal)
    {
        using var node = new ReplNode(NodeKind.Ours);
        using (var c = node.Connect()) c.Call("SET", "k", "v");
        if (how == "sigabrt") node.Signal("ABRT");
        else
        {
            using var c = node.Connect();
            c.SendRaw(RespClient.Encode("DEBUG", "SEGFAULT"));
            Assert.True(c.IsClosedByServer(10000));
        }
        WaitFor(() => node.HasExited, "the process died");
        var log = node.Log;
        Assert.Contains("=== REDIS BUG REPORT START: Cut & paste starting from here ===", log);
        Assert.Contains($"Redis 7.0.15 crashed by signal: {signal}", log);
        Assert.Contains("------ INFO OUTPUT ------", log);
        Assert.Contains("db0:keys=1,expires=0", log);
        Assert.Contains("------ CLIENT LIST OUTPUT ------", log);
        Assert.Contains("=== REDIS BUG REPORT END. Make sure to include from START to END. ===", log);
        Assert.Equal(128 + signal, node.ExitCode);
    }
}
