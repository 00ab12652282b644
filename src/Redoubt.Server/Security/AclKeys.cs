using Redoubt.Server.Commands;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Security;

/// <summary>The arguments of the command being checked: the client's argv from an offset (0, or 3 for ACL DRYRUN).</summary>
public readonly struct AclArgs(Client c, int offset, int count)
{
    public int Count => count;
    public ReadOnlySpan<byte> this[int i] => c.Arg(offset + i);
}

/// <summary>A key argument and the key-spec flags that say how the command uses it.</summary>
public readonly record struct KeyReference(int Pos, KeySpecFlags Flags);

/// <summary>Keys of the command under check, found once and shared by every selector of the user.</summary>
public sealed class AclKeyCache
{
    private readonly List<KeyReference> _keys = new();
    private bool _ready;

    public void Reset() => _ready = false;

    public List<KeyReference> Get(Command cmd, in AclArgs args)
    {
        if (!_ready)
        {
            AclKeys.GetKeys(cmd, args, _keys);
            _ready = true;
        }
        return _keys;
    }
}

/// <summary>
/// Which arguments are keys, and with which access flags, as Redis 7.0 determines it for ACL checks:
/// the key specs when they are complete and their flags fixed, otherwise the per-command key finders
/// (SET and BITFIELD, whose access depends on their options; SORT, MIGRATE; numkeys commands whose
/// count is invalid). Also the channel arguments of the pub/sub commands.
/// </summary>
public static class AclKeys
{
    public const int ChannelPattern = 1, ChannelPublish = 2, ChannelSubscribe = 4, ChannelUnsubscribe = 8;

    /// <summary>Fills <paramref name="result"/> with the key positions and flags; empty when none can be found.</summary>
    public static void GetKeys(Command cmd, in AclArgs args, List<KeyReference> result)
    {
        result.Clear();
        bool hasKeySpec = false, hasVariableFlags = false;
        foreach (var spec in cmd.Spec.KeySpecs)
        {
            if ((spec.Flags & KeySpecFlags.NotKey) == 0) hasKeySpec = true;
            if ((spec.Flags & KeySpecFlags.VariableFlags) != 0) hasVariableFlags = true;
        }
        if (hasKeySpec && !hasVariableFlags && UsingKeySpecs(cmd, args, result)) return;
        result.Clear();
        KeyFinder(cmd, args, result);
    }

    /// <summary>Whether ACL key patterns apply to this command at all.</summary>
    public static bool CommandHasKeys(Command cmd)
    {
        if (HasKeyFinder(cmd.Name)) return true;
        foreach (var spec in cmd.Spec.KeySpecs)
            if ((spec.Flags & KeySpecFlags.NotKey) == 0) return true;
        return false;
    }

    /// <summary>Redis's getKeysUsingKeySpecs; false when a spec is unknown, incomplete or does not fit the arguments.</summary>
    private static bool UsingKeySpecs(Command cmd, in AclArgs args, List<KeyReference> result)
    {
        int argc = args.Count;
        foreach (var spec in cmd.Spec.KeySpecs)
        {
            if ((spec.Flags & KeySpecFlags.NotKey) != 0) continue;
            int first = 0;
            if (spec.BeginIndex > 0) first = spec.BeginIndex;
            else if (spec.BeginKeyword != null)
            {
                int start = spec.KeywordStartFrom > 0 ? spec.KeywordStartFrom : argc + spec.KeywordStartFrom;
                int end = spec.KeywordStartFrom > 0 ? argc - 1 : 1;
                for (int i = start; i != end; i = start <= end ? i + 1 : i - 1)
                {
                    if (i >= argc || i < 1) break;
                    if (EqualsIgnoreCase(args[i], spec.BeginKeyword))
                    {
                        first = i + 1;
                        break;
                    }
                }
                if (first == 0) continue;
            }
            else return false;

            int last, step = spec.KeyStep;
            if (!spec.IsKeynum)
            {
                if (spec.LastKey >= 0) last = first + spec.LastKey;
                else if (spec.Limit == 0) last = argc + spec.LastKey;
                else last = first + ((argc - first) / spec.Limit + spec.LastKey);
            }
            else
            {
                int idx = first + spec.KeyNumIndex;
                if (spec.KeyNumIndex >= argc || idx >= argc) return false;
                if (!NumberParser.TryParseInt64(args[idx], out long numKeys) || numKeys < 0) return false;
                first += spec.FirstKey;
                if (numKeys > argc) return false;
                last = first + (int)numKeys - 1;
            }
            if (last >= argc || last < first || first >= argc) return false;
            if (step <= 0) step = 1;
            for (int i = first; i <= last; i += step) result.Add(new KeyReference(i, spec.Flags));
            if ((spec.Flags & KeySpecFlags.Incomplete) != 0) return false;
        }
        return true;
    }

    private static bool HasKeyFinder(string name) => name is "bitfield" or "blmpop" or "bzmpop" or "eval" or "eval_ro"
        or "evalsha" or "evalsha_ro" or "fcall" or "fcall_ro" or "georadius" or "georadiusbymember" or "lmpop"
        or "migrate" or "set" or "sintercard" or "sort" or "sort_ro" or "xread" or "xreadgroup" or "zdiff"
        or "zdiffstore" or "zinter" or "zintercard" or "zinterstore" or "zmpop" or "zunion" or "zunionstore";

    /// <summary>The per-command key finders, for what key specs cannot express.</summary>
    private static void KeyFinder(Command cmd, in AclArgs args, List<KeyReference> result)
    {
        switch (cmd.Name)
        {
            case "sintercard" or "zunion" or "zinter" or "zdiff" or "zintercard" or "lmpop" or "zmpop":
                CountedKeys(0, 1, 2, args, result); break;
            case "zunionstore" or "zinterstore" or "zdiffstore":
                CountedKeys(1, 2, 3, args, result); break;
            case "eval" or "eval_ro" or "evalsha" or "evalsha_ro" or "fcall" or "fcall_ro" or "blmpop" or "bzmpop":
                CountedKeys(0, 2, 3, args, result); break;
            case "sort_ro":
                result.Add(new KeyReference(1, KeySpecFlags.RO | KeySpecFlags.Access)); break;
            case "sort": SortKeys(args, result); break;
            case "migrate": MigrateKeys(args, result); break;
            case "georadius" or "georadiusbymember": GeoRadiusKeys(args, result); break;
            case "xread" or "xreadgroup": XReadKeys(args, result); break;
            case "set": SetKeys(args, result); break;
            case "bitfield": BitfieldKeys(args, result); break;
        }
    }

    /// <summary>"[dest] numkeys key..." commands: nothing when the count is not a sane positive number.</summary>
    private static void CountedKeys(int storeOfs, int countOfs, int firstOfs, in AclArgs args, List<KeyReference> result)
    {
        if (countOfs >= args.Count) return;
        long num = Atoi(args[countOfs]);
        if (num < 1 || num > (args.Count - firstOfs)) return;
        for (int i = 0; i < num; i++) result.Add(new KeyReference(firstOfs + i, KeySpecFlags.None));
        if (storeOfs != 0) result.Add(new KeyReference(storeOfs, KeySpecFlags.None));
    }

    /// <summary>C atoi: optional blanks and sign, then leading digits; 0 when there are none.</summary>
    private static long Atoi(ReadOnlySpan<byte> s)
    {
        int i = 0;
        while (i < s.Length && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
        long v = 0;
        while (i < s.Length && s[i] >= '0' && s[i] <= '9' && v < int.MaxValue) v = v * 10 + (s[i++] - '0');
        return neg ? -v : v;
    }

    private static void SortKeys(in AclArgs args, List<KeyReference> result)
    {
        result.Add(new KeyReference(1, KeySpecFlags.RO | KeySpecFlags.Access));
        int store = -1;
        for (int i = 2; i < args.Count; i++)
        {
            var a = args[i];
            if (EqualsIgnoreCase(a, "limit")) i += 2;
            // The last STORE wins; the loop does not skip over its argument.
            else if (EqualsIgnoreCase(a, "store") && i + 1 < args.Count) store = i + 1;
            else if (EqualsIgnoreCase(a, "get") || EqualsIgnoreCase(a, "by")) i += 1;
        }
        if (store > 0) result.Add(new KeyReference(store, KeySpecFlags.OW | KeySpecFlags.Update));
    }

    private static void MigrateKeys(in AclArgs args, List<KeyReference> result)
    {
        int first = 3, num = 1, argc = args.Count;
        if (argc > 6)
        {
            for (int i = 6; i < argc; i++)
            {
                var a = args[i];
                if (EqualsIgnoreCase(a, "keys"))
                {
                    if (args[3].Length > 0) num = 0;
                    else
                    {
                        first = i + 1;
                        num = argc - first;
                    }
                    break;
                }
                if (EqualsIgnoreCase(a, "auth")) i += 1;
                else if (EqualsIgnoreCase(a, "auth2")) i += 2;
            }
        }
        for (int i = 0; i < num; i++)
            result.Add(new KeyReference(first + i, KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Delete));
    }

    private static void GeoRadiusKeys(in AclArgs args, List<KeyReference> result)
    {
        int stored = -1;
        for (int i = 5; i < args.Count; i++)
        {
            var a = args[i];
            if ((EqualsIgnoreCase(a, "store") || EqualsIgnoreCase(a, "storedist")) && i + 1 < args.Count)
            {
                stored = i + 1;
                i++;
            }
        }
        result.Add(new KeyReference(1, KeySpecFlags.None));
        if (stored > 0) result.Add(new KeyReference(stored, KeySpecFlags.None));
    }

    private static void XReadKeys(in AclArgs args, List<KeyReference> result)
    {
        int streamsPos = -1, argc = args.Count;
        for (int i = 1; i < argc; i++)
        {
            var a = args[i];
            if (EqualsIgnoreCase(a, "block") || EqualsIgnoreCase(a, "count")) i++;
            else if (EqualsIgnoreCase(a, "group")) i += 2;
            else if (EqualsIgnoreCase(a, "noack")) { }
            else if (EqualsIgnoreCase(a, "streams"))
            {
                streamsPos = i;
                break;
            }
            else break;
        }
        if (streamsPos < 0) return;
        int num = argc - streamsPos - 1;
        if (num == 0 || num % 2 != 0) return;
        num /= 2;
        for (int i = streamsPos + 1; i < argc - num; i++) result.Add(new KeyReference(i, KeySpecFlags.None));
    }

    /// <summary>SET reads the key only with GET.</summary>
    private static void SetKeys(in AclArgs args, List<KeyReference> result)
    {
        for (int i = 3; i < args.Count; i++)
        {
            if (EqualsIgnoreCase(args[i], "get"))
            {
                result.Add(new KeyReference(1, KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Update));
                return;
            }
        }
        result.Add(new KeyReference(1, KeySpecFlags.OW | KeySpecFlags.Update));
    }

    /// <summary>BITFIELD is read-only when it only has GET (and OVERFLOW) operations.</summary>
    private static void BitfieldKeys(in AclArgs args, List<KeyReference> result)
    {
        bool readOnly = true;
        int argc = args.Count;
        for (int i = 2; i < argc; i++)
        {
            int remaining = argc - i - 1;
            var a = args[i];
            if (EqualsIgnoreCase(a, "get") && remaining >= 2) i += 2;
            else if ((EqualsIgnoreCase(a, "set") || EqualsIgnoreCase(a, "incrby")) && remaining >= 3)
            {
                readOnly = false;
                break;
            }
            else if (EqualsIgnoreCase(a, "overflow") && remaining >= 1) i += 1;
            else
            {
                readOnly = false;
                break;
            }
        }
        result.Add(new KeyReference(1, readOnly
            ? KeySpecFlags.RO | KeySpecFlags.Access
            : KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Update));
    }

    /// <summary>Channel arguments: flags, first position, and how many (-1: all that follow); null for other commands.</summary>
    public static (int Flags, int Start, int Count)? ChannelSpecOf(Command cmd) => cmd.Name switch
    {
        "subscribe" or "ssubscribe" => (ChannelSubscribe, 1, -1),
        "unsubscribe" or "sunsubscribe" => (ChannelUnsubscribe, 1, -1),
        "psubscribe" => (ChannelPattern | ChannelSubscribe, 1, -1),
        "punsubscribe" => (ChannelPattern | ChannelUnsubscribe, 1, -1),
        "publish" or "spublish" => (ChannelPublish, 1, 1),
        _ => null,
    };

    /// <summary>strcasecmp-style equality: ASCII letters fold, other bytes compare exactly.</summary>
    public static bool EqualsIgnoreCase(ReadOnlySpan<byte> a, string b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
        {
            int x = a[i], y = b[i];
            if (x == y) continue;
            if (y > 0xFF) return false;
            if ((uint)((x | 0x20) - 'a') <= 'z' - 'a' && (x | 0x20) == (y | 0x20)) continue;
            return false;
        }
        return true;
    }
}
