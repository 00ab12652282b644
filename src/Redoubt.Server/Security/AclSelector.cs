using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Security;

/// <summary>Why an ACL rule was refused; each maps to one of Redis's error texts.</summary>
public enum AclRuleError
{
    None,
    Syntax,                 // unknown rule, bad pattern characters
    UnknownCommand,         // command or category not found
    KeyAfterAllKeys,
    ChannelAfterAllChannels,
    NoSuchPassword,
    BadHash,
    DuplicateUser,
    FirstArgOfSubcommand,
    UnmatchedParenthesis,   // reported with its own text by the callers
}

/// <summary>The outcome of a permission check, ordered as Redis orders them when picking the error to report.</summary>
public enum AclResult { Ok = 0, DeniedCommand = 1, DeniedKey = 2, DeniedAuth = 3, DeniedChannel = 4 }

/// <summary>
/// One set of permissions: the commands (a bitmap indexed by command id, plus allowed first arguments),
/// the key patterns with their read/write rights, and the channel patterns. A user has a root selector
/// (the rules outside parentheses) and any number of additional "(...)" selectors; a command is
/// allowed when any one selector allows all of it.
/// </summary>
public sealed class AclSelector
{
    [Flags]
    public enum SelectorFlags { None = 0, Root = 1, AllKeys = 2, AllCommands = 4, AllChannels = 8 }

    public const int ReadPermission = 1, WritePermission = 2, AllPermissions = 3;

    public sealed class KeyPattern(string pattern, int permissions)
    {
        public readonly string Pattern = pattern;
        public readonly byte[] Bytes = Encoding.Latin1.GetBytes(pattern);
        public int Permissions = permissions;

        public string Describe() => Permissions switch
        {
            AllPermissions => "~" + Pattern,
            ReadPermission => "%R~" + Pattern,
            _ => "%W~" + Pattern,
        };
    }

    public sealed class ChannelPattern(string pattern)
    {
        public readonly string Pattern = pattern;
        public readonly byte[] Bytes = Encoding.Latin1.GetBytes(pattern);
    }

    private readonly AclRegistry _acl;
    public SelectorFlags Flags;
    private ulong[] _allowed;
    /// <summary>Per command id, the first arguments allowed for an otherwise denied command ("+select|0").</summary>
    private Dictionary<int, List<string>>? _firstArgs;
    public readonly List<KeyPattern> Keys = new();
    public readonly List<ChannelPattern> Channels = new();

    public AclSelector(AclRegistry acl, SelectorFlags flags)
    {
        _acl = acl;
        Flags = flags;
        _allowed = new ulong[(acl.Index.Count + 1 + 63) / 64];
    }

    public AclSelector Clone()
    {
        var s = new AclSelector(_acl, Flags) { _allowed = (ulong[])_allowed.Clone() };
        if (_firstArgs != null)
        {
            s._firstArgs = new();
            foreach (var (id, args) in _firstArgs) s._firstArgs[id] = new List<string>(args);
        }
        foreach (var k in Keys) s.Keys.Add(new KeyPattern(k.Pattern, k.Permissions));
        s.Channels.AddRange(Channels);
        return s;
    }

    public bool IsRoot => (Flags & SelectorFlags.Root) != 0;
    public bool AllKeys => (Flags & SelectorFlags.AllKeys) != 0;
    public bool AllChannels => (Flags & SelectorFlags.AllChannels) != 0;
    public bool AllCommands => (Flags & SelectorFlags.AllCommands) != 0;

    // ---- command bitmap -----------------------------------------------------

    /// <summary>The reserved bit set only by +@all/allcommands: the rules were written starting from everything.</summary>
    private int FutureCommandsBit => _acl.Index.Count;

    public bool GetBit(int id) => (_allowed[id >> 6] & (1UL << (id & 63))) != 0;

    private void SetBit(int id, bool value)
    {
        if (value) _allowed[id >> 6] |= 1UL << (id & 63);
        else
        {
            _allowed[id >> 6] &= ~(1UL << (id & 63));
            Flags &= ~SelectorFlags.AllCommands;
        }
    }

    public bool CanExecuteFutureCommands => GetBit(FutureCommandsBit);

    /// <summary>Allows or denies a command; a container's subcommands follow it.</summary>
    private void ChangePermission(Command cmd, bool allow)
    {
        SetBit(cmd.Id, allow);
        _firstArgs?.Remove(cmd.Id);
        if (cmd.Subcommands != null)
            foreach (var sub in cmd.Subcommands.Values) SetBit(sub.Id, allow);
    }

    private void SetCategory(AclCategories category, bool allow)
    {
        foreach (var cmd in _acl.Index.TopLevel)
        {
            if ((cmd.Spec.Acl & category) != 0) ChangePermission(cmd, allow);
            if (cmd.Subcommands is null) continue;
            foreach (var sub in cmd.Subcommands.Values)
                if ((sub.Spec.Acl & category) != 0) ChangePermission(sub, allow);
        }
    }

    private void CountCategory(AclCategories category, out int on, out int off)
    {
        on = off = 0;
        foreach (var cmd in _acl.Index.All())
        {
            if ((cmd.Spec.Acl & category) == 0) continue;
            if (GetBit(cmd.Id)) on++;
            else off++;
        }
    }

    private void AddFirstArg(int id, string arg)
    {
        _firstArgs ??= new();
        if (!_firstArgs.TryGetValue(id, out var list)) _firstArgs[id] = list = new List<string>();
        foreach (var a in list)
            if (string.Equals(a, arg, StringComparison.OrdinalIgnoreCase)) return;
        list.Add(arg);
    }

    // ---- rules ----------------------------------------------------------------

    /// <summary>Applies one selector rule (keys, channels, commands); returns why it was refused, or None.</summary>
    public AclRuleError Apply(string op)
    {
        if (Is(op, "allkeys") || Is(op, "~*"))
        {
            Flags |= SelectorFlags.AllKeys;
            Keys.Clear();
        }
        else if (Is(op, "resetkeys"))
        {
            Flags &= ~SelectorFlags.AllKeys;
            Keys.Clear();
        }
        else if (Is(op, "allchannels") || Is(op, "&*"))
        {
            Flags |= SelectorFlags.AllChannels;
            Channels.Clear();
        }
        else if (Is(op, "resetchannels"))
        {
            Flags &= ~SelectorFlags.AllChannels;
            Channels.Clear();
        }
        else if (Is(op, "allcommands") || Is(op, "+@all"))
        {
            Array.Fill(_allowed, ulong.MaxValue);
            Flags |= SelectorFlags.AllCommands;
            _firstArgs = null;
        }
        else if (Is(op, "nocommands") || Is(op, "-@all"))
        {
            Array.Clear(_allowed);
            Flags &= ~SelectorFlags.AllCommands;
            _firstArgs = null;
        }
        else if (op.Length > 0 && (op[0] == '~' || op[0] == '%')) return AddKeyPattern(op);
        else if (op.Length > 0 && op[0] == '&')
        {
            if (AllChannels) return AclRuleError.ChannelAfterAllChannels;
            string pattern = op[1..];
            if (HasSpaces(pattern)) return AclRuleError.Syntax;
            if (!Channels.Exists(ch => ch.Pattern == pattern)) Channels.Add(new ChannelPattern(pattern));
            Flags &= ~SelectorFlags.AllChannels;
        }
        else if (op.Length > 0 && op[0] == '+' && (op.Length < 2 || op[1] != '@')) return AllowCommand(op);
        else if (op.Length > 0 && op[0] == '-' && (op.Length < 2 || op[1] != '@'))
        {
            var cmd = _acl.Index.Lookup(op[1..]);
            if (cmd is null) return AclRuleError.UnknownCommand;
            ChangePermission(cmd, false);
        }
        else if (op.Length > 1 && (op[0] == '+' || op[0] == '-') && op[1] == '@')
        {
            var category = AclCommandIndex.CategoryByName(op[2..]);
            if (category == AclCategories.None) return AclRuleError.UnknownCommand;
            SetCategory(category, op[0] == '+');
        }
        else return AclRuleError.Syntax;
        return AclRuleError.None;
    }

    private AclRuleError AddKeyPattern(string op)
    {
        if (AllKeys) return AclRuleError.KeyAfterAllKeys;
        int permissions = 0, offset = 1;
        if (op[0] == '%')
        {
            for (; offset < op.Length; offset++)
            {
                char ch = char.ToUpperInvariant(op[offset]);
                if (ch == 'R' && (permissions & ReadPermission) == 0) permissions |= ReadPermission;
                else if (ch == 'W' && (permissions & WritePermission) == 0) permissions |= WritePermission;
                else if (op[offset] == '~' && permissions != 0)
                {
                    offset++;
                    break;
                }
                else return AclRuleError.Syntax;
            }
            // '%' must grant read, write or both.
            if (permissions == 0) return AclRuleError.Syntax;
        }
        else permissions = AllPermissions;
        string pattern = op[offset..];
        if (HasSpaces(pattern)) return AclRuleError.Syntax;
        var existing = Keys.Find(k => k.Pattern == pattern);
        if (existing != null) existing.Permissions |= permissions;
        else Keys.Add(new KeyPattern(pattern, permissions));
        Flags &= ~SelectorFlags.AllKeys;
        return AclRuleError.None;
    }

    private AclRuleError AllowCommand(string op)
    {
        int bar = op.LastIndexOf('|');
        if (bar < 0)
        {
            var cmd = _acl.Index.Lookup(op[1..]);
            if (cmd is null) return AclRuleError.UnknownCommand;
            ChangePermission(cmd, true);
            return AclRuleError.None;
        }
        var baseCmd = _acl.Index.Lookup(op[1..bar]);
        if (baseCmd is null) return AclRuleError.UnknownCommand;
        if (baseCmd.Parent != null) return AclRuleError.FirstArgOfSubcommand;
        string sub = op[(bar + 1)..];
        if (sub.Length == 0) return AclRuleError.Syntax;
        if (baseCmd.Subcommands != null)
        {
            var subCmd = _acl.Index.Lookup(op[1..]);
            if (subCmd is null) return AclRuleError.UnknownCommand;
            ChangePermission(subCmd, true);
            return AclRuleError.None;
        }
        _acl.Log?.Warning("Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: " + op + ")");
        AddFirstArg(baseCmd.Id, sub);
        return AclRuleError.None;
    }

    private static bool Is(string op, string word) => string.Equals(op, word, StringComparison.OrdinalIgnoreCase);

    /// <summary>Blanks (C isspace) and NUL are refused in names and patterns.</summary>
    public static bool HasSpaces(string s)
    {
        foreach (char ch in s)
            if (ch == ' ' || (ch >= '\t' && ch <= '\r') || ch == '\0') return true;
        return false;
    }

    // ---- checks -----------------------------------------------------------------

    /// <summary>Whether this selector lets the command run with these arguments; errPos is the denied key or channel.</summary>
    public AclResult CheckCommand(Command cmd, in AclArgs args, AclKeyCache cache, out int errPos)
    {
        errPos = 0;
        if (!AllCommands && !cmd.Has(CommandFlags.NoAuth) && !GetBit(cmd.Id))
        {
            if (args.Count < 2 || _firstArgs is null || !_firstArgs.TryGetValue(cmd.Id, out var allowed))
                return AclResult.DeniedCommand;
            var first = args[cmd.Parent != null ? 2 : 1];
            bool found = false;
            foreach (var a in allowed)
            {
                if (AclKeys.EqualsIgnoreCase(first, a))
                {
                    found = true;
                    break;
                }
            }
            if (!found) return AclResult.DeniedCommand;
        }

        if (!AllKeys && AclKeys.CommandHasKeys(cmd))
        {
            var keys = cache.Get(cmd, args);
            foreach (var k in keys)
            {
                if (!CheckKey(args[k.Pos], k.Flags))
                {
                    errPos = k.Pos;
                    return AclResult.DeniedKey;
                }
            }
        }

        if (!AllChannels && AclKeys.ChannelSpecOf(cmd) is { } spec && (spec.Flags & (AclKeys.ChannelPublish | AclKeys.ChannelSubscribe)) != 0)
        {
            int stop = spec.Count < 0 ? args.Count : Math.Min(spec.Start + spec.Count, args.Count);
            bool isPattern = (spec.Flags & AclKeys.ChannelPattern) != 0;
            for (int i = spec.Start; i < stop; i++)
            {
                if (!CheckChannel(args[i], isPattern))
                {
                    errPos = i;
                    return AclResult.DeniedChannel;
                }
            }
        }
        return AclResult.Ok;
    }

    /// <summary>Key access per the key spec's access flags against the %R/%W patterns.</summary>
    public bool CheckKey(ReadOnlySpan<byte> key, KeySpecFlags specFlags)
    {
        if (AllKeys) return true;
        int need = RequiredPermissions(specFlags);
        foreach (var p in Keys)
        {
            if ((p.Permissions & need) != need) continue;
            if (GlobMatcher.Match(p.Bytes, key)) return true;
        }
        return false;
    }

    private static int RequiredPermissions(KeySpecFlags f)
    {
        int need = 0;
        if ((f & KeySpecFlags.Access) != 0) need |= ReadPermission;
        if ((f & (KeySpecFlags.Insert | KeySpecFlags.Delete | KeySpecFlags.Update)) != 0) need |= WritePermission;
        return need;
    }

    /// <summary>True when the selector reaches every key with the given access ("~*", "%R~*"...).</summary>
    public bool HasUnrestrictedKeyAccess(KeySpecFlags specFlags)
    {
        if (AllKeys) return true;
        int need = RequiredPermissions(specFlags);
        foreach (var p in Keys)
            if ((p.Permissions & need) == need && p.Pattern == "*") return true;
        return false;
    }

    /// <summary>
    /// A channel name is matched against the channel patterns as a glob; a pattern given to PSUBSCRIBE
    /// must equal one of them literally.
    /// </summary>
    public bool CheckChannel(ReadOnlySpan<byte> channel, bool isPattern)
    {
        if (AllChannels) return true;
        foreach (var p in Channels)
        {
            if (isPattern ? channel.SequenceEqual(p.Bytes) : GlobMatcher.Match(p.Bytes, channel)) return true;
        }
        return false;
    }

    // ---- description --------------------------------------------------------------

    /// <summary>Keys, channels and command rules as ACL LIST prints them.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        if (AllKeys) sb.Append("~* ");
        else foreach (var k in Keys) sb.Append(k.Describe()).Append(' ');
        if (AllChannels) sb.Append("&* ");
        else
        {
            sb.Append("resetchannels ");
            foreach (var ch in Channels) sb.Append('&').Append(ch.Pattern).Append(' ');
        }
        sb.Append(DescribeCommandRules());
        return sb.ToString();
    }

    public string DescribeKeys() => AllKeys ? "~*" : string.Join(' ', Keys.Select(k => k.Describe()));

    public string DescribeChannels() => AllChannels ? "&*" : string.Join(' ', Channels.Select(c => "&" + c.Pattern));

    /// <summary>
    /// The shortest-ish rule list that rebuilds the command bitmap: "+@all" or "-@all", then the
    /// categories that fit best (applied greedily), then single commands and first arguments for the
    /// remaining differences. The rules are replayed on a scratch selector as they are emitted.
    /// </summary>
    public string DescribeCommandRules()
    {
        var sb = new StringBuilder();
        var fake = new AclSelector(_acl, SelectorFlags.None);
        bool additive = !CanExecuteFutureCommands;
        sb.Append(additive ? "-@all " : "+@all ");
        fake.Apply(additive ? "-@all" : "+@all");

        var temp = new AclSelector(_acl, SelectorFlags.None) { _allowed = (ulong[])_allowed.Clone() };
        var names = AclCommandIndex.CategoryNames;
        var applied = new bool[names.Length];
        while (true)
        {
            int best = -1, minDiff = int.MaxValue, maxSame = 0;
            for (int j = 0; j < names.Length; j++)
            {
                if (applied[j]) continue;
                temp.CountCategory((AclCategories)(1u << j), out int on, out int off);
                int diff = additive ? off : on;
                int same = additive ? on : off;
                if (same > diff && (diff < minDiff || (diff == minDiff && same > maxSame)))
                {
                    best = j;
                    minDiff = diff;
                    maxSame = same;
                }
            }
            if (best == -1) break;
            string op = (additive ? "+@" : "-@") + names[best];
            fake.Apply(op);
            temp.Apply((additive ? "-@" : "+@") + names[best]);
            sb.Append(op).Append(' ');
            applied[best] = true;
        }

        DescribeSingleCommands(fake, sb, _acl.Index.TopLevel);
        sb.Length--;
        return sb.ToString();
    }

    private void DescribeSingleCommands(AclSelector fake, StringBuilder sb, IEnumerable<Command> commands)
    {
        foreach (var cmd in commands)
        {
            bool userBit = GetBit(cmd.Id), fakeBit = fake.GetBit(cmd.Id);
            if (userBit != fakeBit)
            {
                sb.Append(userBit ? '+' : '-').Append(cmd.Name).Append(' ');
                fake.ChangePermission(cmd, userBit);
            }
            if (cmd.Subcommands != null) DescribeSingleCommands(fake, sb, cmd.Subcommands.Values);
            if (!userBit && _firstArgs != null && _firstArgs.TryGetValue(cmd.Id, out var args))
                foreach (var a in args) sb.Append('+').Append(cmd.Name).Append('|').Append(a).Append(' ');
        }
    }
}
