using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Config;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>COMMAND and its subcommands against real Redis 7.0.</summary>
public sealed class CommandCommandTests : IClassFixture<ServerPair>
{
    private readonly ServerPair _pair;
    public CommandCommandTests(ServerPair pair) => _pair = pair;

    /// <summary>Renders a reply for comparison; the subcommands of a COMMAND INFO entry are sorted by name.</summary>
    private static string Canonical(object? reply, bool sortSubcommands, ISet<string>? keepSubcommands = null)
    {
        if (reply is not object?[] items) return reply switch { null => "nil", RespError e => "ERR:" + e.Message, _ => reply.ToString()! };
        if (sortSubcommands && items.Length == 10 && items[0] is string && items[9] is object?[] subs)
        {
            var kept = subs.Cast<object?[]>()
                .Where(s => keepSubcommands is null || keepSubcommands.Contains((string)s[0]!))
                .OrderBy(s => (string)s[0]!, StringComparer.Ordinal)
                .Select(s => Canonical(s, true));
            var head = items.Take(9).Select(i => Canonical(i, false));
            return "[" + string.Join(",", head.Append("[" + string.Join(",", kept) + "]")) + "]";
        }
        return "[" + string.Join(",", items.Select(i => Canonical(i, sortSubcommands, keepSubcommands))) + "]";
    }

    private static List<string> CommandList(RespClient c) => ((object?[])c.Call("COMMAND", "LIST")!).Cast<string>().ToList();

    [Fact]
    public void CommandInfoOfEveryImplementedCommandMatchesRealRedis()
    {
        using var ours = _pair.Ours.Connect();
        using var real = _pair.Real.Connect();
        var names = CommandList(ours);
        var implemented = names.ToHashSet();
        Assert.Contains("command|info", names);
        foreach (var name in names)
        {
            var o = Canonical(((object?[])ours.Call("COMMAND", "INFO", name)!)[0], true);
            var r = Canonical(((object?[])real.Call("COMMAND", "INFO", name)!)[0], true, implemented);
            Assert.True(o == r, $"{name}:\n ours {o}\n real {r}");
        }
    }

    /// <summary>
    /// Every command and subcommand the specs describe, rendered by our COMMAND INFO code in-process
    /// (handlers or not), equals real Redis's entry: arity, flags (with movablekeys derived from the
    /// key specs), legacy first/last/step, ACL categories, tips and key specs.
    /// </summary>
    [Fact]
    public void CommandInfoOfEverySpecMatchesRealRedis()
    {
        var server = new RedisServer(new ServerConfig());
        server.Databases = [new Storage.Database(0, server)];
        var client = new Client(1, server);
        using var real = _pair.Real.Connect();
        var mismatches = new List<string>();
        foreach (var cmd in server.Commands.AllCommands)
        {
            if (cmd.Has(CommandFlags.OnlySentinel)) continue;
            client.Reply.Clear();
            ServerCommands.ReplyCommandInfo(client, cmd);
            var ours = MiniResp.Parse(client.Reply.Written.ToArray());
            var theirs = ((object?[])real.Call("COMMAND", "INFO", cmd.FullName)!)[0];
            // Subcommand lists are compared through each subcommand's own entry.
            string o = Canonical(ours is object?[] a && a.Length == 10 ? a.Take(9).ToArray() : ours, false);
            string r = Canonical(theirs is object?[] b && b.Length == 10 ? b.Take(9).ToArray() : theirs, false);
            if (o != r) mismatches.Add($"{cmd.FullName}:\n ours {o}\n real {r}");
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Fact]
    public void CommandDocsMatchRealRedisApartFromArguments()
    {
        using var ours = _pair.Ours.Connect();
        using var real = _pair.Real.Connect();
        var names = CommandList(ours);
        var implemented = names.ToHashSet();
        string Docs(object? reply)
        {
            var kv = (object?[])reply!;
            var parts = new List<string>();
            for (int i = 0; i < kv.Length; i += 2)
            {
                string key = (string)kv[i]!;
                if (key == "arguments") continue;
                if (key == "subcommands")
                {
                    var subs = (object?[])kv[i + 1]!;
                    var kept = new List<string>();
                    for (int j = 0; j < subs.Length; j += 2)
                        if (implemented.Contains((string)subs[j]!)) kept.Add(subs[j] + "=" + Docs(subs[j + 1]));
                    kept.Sort(StringComparer.Ordinal);
                    parts.Add("subcommands=" + string.Join(";", kept));
                    continue;
                }
                parts.Add(key + "=" + Canonical(kv[i + 1], false));
            }
            return string.Join("|", parts);
        }
        foreach (var name in names.Where(n => !n.Contains('|')))
        {
            var o = (object?[])ours.Call("COMMAND", "DOCS", name)!;
            var r = (object?[])real.Call("COMMAND", "DOCS", name)!;
            Assert.Equal(name, o[0]);
            Assert.Equal(Docs(r[1]), Docs(o[1]));
        }
        // Unknown names are skipped, not answered with null.
        Assert.Empty((object?[])ours.Call("COMMAND", "DOCS", "nosuchcommand")!);
    }

    [Fact]
    public void CountListAndCommandAgree()
    {
        using var c = _pair.Ours.Connect();
        long count = (long)c.Call("COMMAND", "COUNT")!;
        var all = (object?[])c.Call("COMMAND")!;
        Assert.Equal(count, all.Length);
        Assert.Equal(count, CommandList(c).Count(n => !n.Contains('|')));
        Assert.Equal(all.Length, ((object?[])c.Call("COMMAND", "INFO")!).Length);
        Assert.Contains("command|getkeys", CommandList(c));
    }

    [Fact]
    public void CommandInfoOfUnknownOrInvalidNamesIsNull()
    {
        using var c = _pair.Ours.Connect();
        var r = (object?[])c.Call("COMMAND", "INFO", "get|key", "config|get|key", "nosuch", "GET")!;
        Assert.Null(r[0]);
        Assert.Null(r[1]);
        Assert.Null(r[2]);
        Assert.Equal("get", ((object?[])r[3]!)[0]);
    }

    [Fact]
    public void GetKeysAndFlags()
    {
        using var c = _pair.Ours.Connect();
        Assert.Equal(new object?[] { "key" }, c.Call("COMMAND", "GETKEYS", "get", "key"));
        Assert.Equal(new object?[] { "key" }, c.Call("COMMAND", "GETKEYS", "memory", "usage", "key"));
        Assert.Equal(new object?[] { "a", "b" }, c.Call("COMMAND", "GETKEYS", "del", "a", "b"));
        Assert.Equal("[[k1,[OW,update]]]", Canonical(c.Call("COMMAND", "GETKEYSANDFLAGS", "set", "k1", "v1"), false));
        Assert.Equal("[[k1,[RW,access,update]]]", Canonical(c.Call("COMMAND", "GETKEYSANDFLAGS", "set", "k1", "v1", "get"), false));
        Assert.Equal("[[a,[RM,delete]],[b,[RM,delete]]]", Canonical(c.Call("COMMAND", "GETKEYSANDFLAGS", "del", "a", "b"), false));

        Assert.Equal("ERR Invalid command specified", ((RespError)c.Call("COMMAND", "GETKEYS", "nosuch", "x")!).Message);
        Assert.Equal("ERR Invalid command specified", ((RespError)c.Call("COMMAND", "GETKEYS", "memory", "nosuch", "x")!).Message);
        Assert.Equal("ERR The command has no key arguments", ((RespError)c.Call("COMMAND", "GETKEYS", "ping", "x")!).Message);
        Assert.Equal("ERR Invalid number of arguments specified for command", ((RespError)c.Call("COMMAND", "GETKEYS", "get", "a", "b")!).Message);
        Assert.Equal("ERR wrong number of arguments for 'command|getkeys' command", ((RespError)c.Call("COMMAND", "GETKEYS", "get")!).Message);
    }

    [Fact]
    public void KeyFlagsFollowEachKeySpec()
    {
        var table = new CommandTable();
        List<(string Key, KeySpecFlags Flags)> Keys(params string[] argv)
        {
            var bytes = argv.Select(Encoding.ASCII.GetBytes).ToArray();
            var positions = new List<int>();
            var flags = new List<KeySpecFlags>();
            var cmd = table.FindByFullName(argv[0].ToLowerInvariant())!;
            Assert.True(KeyExtraction.Extract(cmd, bytes.Length, i => bytes[i], positions, flags));
            return positions.Select((p, i) => (argv[p], flags[i])).ToList();
        }
        Assert.Equal([("k1", KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Delete), ("k2", KeySpecFlags.RW | KeySpecFlags.Insert)],
            Keys("LMOVE", "k1", "k2", "left", "right"));
        Assert.Equal([("k1", KeySpecFlags.RO | KeySpecFlags.Access), ("k2", KeySpecFlags.OW | KeySpecFlags.Update)],
            Keys("sort", "k1", "store", "k2"));
        Assert.Equal([("k1", KeySpecFlags.OW | KeySpecFlags.Update), ("k2", KeySpecFlags.OW | KeySpecFlags.Update)],
            Keys("mset", "k1", "v1", "k2", "v2"));
        Assert.Equal([("k", KeySpecFlags.RO | KeySpecFlags.Access)], Keys("bitfield", "k", "get", "u8", "0"));
        Assert.Equal([("k", KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Update)], Keys("bitfield", "k", "set", "u8", "0", "1"));
        var many = new List<string> { "zunionstore", "target", "260" };
        for (int i = 1; i <= 260; i++) many.Add("key" + i);
        Assert.Equal(many.Skip(3).Prepend("target"), Keys([.. many]).Select(k => k.Key));
    }

    [Theory]
    [InlineData("SET", false)]
    [InlineData("GET", false)]
    [InlineData("MSET", false)]
    [InlineData("BITFIELD", false)]
    [InlineData("LMOVE", false)]
    [InlineData("LPOP", false)]
    [InlineData("BLPOP", false)]
    [InlineData("PING", false)]
    [InlineData("MEMORY", false)]
    [InlineData("MEMORY|USAGE", false)]
    [InlineData("RENAME", false)]
    [InlineData("GEORADIUS_RO", false)]
    [InlineData("ZUNIONSTORE", true)]
    [InlineData("XREAD", true)]
    [InlineData("EVAL", true)]
    [InlineData("SORT", true)]
    [InlineData("SORT_RO", true)]
    [InlineData("MIGRATE", true)]
    [InlineData("GEORADIUS", true)]
    public void MovableKeysDerivedFromKeySpecs(string name, bool movable)
    {
        var cmd = new CommandTable().FindByFullName(name.ToLowerInvariant())!;
        Assert.Equal(movable, ServerCommands.LegacyKeyRange(cmd.Spec).Movable);
    }

    [Fact]
    public void ListFilters()
    {
        using var c = _pair.Ours.Connect();
        var all = CommandList(c);
        Assert.Contains("set", all);
        Assert.Contains("command|list", all);
        Assert.Equal(new object?[] { "set" }, c.Call("COMMAND", "LIST", "FILTERBY", "PATTERN", "set"));
        var pattern = ((object?[])c.Call("COMMAND", "LIST", "FILTERBY", "pattern", "command*")!).Cast<string>().ToList();
        Assert.Contains("command", pattern);
        Assert.Contains("command|docs", pattern);
        var sub = ((object?[])c.Call("COMMAND", "LIST", "FILTERBY", "pattern", "memory|*s*")!).Cast<string>().ToHashSet();
        Assert.Equal(new HashSet<string> { "memory|usage", "memory|stats", "memory|malloc-stats" }, sub);
        var conn = ((object?[])c.Call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection")!).Cast<string>().ToList();
        Assert.Contains("ping", conn);
        Assert.Contains("command|info", conn);
        Assert.DoesNotContain("set", conn);
        Assert.Empty((object?[])c.Call("COMMAND", "LIST", "FILTERBY", "aclcat", "non_existing_category")!);
        Assert.Empty((object?[])c.Call("COMMAND", "LIST", "FILTERBY", "module", "non_existing_module")!);
        Assert.Empty((object?[])c.Call("COMMAND", "LIST", "FILTERBY", "pattern", "non_exists*")!);
        foreach (var bad in new[] { new[] { "bad_arg" }, new[] { "filterby", "bad_arg" }, new[] { "filterby", "bad_arg", "bad_arg2" } })
            Assert.Equal("ERR syntax error", ((RespError)c.Call(["COMMAND", "LIST", .. bad])!).Message);
    }

    [Fact]
    public void HelpAndUnknownSubcommand()
    {
        using var ours = _pair.Ours.Connect();
        using var real = _pair.Real.Connect();
        Assert.Equal(Canonical(real.Call("COMMAND", "HELP"), false), Canonical(ours.Call("COMMAND", "HELP"), false));
        Assert.Equal(Canonical(real.Call("COMMAND", "FOO"), false), Canonical(ours.Call("COMMAND", "FOO"), false));
    }

    /// <summary>A RESP parser over a finished reply buffer (RESP2 and RESP3 aggregates as arrays).</summary>
    private sealed class MiniResp
    {
        private readonly byte[] _b;
        private int _p;
        private MiniResp(byte[] b) => _b = b;

        public static object? Parse(byte[] bytes) => new MiniResp(bytes).Read();

        private string Line()
        {
            int end = Array.IndexOf(_b, (byte)'\r', _p);
            string s = Encoding.Latin1.GetString(_b, _p, end - _p);
            _p = end + 2;
            return s;
        }

        private object? Read()
        {
            char type = (char)_b[_p++];
            string line = Line();
            switch (type)
            {
                case '+': return line;
                case '-': return new RespError(line);
                case ':': return long.Parse(line);
                case '$':
                {
                    int n = int.Parse(line);
                    if (n < 0) return null;
                    string s = Encoding.Latin1.GetString(_b, _p, n);
                    _p += n + 2;
                    return s;
                }
                case '*': case '~': case '%':
                {
                    int n = int.Parse(line) * (type == '%' ? 2 : 1);
                    if (n < 0) return null;
                    var items = new object?[n];
                    for (int i = 0; i < n; i++) items[i] = Read();
                    return items;
                }
                default: throw new InvalidDataException("unexpected reply type " + type);
            }
        }
    }
}
