using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>A server that logs every command (slowlog-log-slower-than 0), at most 5 entries.</summary>
public sealed class SlowlogServer : IDisposable
{
    public ServerProcess Server { get; } = new(null, "--slowlog-log-slower-than", "0", "--slowlog-max-len", "5");
    public void Dispose() => Server.Dispose();
}

public sealed class SlowlogTests : IClassFixture<SlowlogServer>
{
    private readonly ServerProcess _server;
    public SlowlogTests(SlowlogServer s) => _server = s.Server;

    private static object?[] Entries(RespClient c, params object[] count)
        => (object?[])c.Call(["SLOWLOG", "GET", .. count])!;

    [Fact]
    public void EntriesCarryIdTimeDurationArgsAddressAndName()
    {
        using var c = _server.Connect();
        c.Call("CLIENT", "SETNAME", "slow-client");
        c.Call("SLOWLOG", "RESET");
        c.Call("SET", "slow:k", "v");
        var entries = Entries(c);
        // Newest first: the SET, then SLOWLOG RESET itself.
        Assert.Equal(2, entries.Length);
        var e = (object?[])entries[0]!;
        Assert.Equal(6, e.Length);
        var older = (object?[])entries[1]!;
        Assert.Equal((long)older[0]! + 1, (long)e[0]!);
        Assert.InRange((long)e[1]!, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.True((long)e[2]! >= 0);
        Assert.Equal(new object?[] { "SET", "slow:k", "v" }, (object?[])e[3]!);
        string info = (string)c.Call("CLIENT", "INFO")!;
        Assert.Contains("addr=" + (string)e[4]! + " ", info);
        Assert.Equal("slow-client", e[5]);
        Assert.Equal(new object?[] { "slowlog", "reset" }, ((object?[])older[3]!).Select(x => ((string)x!).ToLowerInvariant()).ToArray());
    }

    [Fact]
    public void LengthIsCappedAndGetHonoursCount()
    {
        using var c = _server.Connect();
        c.Call("SLOWLOG", "RESET");
        for (int i = 0; i < 20; i++) c.Call("PING");
        Assert.Equal(5L, c.Call("SLOWLOG", "LEN"));
        Assert.Equal(5, Entries(c).Length);
        Assert.Equal(2, Entries(c, "2").Length);
        Assert.Empty(Entries(c, "0"));
        Assert.Equal(5, Entries(c, "-1").Length);
        Assert.Equal("ERR count should be greater than or equal to -1", c.Call("SLOWLOG", "GET", "-2")!.ToString());
        Assert.Equal("ERR count should be greater than or equal to -1", c.Call("SLOWLOG", "GET", "x")!.ToString());
        Assert.Equal("ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.", c.Call("SLOWLOG", "GET", "1", "2")!.ToString());
        Assert.Equal("OK", c.Call("SLOWLOG", "RESET"));
        // The RESET is logged after it ran.
        Assert.Equal(1L, c.Call("SLOWLOG", "LEN"));
    }

    [Fact]
    public void LongArgumentsAndLongCommandsAreTrimmed()
    {
        using var c = _server.Connect();
        c.Call("SLOWLOG", "RESET");
        var args = new List<object> { "EXISTS" };
        for (int i = 0; i < 40; i++) args.Add("k" + i);
        c.Call(args.ToArray());
        c.Call("ECHO", new string('A', 129));
        var entries = Entries(c);
        var echo = (object?[])((object?[])entries[0]!)[3]!;
        Assert.Equal(new string('A', 128) + "... (1 more bytes)", echo[1]);
        var exists = (object?[])((object?[])entries[1]!)[3]!;
        Assert.Equal(32, exists.Length);
        Assert.Equal("k29", exists[30]);
        Assert.Equal("... (10 more arguments)", exists[31]);
    }

    [Fact]
    public void ExecIsNotLoggedButItsCommandsAreAndPasswordsAreRedacted()
    {
        using var c = _server.Connect();
        c.Call("SLOWLOG", "RESET");
        c.Call("MULTI");
        c.Call("SET", "slow:tx", "1");
        c.Call("EXEC");
        c.Call("AUTH", "someone", "secret");
        var entries = Entries(c);
        var names = entries.Select(e => string.Join(" ", ((object?[])((object?[])e!)[3]!).Cast<string>())).ToList();
        Assert.Equal(new[] { "AUTH (redacted) (redacted)", "SET slow:tx 1", "MULTI", "SLOWLOG RESET" }, names);
    }

    [Fact]
    public void HelpAndArity()
    {
        using var c = _server.Connect();
        var help = (object?[])c.Call("SLOWLOG", "HELP")!;
        Assert.Equal("SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", help[0]);
        Assert.Equal(12, help.Length);
        Assert.Equal("ERR wrong number of arguments for 'slowlog|len' command", c.Call("SLOWLOG", "LEN", "x")!.ToString());
        Assert.Equal("ERR unknown subcommand 'nope'. Try SLOWLOG HELP.", c.Call("SLOWLOG", "nope")!.ToString());
    }
}

public sealed class SlowlogDisabledTests
{
    [Fact]
    public void NegativeThresholdDisablesTheLog()
    {
        using var server = new ServerProcess(null, "--slowlog-log-slower-than", "-1");
        using var c = server.Connect();
        for (int i = 0; i < 5; i++) c.Call("PING");
        Assert.Equal(0L, c.Call("SLOWLOG", "LEN"));
    }
}
