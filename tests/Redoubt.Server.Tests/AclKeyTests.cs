using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Config;
using Redoubt.Server.Security;
using Redoubt.Server.Storage;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// In-process checks of which arguments ACL rules treat as keys or channels, for every kind of key spec and
/// key finder (including commands whose handlers live in other parts of the server), and of the gate's
/// protected-command refusal.
/// </summary>
public sealed class AclKeyTests
{
    private readonly RedisServer _server;
    private readonly Client _client;

    public AclKeyTests()
    {
        _server = NewServer();
        _client = new Client(1, _server);
    }

    internal static RedisServer NewServer(string configText = "")
    {
        var config = new ServerConfig();
        new ConfigLoader(config).LoadString(configText);
        var server = new RedisServer(config);
        server.Databases = Enumerable.Range(0, (int)config.Databases).Select(i => new Database(i, server)).ToArray();
        return server;
    }

    /// <summary>What ACL DRYRUN would answer for this user and command line.</summary>
    private string DryRun(string user, params string[] argv)
    {
        var u = _server.Acl.GetUser(user)!;
        var cmd = _server.Commands.FindByFullName(argv[0].ToLowerInvariant())!;
        if (cmd.IsContainer) cmd = CommandTable.LookupSub(cmd, Encoding.ASCII.GetBytes(argv[1]))!;
        _client.SetArgs(argv.Select(a => Encoding.Latin1.GetBytes(a)).ToArray());
        var result = _server.Acl.CheckPermissions(u, cmd, new AclArgs(_client, 0, argv.Length), out int pos);
        return result switch
        {
            AclResult.Ok => "OK",
            AclResult.DeniedCommand => $"command {cmd.FullName}",
            AclResult.DeniedKey => $"key {argv[pos]}",
            _ => $"channel {argv[pos]}",
        };
    }

    private void SetUser(string name, params string[] rules) => Assert.Null(_server.Acl.SetUser(name, rules));

    [Fact]
    public void IncompleteSpecsUseTheKeyFinders()
    {
        SetUser("kt", "+@all", "%R~read*", "%W~write*", "%RW~rw*");
        Assert.Equal("OK", DryRun("kt", "MIGRATE", "h", "p", "rw", "0", "500"));
        Assert.Equal("key read", DryRun("kt", "MIGRATE", "h", "p", "read", "0", "500"));
        Assert.Equal("OK", DryRun("kt", "MIGRATE", "h", "p", "", "0", "5000", "KEYS", "rw"));
        Assert.Equal("key write", DryRun("kt", "MIGRATE", "h", "p", "", "0", "5000", "AUTH", "KEYS", "KEYS", "write"));
        Assert.Equal("key read", DryRun("kt", "MIGRATE", "h", "p", "", "0", "5000", "AUTH2", "USER", "KEYS", "KEYS", "read"));
        Assert.Equal("OK", DryRun("kt", "SORT", "read", "STORE", "write"));
        Assert.Equal("key read", DryRun("kt", "SORT", "read", "STORE", "read"));
        Assert.Equal("key write", DryRun("kt", "SORT", "write", "STORE", "write"));
    }

    [Fact]
    public void NumkeysSpecsAndTheirFallbacks()
    {
        SetUser("kt", "+@all", "%R~read*", "%W~write*", "%RW~rw*");
        Assert.Equal("OK", DryRun("kt", "EVAL", "", "1", "rw1"));
        Assert.Equal("key read", DryRun("kt", "EVAL", "", "1", "read"));
        Assert.Equal("OK", DryRun("kt", "EVAL_RO", "", "1", "read"));
        Assert.Equal("OK", DryRun("kt", "EVAL", "", "0", "read"));
        Assert.Equal("OK", DryRun("kt", "EVAL", "", "-1", "read"));
        Assert.Equal("OK", DryRun("kt", "EVAL", "", "3", "rw", "read"));
        Assert.Equal("key write", DryRun("kt", "SINTERCARD", "2", "write", "read"));
        Assert.Equal("key nothing", DryRun("kt", "ZINTERCARD", "2", "nothing", "read"));
        Assert.Equal("OK", DryRun("kt", "ZUNIONSTORE", "write", "2", "read", "read"));
        Assert.Equal("key read", DryRun("kt", "ZUNIONSTORE", "read", "2", "read", "read"));
        Assert.Equal("key read", DryRun("kt", "LMPOP", "2", "read", "write", "LEFT"));
    }

    [Fact]
    public void KeywordSpecsAndAccessFlags()
    {
        SetUser("kt", "+@all", "%R~read*", "%W~write*", "%RW~rw*");
        Assert.Equal("OK", DryRun("kt", "GEORADIUS", "read", "1", "2", "3", "M", "STOREDIST", "write"));
        Assert.Equal("key read2", DryRun("kt", "GEORADIUS", "read1", "1", "2", "3", "M", "STOREDIST", "read2"));
        Assert.Equal("key write1", DryRun("kt", "GEORADIUS", "write1", "1", "2", "3", "M", "STORE", "write2"));
        Assert.Equal("key write", DryRun("kt", "XREAD", "STREAMS", "read", "write", "0", "0"));
        Assert.Equal("key write", DryRun("kt", "XREADGROUP", "GROUP", "g", "c", "STREAMS", "write", "0"));
        // Existence and cardinality commands neither read nor write the value.
        Assert.Equal("OK", DryRun("kt", "HEXISTS", "write", "f"));
        Assert.Equal("key nothing", DryRun("kt", "HEXISTS", "nothing", "f"));
        Assert.Equal("OK", DryRun("kt", "XLEN", "write"));
        Assert.Equal("OK", DryRun("kt", "MEMORY", "USAGE", "write"));
        Assert.Equal("key write", DryRun("kt", "PFCOUNT", "write", "read"));
        Assert.Equal("OK", DryRun("kt", "COPY", "read", "write"));
        Assert.Equal("key write", DryRun("kt", "COPY", "write", "read"));
    }

    [Fact]
    public void VariableFlagsDependOnOptions()
    {
        SetUser("kt", "+@all", "%R~read*", "%W~write*");
        Assert.Equal("OK", DryRun("kt", "BITFIELD", "read", "GET", "u4", "0"));
        Assert.Equal("key read", DryRun("kt", "BITFIELD", "read", "SET", "u4", "0", "1"));
        Assert.Equal("key write", DryRun("kt", "BITFIELD", "write", "GET", "u4", "0"));
        Assert.Equal("OK", DryRun("kt", "SET", "write", "v", "EX", "10"));
        Assert.Equal("key write", DryRun("kt", "SET", "write", "v", "get"));
    }

    [Fact]
    public void ChannelsOfPubSubCommands()
    {
        SetUser("ch", "+@all", "resetchannels", "&channel", "&news.*");
        Assert.Equal("OK", DryRun("ch", "SPUBLISH", "channel", "m"));
        Assert.Equal("channel other", DryRun("ch", "PUBLISH", "other", "m"));
        Assert.Equal("OK", DryRun("ch", "SUBSCRIBE", "channel", "news.today"));
        Assert.Equal("channel other", DryRun("ch", "SSUBSCRIBE", "channel", "other"));
        Assert.Equal("OK", DryRun("ch", "SUNSUBSCRIBE", "other"));
        // A pattern must be granted literally.
        Assert.Equal("OK", DryRun("ch", "PSUBSCRIBE", "news.*"));
        Assert.Equal("channel news.t*", DryRun("ch", "PSUBSCRIBE", "news.t*"));
        var u = _server.Acl.GetUser("ch")!;
        Assert.True(_server.Acl.CheckChannel(u, "news.x"u8, isPattern: false));
        Assert.False(_server.Acl.CheckChannel(u, "news.*x"u8, isPattern: true));
    }

    [Fact]
    public void ReportedErrorIsTheFurthestAlongAcrossSelectors()
    {
        SetUser("sel", "on", "nopass", "+mget", "~key", "(+mget ~key ~otherkey)");
        Assert.Equal("command get", DryRun("sel", "GET", "key"));
        Assert.Equal("key someotherkey", DryRun("sel", "MGET", "otherkey", "someotherkey"));
        Assert.Equal("key someotherkey", DryRun("sel", "MGET", "key", "otherkey", "someotherkey"));
    }

    [Fact]
    public void UnrestrictedKeyAccessForSort()
    {
        SetUser("srt", "on", "nopass", "(+sort ~mylist %R~*)");
        var c = new Client(2, _server) { User = _server.Acl.GetUser("srt")! };
        c.SetArgs([.. new[] { "SORT", "mylist", "BY", "v*" }.Select(Encoding.ASCII.GetBytes)]);
        var sort = _server.Commands.FindByFullName("sort")!;
        Assert.True(_server.Acl.CheckCommandWithUnrestrictedKeyAccess(c, sort, KeySpecFlags.Access));
        Assert.False(_server.Acl.CheckCommandWithUnrestrictedKeyAccess(c, sort, KeySpecFlags.Update));
    }

    private static string Run(RedisServer server, Client c, params string[] argv)
    {
        c.Reply.Clear();
        c.SetArgs(argv.Select(a => Encoding.ASCII.GetBytes(a)).ToArray());
        ExecutionGate.Process(c);
        return Encoding.ASCII.GetString(c.Reply.Written);
    }

    [Theory]
    [InlineData("no", true, false)]
    [InlineData("local", true, true)]
    [InlineData("local", false, false)]
    [InlineData("yes", false, true)]
    public void DebugCommandNeedsEnableDebugCommand(string setting, bool local, bool allowed)
    {
        var server = NewServer("enable-debug-command " + setting);
        server.Commands.Bind("debug", c => c.Reply.Ok());
        var client = new Client(1, server) { IsLoopback = local, Authenticated = true };
        string reply = Run(server, client, "DEBUG", "SLEEP", "0");
        if (allowed) Assert.Equal("+OK\r\n", reply);
        else Assert.Equal("-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, " +
                          "otherwise you need to set this option in the configuration file, and then restart the server.\r\n", reply);
    }

    [Fact]
    public void ModuleCommandNeedsEnableModuleCommand()
    {
        var server = NewServer();
        server.Commands.Bind("module|load", c => c.Reply.Ok());
        var client = new Client(1, server) { Authenticated = true };
        Assert.StartsWith("-ERR MODULE command not allowed. If the enable-module-command option is set to \"local\"", Run(server, client, "MODULE", "LOAD", "x.so"));
        Assert.False(server.AllowProtectedConfig(client));
        Assert.True(RedisServer.AllowProtectedAction("local", client));
    }
}
