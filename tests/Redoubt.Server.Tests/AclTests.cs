using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>ACL users, rules, selectors and the ACL command family against a running server.</summary>
public sealed class AclTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public AclTests(SharedServer shared) => _server = shared.Server;

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    private static string[] Strings(object? reply) => Assert.IsType<object?[]>(reply).Select(x => (string)x!).ToArray();

    private static Dictionary<string, object?> Map(object? reply)
    {
        var items = Assert.IsType<object?[]>(reply);
        var map = new Dictionary<string, object?>();
        for (int i = 0; i < items.Length; i += 2) map[(string)items[i]!] = items[i + 1];
        return map;
    }

    [Fact]
    public void NewUsersStartDisabledWithoutPermissions()
    {
        using var admin = _server.Connect();
        using var c = _server.Connect();
        Assert.Equal("default", c.Call("ACL", "WHOAMI"));
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "t1user", ">passwd1"));
        Assert.Equal("WRONGPASS invalid username-password pair or user is disabled.", Err(c.Call("AUTH", "t1user", "passwd1")));
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "t1user", "on", "+acl"));
        Assert.Equal("OK", c.Call("AUTH", "t1user", "passwd1"));
        Assert.Equal("t1user", c.Call("ACL", "WHOAMI"));
        Assert.Equal("NOPERM this user has no permissions to run the 'set' command", Err(c.Call("SET", "foo", "bar")));
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "t1user", "+set"));
        Assert.Equal("NOPERM this user has no permissions to access one of the keys used as arguments", Err(c.Call("SET", "foo", "bar")));
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "t1user", "~foo:*", "~bar:*"));
        Assert.Equal("OK", c.Call("SET", "foo:1", "a"));
        Assert.Equal("OK", c.Call("SET", "bar:2", "b"));
        Assert.StartsWith("NOPERM", Err(c.Call("SET", "zap:3", "c")));
    }

    [Fact]
    public void UsernamesCannotContainSpaces()
    {
        using var c = _server.Connect();
        Assert.Equal("ERR Usernames can't contain spaces or null characters", Err(c.Call("ACL", "SETUSER", "a a")));
        Assert.Equal("ERR Usernames can't contain spaces or null characters", Err(c.Call("ACL", "SETUSER", "a\0b")));
    }

    [Fact]
    public void PasswordsAndHashes()
    {
        using var admin = _server.Connect();
        using var c = _server.Connect();
        const string hash = "34344e4d60c2b6d639b7bd22e18f2b0b91bc34bf0ac5f9952744435093cfb4e6"; // sha256("passwd4")
        admin.Call("ACL", "SETUSER", "t2user", "on", ">passwd1", ">passwd2", "#" + hash);
        Assert.Equal("OK", c.Call("AUTH", "t2user", "passwd1"));
        Assert.Equal("OK", c.Call("AUTH", "t2user", "passwd2"));
        Assert.Equal("OK", c.Call("AUTH", "t2user", "passwd4"));
        Assert.StartsWith("WRONGPASS", Err(c.Call("AUTH", "t2user", "passwd3")));
        admin.Call("ACL", "SETUSER", "t2user", "<passwd1");
        Assert.StartsWith("WRONGPASS", Err(c.Call("AUTH", "t2user", "passwd1")));

        var passwords = Strings(Map(admin.Call("ACL", "GETUSER", "t2user"))["passwords"]);
        Assert.Contains(hash, passwords);
        Assert.DoesNotContain("passwd4", passwords);
        admin.Call("ACL", "SETUSER", "t2user", "!" + hash);
        Assert.DoesNotContain(hash, Strings(Map(admin.Call("ACL", "GETUSER", "t2user"))["passwords"]));

        Assert.Equal("ERR Error in ACL SETUSER modifier '#" + hash[..^1] + "': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            Err(admin.Call("ACL", "SETUSER", "t2user", "#" + hash[..^1])));
        Assert.Equal("ERR Error in ACL SETUSER modifier '<nosuch': The password you are trying to remove from the user does not exist",
            Err(admin.Call("ACL", "SETUSER", "t2user", "<nosuch")));
        // nopass: any password works; resetpass: none does.
        admin.Call("ACL", "SETUSER", "t2user", "nopass");
        Assert.Equal("OK", c.Call("AUTH", "t2user", "zipzapblabla"));
        admin.Call("ACL", "SETUSER", "t2user", "resetpass");
        Assert.StartsWith("WRONGPASS", Err(c.Call("AUTH", "t2user", "zipzapblabla")));
    }

    [Fact]
    public void RuleErrorsAreRedisTexts()
    {
        using var c = _server.Connect();
        Assert.Equal("ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL", Err(c.Call("ACL", "SETUSER", "t3user", "+nosuch")));
        Assert.Equal("ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL", Err(c.Call("ACL", "SETUSER", "t3user", "+@nosuch")));
        Assert.Equal("ERR Error in ACL SETUSER modifier 'bogus': Syntax error", Err(c.Call("ACL", "SETUSER", "t3user", "bogus")));
        Assert.Equal("ERR Error in ACL SETUSER modifier '+config|get|appendonly': Allowing first-arg of a subcommand is not supported",
            Err(c.Call("ACL", "SETUSER", "t3user", "+config|get|appendonly")));
        Assert.Contains("Unknown command or category name in ACL", Err(c.Call("ACL", "SETUSER", "t3user", "+config|asdf")));
        Assert.Contains("Unknown command or category name in ACL", Err(c.Call("ACL", "SETUSER", "t3user", "-config|asdf")));
        Assert.Contains("Unknown command or category name in ACL", Err(c.Call("ACL", "SETUSER", "t3user", "+get|key1|key2")));
        Assert.Equal("ERR Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            Err(c.Call("ACL", "SETUSER", "t3user", "allkeys", "~x")));
        Assert.Equal("ERR Error in ACL SETUSER modifier '&x': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            Err(c.Call("ACL", "SETUSER", "t3user", "allchannels", "&x")));
        Assert.Contains("Syntax error", Err(c.Call("ACL", "SETUSER", "t3user", "%")));
        Assert.Contains("Syntax error", Err(c.Call("ACL", "SETUSER", "t3user", "%~x")));
        Assert.Contains("Syntax error", Err(c.Call("ACL", "SETUSER", "t3user", "%RR~x")));
        Assert.Contains("Syntax error", Err(c.Call("ACL", "SETUSER", "t3user", "~a b")));
        // A failing rule leaves the user untouched (here: never created).
        Assert.Null(c.Call("ACL", "GETUSER", "t3user"));
    }

    [Fact]
    public void ListAndGetUserFormats()
    {
        using var c = _server.Connect();
        c.Call("ACL", "SETUSER", "t4user", "on", "nopass", "+@all", "-@string", "~foo*", "%R~bar*", "%W~baz*", "%RW~qux", "&chan*",
            "(+get ~x)", "(-@all +set %W~y)");
        var list = Strings(c.Call("ACL", "LIST"));
        Assert.Contains("user default on nopass ~* &* +@all", list);
        Assert.Contains("user t4user on nopass ~foo* %R~bar* %W~baz* ~qux resetchannels &chan* +@all -@string (~x resetchannels -@all +get) (%W~y resetchannels -@all +set)", list);
        Assert.Contains("t4user", Strings(c.Call("ACL", "USERS")));

        var u = Map(c.Call("ACL", "GETUSER", "t4user"));
        Assert.Equal(["flags", "passwords", "commands", "keys", "channels", "selectors"], u.Keys.ToArray());
        Assert.Equal(["on", "nopass"], Strings(u["flags"]));
        Assert.Empty(Strings(u["passwords"]));
        Assert.Equal("+@all -@string", u["commands"]);
        Assert.Equal("~foo* %R~bar* %W~baz* ~qux", u["keys"]);
        Assert.Equal("&chan*", u["channels"]);
        var selectors = Assert.IsType<object?[]>(u["selectors"]);
        Assert.Equal(2, selectors.Length);
        var first = Map(selectors[0]);
        Assert.Equal("-@all +get", first["commands"]);
        Assert.Equal("~x", first["keys"]);
        Assert.Equal("", first["channels"]);

        c.Call("ACL", "SETUSER", "t4new");
        Assert.Contains("user t4new off resetchannels -@all", Strings(c.Call("ACL", "LIST")));
        c.Call("ACL", "SETUSER", "t4new", "reset");
        Assert.Contains("user t4new off sanitize-payload resetchannels -@all", Strings(c.Call("ACL", "LIST")));
        c.Call("ACL", "SETUSER", "t4rw", "%R~foo", "%W~foo", "%RW~bar");
        Assert.Equal("~foo ~bar", Map(c.Call("ACL", "GETUSER", "t4rw"))["keys"]);
        Assert.Null(c.Call("ACL", "GETUSER", "nosuchuser"));
    }

    [Fact]
    public void CommandRulesAreDescribedBack()
    {
        using var c = _server.Connect();
        string Commands(string user) => (string)Map(c.Call("ACL", "GETUSER", user))["commands"]!;
        c.Call("ACL", "SETUSER", "t5a", "+@all", "-client|kill");
        Assert.Equal("+@all -client|kill", Commands("t5a"));
        c.Call("ACL", "SETUSER", "t5b", "+memory|doctor");
        Assert.Equal("-@all +memory|doctor", Commands("t5b"));
        c.Call("ACL", "SETUSER", "t5b", "+memory");
        Assert.Equal("-@all +memory", Commands("t5b"));
        c.Call("ACL", "SETUSER", "t5b", "+@all", "+client|id");
        Assert.Equal("+@all", Commands("t5b"));
        c.Call("ACL", "SETUSER", "t5c", "-@all", "+acl", "+select|0");
        Assert.Contains("+select|0", Commands("t5c"));
        c.Call("ACL", "SETUSER", "t5d", "reset", "+@all", "~*", "-@string", "+get", "-debug", "+debug|digest");
        string rules = Commands("t5d");
        Assert.StartsWith("+@all -@string", rules);
        Assert.Contains("+get", rules);
        Assert.Contains("-debug +debug|digest", rules);

        // Each category alone comes back as itself, from either direction.
        foreach (var category in Strings(c.Call("ACL", "CAT")))
        {
            c.Call("ACL", "SETUSER", "t5add", "reset", "+@all", "-@" + category);
            Assert.Equal("+@all -@" + category, Commands("t5add"));
            c.Call("ACL", "SETUSER", "t5sub", "reset", "-@all", "+@" + category);
            Assert.Equal("-@all +@" + category, Commands("t5sub"));
        }
    }

    [Fact]
    public void FirstArgumentRulesAndSubcommands()
    {
        using var admin = _server.Connect();
        using var c = _server.Connect();
        admin.Call("ACL", "SETUSER", "t6user", "on", "nopass", "-@all", "+acl", "+select|0", "~*");
        c.Call("AUTH", "t6user", "x");
        Assert.Equal("OK", c.Call("SELECT", "0"));
        Assert.Equal("NOPERM this user has no permissions to run the 'select' command", Err(c.Call("SELECT", "1")));
        Assert.Contains("t6user", Strings(c.Call("ACL", "USERS")));
        admin.Call("ACL", "SETUSER", "t6user", "-acl", "+acl|whoami");
        Assert.Equal("t6user", c.Call("ACL", "WHOAMI"));
        Assert.Equal("NOPERM this user has no permissions to run the 'acl|list' command", Err(c.Call("ACL", "LIST")));
    }

    [Fact]
    public void ReadAndWriteKeyPermissions()
    {
        using var admin = _server.Connect();
        using var r = _server.Connect();
        using var w = _server.Connect();
        admin.Call("SET", "readstr", "bar");
        admin.Call("ACL", "SETUSER", "t7r", "on", "nopass", "%R~read*", "+@all");
        admin.Call("ACL", "SETUSER", "t7w", "on", "nopass", "%W~write*", "+@all");
        r.Call("AUTH", "t7r", "x");
        w.Call("AUTH", "t7w", "x");
        const string keyErr = "NOPERM this user has no permissions to access one of the keys used as arguments";
        Assert.Equal("PONG", r.Call("PING"));
        Assert.Equal("bar", r.Call("GET", "readstr"));
        Assert.Equal(keyErr, Err(r.Call("SET", "readstr", "bar")));
        Assert.Equal(keyErr, Err(r.Call("GET", "notread")));
        Assert.Equal(keyErr, Err(r.Call("SET", "readstr", "bar", "GET")));
        // SET writes without reading, unless GET is given.
        Assert.Equal("OK", w.Call("SET", "writestr", "bar"));
        Assert.Equal(keyErr, Err(w.Call("SET", "writestr", "bar", "GET")));
        Assert.Equal(keyErr, Err(w.Call("GET", "writestr")));
        Assert.Equal(keyErr, Err(w.Call("SET", "get", "writestr")));
        // EXISTS neither reads nor writes the value: any matching pattern will do.
        Assert.Equal(0L, w.Call("EXISTS", "write:nothing"));
        Assert.Equal(keyErr, Err(w.Call("EXISTS", "other")));
    }

    [Fact]
    public void SelectorsAreAlternatives()
    {
        using var admin = _server.Connect();
        using var c = _server.Connect();
        admin.Call("ACL", "SETUSER", "t8user", "on", "-@all", "resetkeys", "nopass");
        c.Call("AUTH", "t8user", "password");
        Assert.Equal("NOPERM this user has no permissions to run the 'ping' command", Err(c.Call("PING")));
        admin.Call("ACL", "SETUSER", "t8user", "(+@write ~write::*)", "(+@read ~read::*)");
        Assert.Equal("OK", c.Call("SET", "write::foo", "bar"));
        Assert.Null(c.Call("GET", "read::foo"));
        Assert.StartsWith("NOPERM", Err(c.Call("GET", "write::foo")));
        Assert.StartsWith("NOPERM", Err(c.Call("SET", "read::foo", "bar")));

        // Written over several arguments, with blanks inside the parentheses.
        admin.Call("ACL", "SETUSER", "t8b", "(~key5", "+get", ")", "(", "~key6", "+get)", "( ~key7 +get )");
        var sel = Assert.IsType<object?[]>(Map(admin.Call("ACL", "GETUSER", "t8b"))["selectors"]);
        Assert.Equal(["~key5", "~key6", "~key7"], sel.Select(s => (string)Map(s)["keys"]!).ToArray());
        admin.Call("ACL", "SETUSER", "t8b", "clearselectors");
        Assert.Empty(Assert.IsType<object?[]>(Map(admin.Call("ACL", "GETUSER", "t8b"))["selectors"]));

        Assert.Equal("ERR Error in ACL SETUSER modifier '(this-is-invalid)': Syntax error", Err(admin.Call("ACL", "SETUSER", "t8c", "on", "(this-is-invalid)")));
        Assert.Contains("Adding a pattern after the *", Err(admin.Call("ACL", "SETUSER", "t8c", "on", "(&* &fail)")));
        Assert.Equal("ERR Unmatched parenthesis in acl selector starting at '('.", Err(admin.Call("ACL", "SETUSER", "t8c", "(")));
        Assert.Equal("ERR Error in ACL SETUSER modifier ')': Syntax error", Err(admin.Call("ACL", "SETUSER", "t8c", ")")));
        Assert.Equal("ERR Error in ACL SETUSER modifier ' () ': Syntax error", Err(admin.Call("ACL", "SETUSER", "t8c", " () ")));
        Assert.Null(admin.Call("ACL", "GETUSER", "t8c"));
    }

    [Fact]
    public void LogRecordsDenialsWithContext()
    {
        using var admin = _server.Connect();
        using var c = _server.Connect();
        admin.Call("ACL", "SETUSER", "t9user", ">foo", "on", "+set", "~object:1234", "+multi", "+exec", "+del");
        c.Call("AUTH", "t9user", "foo");
        admin.Call("ACL", "LOG", "RESET");
        Assert.StartsWith("NOPERM", Err(c.Call("GET", "foo")));
        var entry = Map(Assert.IsType<object?[]>(admin.Call("ACL", "LOG"))[0]);
        Assert.Equal(["count", "reason", "context", "object", "username", "age-seconds", "client-info"], entry.Keys.ToArray());
        Assert.Equal(1L, entry["count"]);
        Assert.Equal("command", entry["reason"]);
        Assert.Equal("toplevel", entry["context"]);
        Assert.Equal("get", entry["object"]);
        Assert.Equal("t9user", entry["username"]);
        Assert.Contains("user=t9user", (string)entry["client-info"]!);
        Assert.Contains("cmd=get", (string)entry["client-info"]!);

        // Identical denials are grouped.
        c.Call("GET", "foo");
        c.Call("GET", "foo");
        Assert.Equal(3L, Map(Assert.IsType<object?[]>(admin.Call("ACL", "LOG"))[0])["count"]);

        c.Call("SET", "somekeynotallowed", "1234");
        entry = Map(Assert.IsType<object?[]>(admin.Call("ACL", "LOG"))[0]);
        Assert.Equal("key", entry["reason"]);
        Assert.Equal("somekeynotallowed", entry["object"]);

        Assert.Equal("OK", c.Call("MULTI"));
        Assert.StartsWith("NOPERM", Err(c.Call("GET", "foo")));
        Assert.StartsWith("EXECABORT", Err(c.Call("EXEC")));
        entry = Map(Assert.IsType<object?[]>(admin.Call("ACL", "LOG"))[0]);
        Assert.Equal("multi", entry["context"]);
        Assert.Equal("get", entry["object"]);

        Assert.Single(Assert.IsType<object?[]>(admin.Call("ACL", "LOG", "1")));
        Assert.Empty(Assert.IsType<object?[]>(admin.Call("ACL", "LOG", "-5")));
        Assert.Equal("ERR value is not an integer or out of range", Err(admin.Call("ACL", "LOG", "abc")));
        Assert.Equal("OK", admin.Call("ACL", "LOG", "RESET"));
        Assert.Empty(Assert.IsType<object?[]>(admin.Call("ACL", "LOG")));
    }

    [Fact]
    public void ExecRechecksQueuedCommands()
    {
        using var admin = _server.Connect();
        using var c = _server.Connect();
        admin.Call("ACL", "SETUSER", "t10user", "on", "nopass", "+multi", "+exec", "+del", "+set", "~object:*");
        c.Call("AUTH", "t10user", "x");
        c.Call("MULTI");
        Assert.Equal("QUEUED", c.Call("DEL", "object:1"));
        Assert.Equal("QUEUED", c.Call("SET", "object:1", "v"));
        admin.Call("ACL", "SETUSER", "t10user", "-del");
        var results = Assert.IsType<object?[]>(c.Call("EXEC"));
        Assert.Equal("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand",
            Assert.IsType<RespError>(results[0]).Message);
        Assert.Equal("OK", results[1]);
        var entry = Map(Assert.IsType<object?[]>(admin.Call("ACL", "LOG"))[0]);
        Assert.Equal("multi", entry["context"]);
        Assert.Equal("del", entry["object"]);
        Assert.Contains("cmd=exec", (string)entry["client-info"]!);
    }

    [Fact]
    public void DryRun()
    {
        using var c = _server.Connect();
        c.Call("ACL", "SETUSER", "t11user", "+@all", "%R~read*", "%W~write*", "%RW~rw*", "-del");
        Assert.Equal("OK", c.Call("ACL", "DRYRUN", "t11user", "GET", "read"));
        Assert.Equal("This user has no permissions to access the 'write' key", c.Call("ACL", "DRYRUN", "t11user", "GET", "write"));
        Assert.Equal("This user has no permissions to run the 'del' command", c.Call("ACL", "DRYRUN", "t11user", "DEL", "rw"));
        Assert.Equal("OK", c.Call("ACL", "DRYRUN", "t11user", "SET", "write", "v"));
        Assert.Equal("This user has no permissions to access the 'write' key", c.Call("ACL", "DRYRUN", "t11user", "SET", "write", "v", "GET"));
        Assert.Equal("ERR User 'not-a-user' not found", Err(c.Call("ACL", "DRYRUN", "not-a-user", "GET", "read")));
        Assert.Equal("ERR Command 'not-a-command' not found", Err(c.Call("ACL", "DRYRUN", "t11user", "not-a-command", "read")));
        Assert.Equal("ERR wrong number of arguments for 'set' command", Err(c.Call("ACL", "DRYRUN", "t11user", "SET", "v")));
    }

    [Fact]
    public void CatGenpassHelpAndErrors()
    {
        using var c = _server.Connect();
        var categories = Strings(c.Call("ACL", "CAT"));
        Assert.Equal(["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo", "stream",
            "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting"], categories);
        Assert.Contains("multi", Strings(c.Call("ACL", "CAT", "transaction")));
        Assert.Contains("function|list", Strings(c.Call("ACL", "CAT", "scripting")));
        Assert.DoesNotContain("set", Strings(c.Call("ACL", "CAT", "keyspace")));
        Assert.Equal("ERR Unknown category 'NON_EXISTS'", Err(c.Call("ACL", "CAT", "NON_EXISTS")));
        Assert.Equal("ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.", Err(c.Call("ACL", "CAT", "NON_EXISTS", "NON_EXISTS2")));

        var pass = Assert.IsType<string>(c.Call("ACL", "GENPASS"));
        Assert.Matches("^[0-9a-f]{64}$", pass);
        Assert.Matches("^[0-9a-f]{2}$", (string)c.Call("ACL", "GENPASS", "5")!);
        Assert.Equal("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096", Err(c.Call("ACL", "GENPASS", "-236")));
        Assert.Equal("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096", Err(c.Call("ACL", "GENPASS", "5000")));

        var help = Strings(c.Call("ACL", "HELP"));
        Assert.Equal("ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", help[0]);
        Assert.Equal("    Prints this help.", help[^1]);
        Assert.Equal("ERR wrong number of arguments for 'acl|help' command", Err(c.Call("ACL", "help", "xxx")));
        Assert.Equal("ERR unknown subcommand 'foo'. Try ACL HELP.", Err(c.Call("ACL", "foo")));
        Assert.Equal("ERR The 'default' user cannot be removed", Err(c.Call("ACL", "DELUSER", "default")));
        Assert.Equal("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.",
            Err(c.Call("ACL", "LOAD")));
        Assert.StartsWith("ERR This Redis instance is not configured to use an ACL file.", Err(c.Call("ACL", "SAVE")));
    }

    [Fact]
    public void DeletingAUserDisconnectsItsClients()
    {
        using var admin = _server.Connect();
        admin.Call("ACL", "SETUSER", "t12unused", "on", ">passwd");
        Assert.Equal(1L, admin.Call("ACL", "DELUSER", "t12unused", "t12nosuch"));
        Assert.Equal("PONG", admin.Call("PING"));

        // The client deleting its own user gets the reply, then the connection closes.
        using var self = _server.Connect();
        admin.Call("ACL", "SETUSER", "t12self", "on", "+acl", ">passwd");
        self.Call("AUTH", "t12self", "passwd");
        Assert.Equal(1L, self.Call("ACL", "DELUSER", "t12self"));
        Assert.True(self.IsClosedByServer());

        // Other clients authenticated as the deleted user are closed at once.
        using var other = _server.Connect();
        admin.Call("ACL", "SETUSER", "t12other", "on", "+@all", "~*", ">passwd");
        other.Call("AUTH", "t12other", "passwd");
        Assert.Equal(1L, admin.Call("ACL", "DELUSER", "t12other"));
        Assert.True(other.IsClosedByServer());
    }

    [Fact]
    public void RenamedAndUnimplementedNamesInRules()
    {
        using var c = _server.Connect();
        // Rules may name any command of the table, implemented by this build or not.
        Assert.Equal("OK", c.Call("ACL", "SETUSER", "t13user", "+debug|object", "+client|id", "-@all", "+@stream"));
    }
}

/// <summary>ACL behaviour that needs its own server: config-file users, acl files, start-up errors, log length.</summary>
public sealed class AclConfigTests
{
    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    /// <summary>Runs `redoubt server args...` expecting it to exit on its own; returns its exit code and output.</summary>
    internal static (int Code, string Output) RunToExit(string workDir, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(ServerProcess.Launcher)
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("server");
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("server did not exit");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void UsersFromTheConfigFile()
    {
        using var server = new ServerProcess("user alice on >alicepw ~* +@all\nuser default on nopass ~* +@all -flushdb\n");
        using var c = server.Connect();
        Assert.Equal("NOPERM this user has no permissions to run the 'flushdb' command", Err(c.Call("FLUSHDB")));
        var list = Assert.IsType<object?[]>(c.Call("ACL", "LIST"));
        Assert.Equal(["user alice on #" + Sha256Hex("alicepw") + " ~* resetchannels +@all", "user default on nopass sanitize-payload ~* resetchannels +@all -flushdb"],
            list.Select(x => (string)x!).ToArray());
        Assert.Equal("OK", c.Call("AUTH", "alice", "alicepw"));
        Assert.Equal("OK", c.Call("FLUSHDB"));
    }

    private static string Sha256Hex(string s)
        => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(s)));

    [Theory]
    [InlineData(new[] { "--user", "alice", "on", ">pw", "badop" }, "Error in user declaration 'on': Syntax error")]
    [InlineData(new[] { "--user", "foo", "--user", "foo" }, "Error in user declaration 'foo': Duplicate user found. A user can only be defined once in config files")]
    [InlineData(new[] { "--user", "alice", "on", "+config|get|x" }, "Error in user declaration 'alice': Allowing first-arg of a subcommand is not supported")]
    public void BadUserDirectivesAreFatalConfigErrors(string[] args, string reason)
    {
        var dir = Directory.CreateTempSubdirectory("redoubt-acl-").FullName;
        try
        {
            var (code, output) = RunToExit(dir, ["--port", "0", .. args]);
            Assert.Equal(1, code);
            Assert.Contains("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***", output);
            Assert.Contains(reason, output);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void StartupRefusesBadAclSetups()
    {
        var dir = Directory.CreateTempSubdirectory("redoubt-acl-").FullName;
        try
        {
            int port = ServerProcess.FreePort();
            var (code, output) = RunToExit(dir, "--port", port.ToString(), "--bind", "127.0.0.1", "--user", "alice", "on", "+nosuchcmd");
            Assert.Equal(1, code);
            Assert.Contains("# Error loading ACL rule '+nosuchcmd' for the user named 'alice': Unknown command or category name in ACL", output);
            Assert.Contains("# Critical error while loading ACLs. Exiting.", output);

            File.WriteAllText(Path.Combine(dir, "users.acl"), "user alice on +get\n");
            (code, output) = RunToExit(dir, "--port", port.ToString(), "--bind", "127.0.0.1", "--user", "bob", "on", "--aclfile", "users.acl");
            Assert.Equal(1, code);
            Assert.Contains("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid.", output);

            File.WriteAllText(Path.Combine(dir, "bad.acl"), "user alice on +nosuch\nuserx bob\nuser alice off\n");
            (code, output) = RunToExit(dir, "--port", port.ToString(), "--bind", "127.0.0.1", "--aclfile", "bad.acl");
            Assert.Equal(1, code);
            Assert.Contains("# Aborting Redis startup because of ACL errors: bad.acl:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. " +
                            "bad.acl:2 should start with user keyword followed by the username. WARNING: Duplicate user 'alice' found on line 3. " +
                            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed", output);

            (code, output) = RunToExit(dir, "--port", port.ToString(), "--bind", "127.0.0.1", "--aclfile", "missing.acl");
            Assert.Equal(1, code);
            Assert.Contains("Aborting Redis startup because of ACL errors: Error loading ACLs, opening file 'missing.acl': No such file or directory", output);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AclFileLoadAndSave()
    {
        var dir = Directory.CreateTempSubdirectory("redoubt-aclfile-").FullName;
        string file = Path.Combine(dir, "users.acl");
        File.WriteAllText(file, "user alice on allcommands allkeys &* >alice\nuser bob on -@all +@set +acl ~set* &* >bob\nuser default on nopass ~* &* +@all\n");
        using var server = new ServerProcess(null, "--aclfile", file, "--acl-pubsub-default", "allchannels");
        using var admin = server.Connect();
        Assert.Equal(3, Assert.IsType<object?[]>(admin.Call("ACL", "LIST")).Length);
        using var alice = server.Connect();
        Assert.Equal("OK", alice.Call("AUTH", "alice", "alice"));
        Assert.Equal("OK", alice.Call("SET", "key", "value"));

        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "eve", "+get", "allkeys", ">eve", "on"));
        Assert.Equal("OK", admin.Call("ACL", "SAVE"));
        Assert.Equal(
            "user alice on #2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90 ~* &* +@all\n" +
            "user bob on #81b637d8fcd2c6da6359e6963113a1170de795e4b725b84d1e0b4cfd9ec58ce9 ~set* &* -@all +@set +acl\n" +
            "user default on nopass ~* &* +@all\n" +
            "user eve on #85262adf74518bbb70c7cb94cd6159d91669e5a81edf1efebd543eadbda9fa2b ~* &* -@all +get\n",
            File.ReadAllText(file));

        // Reloading replaces the users: clients authenticated as them are disconnected, default's are not.
        Assert.Equal("OK", admin.Call("ACL", "LOAD"));
        Assert.True(alice.IsClosedByServer());
        Assert.Equal("PONG", admin.Call("PING"));
        using var eve = server.Connect();
        Assert.Equal("OK", eve.Call("AUTH", "eve", "eve"));
        Assert.Equal("value", eve.Call("GET", "key"));
        Assert.StartsWith("NOPERM", Err(eve.Call("SET", "key", "value")));

        // A broken file changes nothing.
        File.AppendAllText(file, "user alice on nopass ~* -@all\n");
        Assert.Equal("ERR WARNING: Duplicate user 'alice' found on line 5. WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
            Err(admin.Call("ACL", "LOAD")));
        Assert.Equal("OK", eve.Call("AUTH", "alice", "alice"));

        // acl-pubsub-default allchannels: new users start with every channel.
        admin.Call("ACL", "SETUSER", "newbie");
        Assert.Contains("user newbie off &* -@all", Assert.IsType<object?[]>(admin.Call("ACL", "LIST")).Select(x => (string)x!));
        Assert.Contains("Adding a pattern after the *", Err(admin.Call("ACL", "SETUSER", "newbie", "&test")));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void LogLengthIsCapped()
    {
        using var server = new ServerProcess(null, "--acllog-max-len", "5");
        using var admin = server.Connect();
        using var c = server.Connect();
        admin.Call("ACL", "SETUSER", "capped", "on", "nopass", "+set");
        c.Call("AUTH", "capped", "x");
        for (int i = 0; i < 10; i++) c.Call("SET", "obj:" + i, "123");
        Assert.Equal(5, Assert.IsType<object?[]>(admin.Call("ACL", "LOG")).Length);
        Assert.Equal("obj:9", ((object?[])((object?[])admin.Call("ACL", "LOG")!)[0]!)[7]);
    }
}
