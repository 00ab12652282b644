using System.Text;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>COMMAND and its subcommands: the command table as Redis 7.0 describes it.</summary>
public static partial class ServerCommands
{
    static partial void BindMore(CommandTable t)
    {
        t.Bind("command", CommandAll);
        t.Bind("command|count", CommandCount);
        t.Bind("command|info", CommandInfo);
        t.Bind("command|docs", CommandDocs);
        t.Bind("command|getkeys", c => CommandGetKeys(c, withFlags: false));
        t.Bind("command|getkeysandflags", c => CommandGetKeys(c, withFlags: true));
        t.Bind("command|list", CommandList);
        t.Bind("command|help", CommandHelp);
        BindInfo(t);
        BindDebug(t);
        BindMemory(t);
    }

    private static void BindInfo(CommandTable t) => t.Bind("info", Info);

    /// <summary>Redis's addReplyHelp: a header line, the help lines, and the HELP entry, as status replies.</summary>
    internal static void ReplyHelp(Client c, string[] lines)
    {
        c.Reply.ArrayHeader(lines.Length + 3);
        c.Reply.Simple($"{c.ArgString(0).ToUpperInvariant()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        foreach (var line in lines) c.Reply.Simple(line);
        c.Reply.Simple("HELP");
        c.Reply.Simple("    Prints this help.");
    }

    /// <summary>Redis's addReplySubcommandSyntaxError.</summary>
    internal static void SubcommandSyntaxError(Client c)
    {
        string sub = c.ArgString(1);
        if (sub.Length > 128) sub = sub[..128];
        c.Reply.Error($"unknown subcommand or wrong number of arguments for '{sub}'. Try {c.ArgString(0).ToUpperInvariant()} HELP.");
    }

    /// <summary>Subcommands of <paramref name="cmd"/> that have a handler.</summary>
    private static List<Command> ImplementedSubcommands(Command cmd)
        => cmd.Subcommands is null ? new() : cmd.Subcommands.Values.Where(s => s.Handler != null).ToList();

    /// <summary>
    /// Redis's lookupCommandBySds: "name" or "container|sub"; null for anything unknown, unanswered, or
    /// with more parts.
    /// </summary>
    private static Command? LookupByFullName(CommandTable table, ReadOnlySpan<byte> name)
    {
        int bar = name.IndexOf((byte)'|');
        var baseCmd = table.Lookup(bar < 0 ? name : name[..bar]);
        if (baseCmd is null || !baseCmd.IsImplemented) return null;
        if (bar < 0) return baseCmd;
        var rest = name[(bar + 1)..];
        if (rest.IndexOf((byte)'|') >= 0 || baseCmd.Subcommands is null) return null;
        var sub = CommandTable.LookupSub(baseCmd, rest);
        return sub?.Handler != null ? sub : null;
    }

    // ---- COMMAND, COUNT, INFO ------------------------------------------------

    private static void CommandAll(Client c)
    {
        var cmds = c.Server.Commands.Implemented.ToList();
        c.Reply.ArrayHeader(cmds.Count);
        foreach (var cmd in cmds) ReplyCommandInfo(c, cmd);
    }

    private static void CommandCount(Client c) => c.Reply.Integer(c.Server.Commands.Implemented.Count());

    private static void CommandInfo(Client c)
    {
        if (c.Argc == 2)
        {
            CommandAll(c);
            return;
        }
        c.Reply.ArrayHeader(c.Argc - 2);
        for (int i = 2; i < c.Argc; i++)
        {
            var cmd = LookupByFullName(c.Server.Commands, c.Arg(i));
            if (cmd is null) c.Reply.Null();
            else ReplyCommandInfo(c, cmd);
        }
    }

    private static readonly (CommandFlags Flag, string Name)[] CommandFlagNames =
    [
        (CommandFlags.Write, "write"), (CommandFlags.ReadOnly, "readonly"), (CommandFlags.DenyOom, "denyoom"),
        (CommandFlags.Module, "module"), (CommandFlags.Admin, "admin"), (CommandFlags.PubSub, "pubsub"),
        (CommandFlags.NoScript, "noscript"), (CommandFlags.Blocking, "blocking"), (CommandFlags.Loading, "loading"),
        (CommandFlags.Stale, "stale"), (CommandFlags.SkipMonitor, "skip_monitor"), (CommandFlags.SkipSlowlog, "skip_slowlog"),
        (CommandFlags.Asking, "asking"), (CommandFlags.Fast, "fast"), (CommandFlags.NoAuth, "no_auth"), (CommandFlags.NoMandatoryKeys, "no_mandatory_keys"),
        (CommandFlags.NoAsyncLoading, "no_async_loading"), (CommandFlags.NoMulti, "no_multi"),
        (CommandFlags.MovableKeys, "movablekeys"), (CommandFlags.AllowBusy, "allow_busy"),
    ];

    private static readonly (KeySpecFlags Flag, string Name)[] KeySpecFlagNames =
    [
        (KeySpecFlags.RO, "RO"), (KeySpecFlags.RW, "RW"), (KeySpecFlags.OW, "OW"), (KeySpecFlags.RM, "RM"),
        (KeySpecFlags.Access, "access"), (KeySpecFlags.Update, "update"), (KeySpecFlags.Insert, "insert"),
        (KeySpecFlags.Delete, "delete"), (KeySpecFlags.NotKey, "not_key"), (KeySpecFlags.Incomplete, "incomplete"),
        (KeySpecFlags.VariableFlags, "variable_flags"),
    ];

    private static readonly string[] AclCategoryNames =
    [
        "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo",
        "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting",
    ];

    /// <summary>
    /// The legacy (first, last, step) triple and whether keys are movable, derived from the key specs as
    /// Redis's populateCommandLegacyRangeSpec does: consecutive plain index/range specs merge into one
    /// range; anything else makes the keys "movable".
    /// </summary>
    public static (int First, int Last, int Step, bool Movable) LegacyKeyRange(CommandSpec spec)
    {
        var specs = spec.KeySpecs;
        if (specs.Length == 0) return (0, 0, 0, false);
        static bool IsIndexRange(KeySpec k) => k.BeginIndex > 0 && k.BeginKeyword is null && !k.IsKeynum;
        if (specs.Length == 1 && IsIndexRange(specs[0]))
        {
            var k = specs[0];
            int last = k.LastKey >= 0 ? k.BeginIndex + k.LastKey : k.LastKey;
            return (k.BeginIndex, last, k.KeyStep, (k.Flags & KeySpecFlags.Incomplete) != 0);
        }
        int first = int.MaxValue, lastKey = 0, prevLast = 0;
        bool movable = false;
        foreach (var k in specs)
        {
            if (!IsIndexRange(k)) { movable = true; continue; }
            if (k.KeyStep != 1 || (prevLast != 0 && prevLast != k.BeginIndex - 1)) { movable = true; continue; }
            if ((k.Flags & KeySpecFlags.Incomplete) != 0) movable = true;
            first = Math.Min(first, k.BeginIndex);
            int abs = k.LastKey >= 0 ? k.LastKey + k.BeginIndex : k.LastKey;
            // Unsigned comparison: a negative (relative to the end) last key wins over any positive one.
            lastKey = (int)Math.Max((uint)lastKey, (uint)abs);
            prevLast = lastKey;
        }
        if (first == int.MaxValue) return (0, 0, 0, true);
        return (first, lastKey, 1, movable);
    }

    /// <summary>The flags COMMAND INFO shows: the spec's, plus movablekeys when key specs call for it.</summary>
    private static CommandFlags ShownFlags(Command cmd)
    {
        var flags = cmd.Flags;
        if (LegacyKeyRange(cmd.Spec).Movable) flags |= CommandFlags.MovableKeys;
        return flags;
    }

    /// <summary>ACL categories including the ones Redis implies from flags (setImplicitACLCategories).</summary>
    private static AclCategories ShownCategories(Command cmd)
    {
        var acl = cmd.Spec.Acl;
        var f = cmd.Flags;
        if ((f & CommandFlags.Write) != 0) acl |= AclCategories.Write;
        if ((f & CommandFlags.ReadOnly) != 0 && (acl & AclCategories.Scripting) == 0) acl |= AclCategories.Read;
        if ((f & CommandFlags.Admin) != 0) acl |= AclCategories.Admin | AclCategories.Dangerous;
        if ((f & CommandFlags.PubSub) != 0) acl |= AclCategories.PubSub;
        if ((f & CommandFlags.Fast) != 0) acl |= AclCategories.Fast;
        if ((f & CommandFlags.Blocking) != 0) acl |= AclCategories.Blocking;
        if ((acl & AclCategories.Fast) == 0) acl |= AclCategories.Slow;
        return acl;
    }

    internal static void ReplyCommandInfo(Client c, Command cmd)
    {
        var r = c.Reply;
        var (first, last, step, _) = LegacyKeyRange(cmd.Spec);
        r.ArrayHeader(10);
        r.Bulk(cmd.FullName);
        r.Integer(cmd.Arity);

        var flags = ShownFlags(cmd);
        r.SetHeader(CommandFlagNames.Count(f => (flags & f.Flag) != 0));
        foreach (var (flag, name) in CommandFlagNames)
            if ((flags & flag) != 0) r.Simple(name);

        r.Integer(first);
        r.Integer(last);
        r.Integer(step);

        var acl = ShownCategories(cmd);
        int catCount = 0;
        for (int i = 0; i < AclCategoryNames.Length; i++) if (((uint)acl & (1u << i)) != 0) catCount++;
        r.SetHeader(catCount);
        for (int i = 0; i < AclCategoryNames.Length; i++)
            if (((uint)acl & (1u << i)) != 0) r.Simple("@" + AclCategoryNames[i]);

        var tips = CommandDocExtras.For(cmd.FullName).Tips;
        r.SetHeader(tips.Length);
        foreach (var tip in tips) r.Bulk(tip);

        ReplyKeySpecs(c, cmd.Spec.KeySpecs);

        var subs = ImplementedSubcommands(cmd);
        if (cmd.Subcommands is null) r.SetHeader(0);
        else
        {
            r.ArrayHeader(subs.Count);
            foreach (var sub in subs) ReplyCommandInfo(c, sub);
        }
    }

    private static void ReplyKeySpecFlags(ReplyWriter r, KeySpecFlags flags)
    {
        r.SetHeader(KeySpecFlagNames.Count(f => (flags & f.Flag) != 0));
        foreach (var (flag, name) in KeySpecFlagNames)
            if ((flags & flag) != 0) r.Simple(name);
    }

    private static void ReplyKeySpecs(Client c, KeySpec[] specs)
    {
        var r = c.Reply;
        r.SetHeader(specs.Length);
        foreach (var k in specs)
        {
            r.MapHeader(k.Notes != null ? 4 : 3);
            if (k.Notes != null)
            {
                r.Bulk("notes"u8);
                r.Bulk(k.Notes);
            }
            r.Bulk("flags"u8);
            ReplyKeySpecFlags(r, k.Flags);

            bool unknown = k.BeginIndex <= 0 && k.BeginKeyword is null;
            r.Bulk("begin_search"u8);
            r.MapHeader(2);
            r.Bulk("type"u8);
            if (unknown)
            {
                r.Bulk("unknown"u8);
                r.Bulk("spec"u8);
                r.MapHeader(0);
            }
            else if (k.BeginKeyword is null)
            {
                r.Bulk("index"u8);
                r.Bulk("spec"u8);
                r.MapHeader(1);
                r.Bulk("index"u8);
                r.Integer(k.BeginIndex);
            }
            else
            {
                r.Bulk("keyword"u8);
                r.Bulk("spec"u8);
                r.MapHeader(2);
                r.Bulk("keyword"u8);
                r.Bulk(k.BeginKeyword);
                r.Bulk("startfrom"u8);
                r.Integer(k.KeywordStartFrom);
            }

            r.Bulk("find_keys"u8);
            r.MapHeader(2);
            r.Bulk("type"u8);
            if (unknown)
            {
                r.Bulk("unknown"u8);
                r.Bulk("spec"u8);
                r.MapHeader(0);
            }
            else if (!k.IsKeynum)
            {
                r.Bulk("range"u8);
                r.Bulk("spec"u8);
                r.MapHeader(3);
                r.Bulk("lastkey"u8);
                r.Integer(k.LastKey);
                r.Bulk("keystep"u8);
                r.Integer(k.KeyStep);
                r.Bulk("limit"u8);
                r.Integer(k.Limit);
            }
            else
            {
                r.Bulk("keynum"u8);
                r.Bulk("spec"u8);
                r.MapHeader(3);
                r.Bulk("keynumidx"u8);
                r.Integer(k.KeyNumIndex);
                r.Bulk("firstkey"u8);
                r.Integer(k.FirstKey);
                r.Bulk("keystep"u8);
                r.Integer(k.KeyStep);
            }
        }
    }

    // ---- DOCS ----------------------------------------------------------------

    private static void CommandDocs(Client c)
    {
        if (c.Argc == 2)
        {
            var cmds = c.Server.Commands.Implemented.ToList();
            c.Reply.MapHeader(cmds.Count);
            foreach (var cmd in cmds)
            {
                c.Reply.Bulk(cmd.FullName);
                ReplyCommandDocs(c, cmd);
            }
            return;
        }
        int mark = c.Reply.BeginDeferred();
        int n = 0;
        for (int i = 2; i < c.Argc; i++)
        {
            var cmd = LookupByFullName(c.Server.Commands, c.Arg(i));
            if (cmd is null) continue;
            c.Reply.Bulk(cmd.FullName);
            ReplyCommandDocs(c, cmd);
            n++;
        }
        c.Reply.EndDeferred(mark, n, (byte)'%');
    }

    /// <summary>
    /// One command's documentation map. Argument descriptions are not part of this server's specs, so
    /// "arguments" is left out, as Redis does for a command without them.
    /// </summary>
    private static void ReplyCommandDocs(Client c, Command cmd)
    {
        var r = c.Reply;
        var spec = cmd.Spec;
        var extra = CommandDocExtras.For(cmd.FullName);
        var subs = cmd.Subcommands is null ? null : ImplementedSubcommands(cmd);
        int fields = 1;
        if (spec.Summary.Length > 0) fields++;
        if (spec.Since.Length > 0) fields++;
        if (spec.Complexity.Length > 0) fields++;
        if (extra.DocFlags.Length > 0) fields++;
        if (extra.DeprecatedSince != null) fields++;
        if (extra.ReplacedBy != null) fields++;
        if (extra.History.Length > 0) fields++;
        if (subs != null) fields++;
        r.MapHeader(fields);
        if (spec.Summary.Length > 0) { r.Bulk("summary"u8); r.Bulk(spec.Summary); }
        if (spec.Since.Length > 0) { r.Bulk("since"u8); r.Bulk(spec.Since); }
        r.Bulk("group"u8);
        r.Bulk(spec.Group.Replace('_', '-')); // "sorted_set" is "sorted-set" in COMMAND DOCS
        if (spec.Complexity.Length > 0) { r.Bulk("complexity"u8); r.Bulk(spec.Complexity); }
        if (extra.DocFlags.Length > 0)
        {
            r.Bulk("doc_flags"u8);
            r.SetHeader(extra.DocFlags.Length);
            foreach (var f in extra.DocFlags) r.Simple(f);
        }
        if (extra.DeprecatedSince != null) { r.Bulk("deprecated_since"u8); r.Bulk(extra.DeprecatedSince); }
        if (extra.ReplacedBy != null) { r.Bulk("replaced_by"u8); r.Bulk(extra.ReplacedBy); }
        if (extra.History.Length > 0)
        {
            r.Bulk("history"u8);
            r.SetHeader(extra.History.Length);
            foreach (var (since, changes) in extra.History)
            {
                r.ArrayHeader(2);
                r.Bulk(since);
                r.Bulk(changes);
            }
        }
        if (subs != null)
        {
            r.Bulk("subcommands"u8);
            r.MapHeader(subs.Count);
            foreach (var sub in subs)
            {
                r.Bulk(sub.FullName);
                ReplyCommandDocs(c, sub);
            }
        }
    }

    // ---- GETKEYS, GETKEYSANDFLAGS ---------------------------------------------

    private static void CommandGetKeys(Client c, bool withFlags)
    {
        var table = c.Server.Commands;
        var cmd = table.Lookup(c.Arg(2));
        if (cmd != null && cmd.Subcommands != null && c.Argc >= 4) cmd = CommandTable.LookupSub(cmd, c.Arg(3));
        if (cmd is null || cmd.Handler is null)
        {
            c.Reply.Error("Invalid command specified");
            return;
        }
        if (cmd.Spec.KeySpecs.Length == 0)
        {
            c.Reply.Error("The command has no key arguments");
            return;
        }
        int argc = c.Argc - 2;
        if ((cmd.Arity > 0 && cmd.Arity != argc) || argc < -cmd.Arity)
        {
            c.Reply.Error("Invalid number of arguments specified for command");
            return;
        }
        var argv = new byte[argc][];
        for (int i = 0; i < argc; i++) argv[i] = c.ArgBytes(i + 2);
        var positions = new List<int>();
        var flags = new List<KeySpecFlags>();
        if (!KeyExtraction.Extract(cmd, argc, i => argv[i], positions, flags))
        {
            if (cmd.Has(CommandFlags.NoMandatoryKeys)) c.Reply.EmptyArray();
            else c.Reply.Error("Invalid arguments specified for command");
            return;
        }
        c.Reply.ArrayHeader(positions.Count);
        for (int i = 0; i < positions.Count; i++)
        {
            if (!withFlags)
            {
                c.Reply.Bulk(argv[positions[i]]);
                continue;
            }
            c.Reply.ArrayHeader(2);
            c.Reply.Bulk(argv[positions[i]]);
            ReplyKeySpecFlags(c.Reply, flags[i]);
        }
    }

    // ---- LIST, HELP ----------------------------------------------------------

    private static void CommandList(Client c)
    {
        int filter = 0; // 0 none, 1 module, 2 aclcat, 3 pattern
        byte[]? filterArg = null;
        for (int i = 2; i < c.Argc; i++)
        {
            int more = c.Argc - 1 - i;
            if (c.ArgIs(i, "filterby"u8) && more == 2)
            {
                if (c.ArgIs(i + 1, "module"u8)) filter = 1;
                else if (c.ArgIs(i + 1, "aclcat"u8)) filter = 2;
                else if (c.ArgIs(i + 1, "pattern"u8)) filter = 3;
                else
                {
                    c.SyntaxError();
                    return;
                }
                filterArg = c.ArgBytes(i + 2);
                i += 2;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        AclCategories category = AclCategories.None;
        if (filter == 2)
        {
            int idx = Array.FindIndex(AclCategoryNames, n => n.Equals(Encoding.ASCII.GetString(filterArg!), StringComparison.OrdinalIgnoreCase));
            category = idx < 0 ? AclCategories.None : (AclCategories)(1u << idx);
        }
        bool Matches(Command cmd) => filter switch
        {
            0 => true,
            1 => false, // no modules are ever loaded
            2 => category != AclCategories.None && (ShownCategories(cmd) & category) != 0,
            _ => GlobMatcher.Match(filterArg!, Encoding.ASCII.GetBytes(cmd.FullName), noCase: true),
        };
        int mark = c.Reply.BeginDeferred();
        int n = 0;
        foreach (var cmd in c.Server.Commands.Implemented)
        {
            if (Matches(cmd)) { c.Reply.Bulk(cmd.FullName); n++; }
            foreach (var sub in ImplementedSubcommands(cmd))
                if (Matches(sub)) { c.Reply.Bulk(sub.FullName); n++; }
        }
        c.Reply.EndDeferred(mark, n);
    }

    private static readonly string[] CommandHelpLines =
    [
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
    ];

    private static void CommandHelp(Client c) => ReplyHelp(c, CommandHelpLines);
}
