using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>AUTH, HELLO AUTH, requirepass and the default user's password.</summary>
public sealed class AuthTests
{
    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    private static Dictionary<string, object?> LatestLogEntry(RespClient c)
    {
        var entry = Assert.IsType<object?[]>(Assert.IsType<object?[]>(c.Call("ACL", "LOG"))[0]);
        var map = new Dictionary<string, object?>();
        for (int i = 0; i < entry.Length; i += 2) map[(string)entry[i]!] = entry[i + 1];
        return map;
    }

    [Fact]
    public void WithoutPasswordEveryoneIsTheDefaultUser()
    {
        using var server = new ServerProcess();
        using var c = server.Connect();
        Assert.Equal("PONG", c.Call("PING"));
        Assert.Equal("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            Err(c.Call("AUTH", "foo")));
        // The two-argument form works against a nopass user with any password.
        Assert.Equal("OK", c.Call("AUTH", "default", "anything"));
        Assert.Equal("ERR syntax error", Err(c.Call("AUTH", "a", "b", "c")));
    }

    [Fact]
    public void RequirepassProtectsTheDefaultUser()
    {
        using var server = new ServerProcess(null, "--requirepass", "foobar");
        using var c = server.Connect();
        Assert.Equal("NOAUTH Authentication required.", Err(c.Call("PING")));
        Assert.Equal("NOAUTH Authentication required.", Err(c.Call("ACL", "WHOAMI")));
        Assert.Equal("WRONGPASS invalid username-password pair or user is disabled.", Err(c.Call("AUTH", "wrong")));
        Assert.Equal("OK", c.Call("AUTH", "foobar"));
        Assert.Equal("PONG", c.Call("PING"));

        using var c2 = server.Connect();
        Assert.Equal("OK", c2.Call("AUTH", "default", "foobar"));
        Assert.Equal("default", c2.Call("ACL", "WHOAMI"));
        var user = Assert.IsType<object?[]>(c2.Call("ACL", "GETUSER", "default"));
        Assert.Equal(["on"], Assert.IsType<object?[]>(user[1]).Select(x => (string)x!).ToArray());
        Assert.Single(Assert.IsType<object?[]>(user[3]));

        // RESET goes back to the default user, not authenticated.
        Assert.Equal("RESET", c2.Call("RESET"));
        Assert.Equal("NOAUTH Authentication required.", Err(c2.Call("PING")));
    }

    [Fact]
    public void FailedAuthIsLoggedAndCounted()
    {
        using var server = new ServerProcess();
        using var admin = server.Connect();
        admin.Call("ACL", "SETUSER", "antirez", "on", ">foo", "+@all", "~*");
        using var c = server.Connect();
        Assert.StartsWith("WRONGPASS", Err(c.Call("AUTH", "antirez", "wrong-password")));
        var entry = LatestLogEntry(admin);
        Assert.Equal("auth", entry["reason"]);
        Assert.Equal("toplevel", entry["context"]);
        Assert.Equal("AUTH", entry["object"]);
        Assert.Equal("antirez", entry["username"]);

        Assert.StartsWith("WRONGPASS", Err(c.Call("hello", "3", "AUTH", "nosuch", "pw")));
        entry = LatestLogEntry(admin);
        Assert.Equal("hello", entry["object"]);
        Assert.Equal("nosuch", entry["username"]);

        // The same failure again only bumps the count.
        c.Call("hello", "3", "AUTH", "nosuch", "pw");
        Assert.Equal(2L, LatestLogEntry(admin)["count"]);
    }

    [Fact]
    public void HelloAuthenticatesAndSwitchesProtocol()
    {
        using var server = new ServerProcess(null, "--requirepass", "pw");
        using var c = server.Connect();
        Assert.Equal("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
            Err(c.Call("HELLO", "3")));
        Assert.Equal("WRONGPASS invalid username-password pair or user is disabled.", Err(c.Call("HELLO", "3", "AUTH", "default", "bad")));
        Assert.Equal("NOPROTO unsupported protocol version", Err(c.Call("HELLO", "4")));
        Assert.Equal("ERR Protocol version is not an integer or out of range", Err(c.Call("HELLO", "x")));
        Assert.Equal("ERR Syntax error in HELLO option 'AUTH'", Err(c.Call("HELLO", "3", "AUTH", "a")));
        var reply = Assert.IsType<object?[]>(c.Call("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "myname"));
        Assert.Equal(14, reply.Length);
        Assert.Equal("proto", reply[4]);
        Assert.Equal(3L, reply[5]);
        Assert.Equal("PONG", c.Call("PING"));
    }

    [Fact]
    public void DisabledUsersCannotAuthenticate()
    {
        using var server = new ServerProcess();
        using var admin = server.Connect();
        admin.Call("ACL", "SETUSER", "u1", "on", ">p1", ">p2", "+@all");
        using var c = server.Connect();
        Assert.Equal("OK", c.Call("AUTH", "u1", "p1"));
        Assert.Equal("OK", c.Call("AUTH", "u1", "p2"));
        admin.Call("ACL", "SETUSER", "u1", "off");
        Assert.StartsWith("WRONGPASS", Err(c.Call("AUTH", "u1", "p1")));
        // Connections already authenticated stay so.
        Assert.Equal("u1", c.Call("ACL", "WHOAMI"));
    }

    [Fact]
    public void DefaultUserOffRequiresAuthentication()
    {
        using var server = new ServerProcess();
        using var admin = server.Connect();
        admin.Call("ACL", "SETUSER", "secure-user", ">supass", "on", "+@all");
        admin.Call("ACL", "SETUSER", "default", "off");
        using var c = server.Connect();
        Assert.Equal("NOAUTH Authentication required.", Err(c.Call("PING")));
        Assert.Equal("OK", c.Call("AUTH", "secure-user", "supass"));
        Assert.Equal("PONG", c.Call("PING"));

        // A default user without command permissions does not stop HELLO AUTH as someone else.
        admin.Call("ACL", "SETUSER", "default", "on", "-@all");
        using var c2 = server.Connect();
        Assert.IsType<object?[]>(c2.Call("HELLO", "2", "AUTH", "secure-user", "supass"));
        Assert.Equal("secure-user", c2.Call("ACL", "WHOAMI"));
    }

    [Fact]
    public void PasswordsAreBinarySafe()
    {
        using var server = new ServerProcess();
        using var c = server.Connect();
        byte[] pw = [0xff, 0x00, (byte)'a', 0x80, (byte)' '];
        Assert.Equal("OK", c.Call("ACL", "SETUSER", "bin", "on", new byte[] { (byte)0x3e }.Concat(pw).ToArray(), "+@all"));
        Assert.Equal("OK", c.Call("AUTH", "bin", pw));
        Assert.StartsWith("WRONGPASS", Err(c.Call("AUTH", "bin", pw[..^1])));
    }
}
