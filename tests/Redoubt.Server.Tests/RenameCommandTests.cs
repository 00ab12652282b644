using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>rename-command: the new name only, "" to disable, and the config errors.</summary>
public sealed class RenameCommandTests
{
    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    [Fact]
    public void RenamedCommandsAnswerUnderTheNewNameOnly()
    {
        using var server = new ServerProcess("rename-command get myget\nrename-command DEL \"\"\n");
        using var c = server.Connect();
        Assert.Equal("OK", c.Call("SET", "k", "v"));
        Assert.Equal("ERR unknown command 'GET', with args beginning with: 'k' ", Err(c.Call("GET", "k")));
        Assert.Equal("v", c.Call("MYGET", "k"));
        Assert.Equal("v", c.Call("myget", "k"));
        Assert.Equal("ERR unknown command 'DEL', with args beginning with: 'k' ", Err(c.Call("DEL", "k")));
        Assert.Equal(1L, c.Call("EXISTS", "k"));

        // ACL rules and errors keep using the original names.
        Assert.Equal("OK", c.Call("ACL", "SETUSER", "u", "on", "nopass", "-get", "+set", "~*"));
        using var u = server.Connect();
        u.Call("AUTH", "u", "x");
        Assert.Equal("NOPERM this user has no permissions to run the 'get' command", Err(u.Call("MYGET", "k")));
        Assert.Equal("ERR Command 'get' not found", Err(c.Call("ACL", "DRYRUN", "u", "get", "k")));
        Assert.Equal("This user has no permissions to run the 'get' command", c.Call("ACL", "DRYRUN", "u", "myget", "k"));
    }

    [Fact]
    public void RenamingToItselfIsAccepted()
    {
        using var server = new ServerProcess(null, "--rename-command", "get", "GET");
        using var c = server.Connect();
        Assert.Null(c.Call("GET", "nothing"));
    }

    [Theory]
    [InlineData("rename-command nosuch foo", "No such command in rename-command")]
    [InlineData("rename-command get set", "Target command name already exists")]
    [InlineData("rename-command get g2\nrename-command get g3", "No such command in rename-command")]
    public void BadRenamesAreFatalConfigErrors(string config, string reason)
    {
        var dir = Directory.CreateTempSubdirectory("redoubt-rename-").FullName;
        try
        {
            string conf = Path.Combine(dir, "redis.conf");
            File.WriteAllText(conf, "port 0\n" + config + "\n");
            var (code, output) = AclConfigTests.RunToExit(dir, conf);
            Assert.Equal(1, code);
            string lastLine = config.Split('\n')[^1];
            int lineNumber = config.Split('\n').Length + 1;
            Assert.Contains($"*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {lineNumber}\n>>> '{lastLine}'\n{reason}\n", output);
        }
        finally { Directory.Delete(dir, true); }
    }
}
