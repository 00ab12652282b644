using System.Text;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Commands;

/// <summary>
/// Finds which arguments of a command line are keys, from the command's key specs (Redis 7's
/// getKeysUsingKeySpecs), with the few commands whose keys specs cannot describe handled by name
/// (SORT's STORE, MIGRATE's KEYS). Used by COMMAND GETKEYS, ACL key patterns, proxy routing and cluster slots.
/// </summary>
public static class KeyExtraction
{
    public delegate ReadOnlySpan<byte> ArgAccessor(int index);

    /// <summary>
    /// Appends key positions to <paramref name="positions"/> and, when <paramref name="flags"/> is given,
    /// each key's access flags (COMMAND GETKEYSANDFLAGS); false when the line does not fit the specs.
    /// </summary>
    public static bool Extract(Command cmd, int argc, Func<int, byte[]> arg, List<int> positions, List<KeySpecFlags>? flags = null)
    {
        switch (cmd.Name)
        {
            case "sort":
            case "sort_ro":
                return SortKeys(argc, arg, positions, flags);
            case "migrate":
                return MigrateKeys(argc, arg, positions, flags);
            case "set":
            case "bitfield":
                // Their key's flags depend on the arguments (GET / only GET operations), as Redis's getkeys procs decide.
                if (argc < 2) return false;
                positions.Add(1);
                flags?.Add(cmd.Name == "set" ? SetKeyFlags(argc, arg) : BitfieldKeyFlags(argc, arg));
                return true;
        }
        bool anyIncomplete = false;
        foreach (var spec in cmd.Spec.KeySpecs)
        {
            if ((spec.Flags & KeySpecFlags.NotKey) != 0) continue;
            int first = 0;
            if (spec.BeginIndex > 0) first = spec.BeginIndex;
            else if (spec.BeginKeyword != null)
            {
                int start = spec.KeywordStartFrom > 0 ? spec.KeywordStartFrom : argc + spec.KeywordStartFrom;
                int end = spec.KeywordStartFrom > 0 ? argc - 1 : 1;
                for (int i = start; ; i = start <= end ? i + 1 : i - 1)
                {
                    if (i >= argc || i < 1) break;
                    if (Encoding.ASCII.GetString(arg(i)).Equals(spec.BeginKeyword, StringComparison.OrdinalIgnoreCase))
                    {
                        first = i + 1;
                        break;
                    }
                    if (i == end) break;
                }
                if (first == 0) continue;
            }
            else return false;

            int last, step;
            if (!spec.IsKeynum)
            {
                step = spec.KeyStep;
                if (spec.LastKey >= 0) last = first + spec.LastKey;
                else if (spec.Limit == 0) last = argc + spec.LastKey;
                else last = first + ((argc - first) / spec.Limit + spec.LastKey);
            }
            else
            {
                step = spec.KeyStep;
                int idx = first + spec.KeyNumIndex;
                if (idx >= argc) return false;
                if (!NumberParser.TryParseInt64(arg(idx), out long numKeys) || numKeys < 0 || numKeys > argc) return false;
                first += spec.FirstKey;
                last = first + (int)numKeys - 1;
                if (numKeys == 0) continue;
            }
            if (last >= argc || last < first || first >= argc) return false;
            if (step <= 0) step = 1;
            for (int i = first; i <= last; i += step)
            {
                positions.Add(i);
                flags?.Add(spec.Flags);
            }
            if ((spec.Flags & KeySpecFlags.Incomplete) != 0) anyIncomplete = true;
        }
        _ = anyIncomplete;
        return true;
    }

    private static bool SortKeys(int argc, Func<int, byte[]> arg, List<int> positions, List<KeySpecFlags>? flags)
    {
        positions.Add(1);
        flags?.Add(KeySpecFlags.RO | KeySpecFlags.Access);
        // Skip option arguments so that "BY"/"GET" patterns are not taken for STORE's key. Only the
        // last STORE counts, as in SORT itself; the word after STORE is scanned again like Redis does.
        int store = -1;
        for (int i = 2; i < argc; i++)
        {
            string a = Encoding.ASCII.GetString(arg(i)).ToLowerInvariant();
            switch (a)
            {
                case "limit": i += 2; break;
                case "get":
                case "by": i += 1; break;
                case "store":
                    if (i + 1 < argc) store = i + 1;
                    break;
            }
        }
        if (store > 0)
        {
            positions.Add(store);
            flags?.Add(KeySpecFlags.OW | KeySpecFlags.Update);
        }
        return true;
    }

    private static bool MigrateKeys(int argc, Func<int, byte[]> arg, List<int> positions, List<KeySpecFlags>? flags)
    {
        const KeySpecFlags migrated = KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Delete;
        // MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw] [KEYS k...]
        if (argc > 6)
        {
            for (int i = 6; i < argc; i++)
            {
                string a = Encoding.ASCII.GetString(arg(i)).ToLowerInvariant();
                if (a == "auth") { i++; continue; }
                if (a == "auth2") { i += 2; continue; }
                if (a == "keys")
                {
                    if (arg(3).Length != 0) return false;
                    for (int k = i + 1; k < argc; k++)
                    {
                        positions.Add(k);
                        flags?.Add(migrated | KeySpecFlags.Incomplete);
                    }
                    return true;
                }
            }
        }
        if (argc > 3)
        {
            positions.Add(3);
            flags?.Add(migrated);
        }
        return true;
    }

    /// <summary>SET's key is read too when GET is given.</summary>
    private static KeySpecFlags SetKeyFlags(int argc, Func<int, byte[]> arg)
    {
        for (int i = 3; i < argc; i++)
            if (Ascii.EqualsIgnoreCase(arg(i), "get"u8)) return KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Update;
        return KeySpecFlags.OW | KeySpecFlags.Update;
    }

    /// <summary>BITFIELD only reads its key when every operation is a GET (OVERFLOW aside).</summary>
    private static KeySpecFlags BitfieldKeyFlags(int argc, Func<int, byte[]> arg)
    {
        for (int i = 2; i < argc; i++)
        {
            int remaining = argc - i - 1;
            var a = arg(i);
            if (Ascii.EqualsIgnoreCase(a, "get"u8) && remaining >= 2) i += 2;
            else if (Ascii.EqualsIgnoreCase(a, "overflow"u8) && remaining >= 1) i += 1;
            else return KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Update;
        }
        return KeySpecFlags.RO | KeySpecFlags.Access;
    }
}
