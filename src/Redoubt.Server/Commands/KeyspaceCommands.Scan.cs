using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// Options shared by SCAN, SSCAN, HSCAN and ZSCAN (Redis's scanGenericCommand): COUNT, MATCH and, for
/// SCAN only, TYPE. Patterns and type names are argument indexes, so parsing allocates nothing.
/// </summary>
public struct ScanOptions
{
    public long Count;
    /// <summary>Argument index of the MATCH pattern, or -1; a pattern of exactly "*" counts as none.</summary>
    public int PatternArg;
    /// <summary>Argument index of the TYPE name, or -1.</summary>
    public int TypeArg;

    public readonly bool HasPattern => PatternArg >= 0;

    /// <summary>Whether <paramref name="element"/> passes the MATCH filter.</summary>
    public readonly bool Matches(Client c, ReadOnlySpan<byte> element)
        => PatternArg < 0 || GlobMatcher.Match(c.Arg(PatternArg), element);
}

public static partial class KeyspaceCommands
{
    private static void BindScan(CommandTable t)
    {
        t.Bind("scan", Scan);
        t.Bind("keys", Keys);
    }

    /// <summary>
    /// Parses a SCAN cursor as Redis's strtoul does: an unsigned 64-bit decimal with an optional sign
    /// ("-1" wraps to 2^64-1), the empty string is 0, leading blanks, trailing junk and overflow are
    /// "invalid cursor". False after replying.
    /// </summary>
    public static bool TryParseScanCursor(Client c, int arg, out ulong cursor)
    {
        cursor = 0;
        if (!TryParseCursor(c.Arg(arg), out cursor))
        {
            c.Reply.Error("invalid cursor");
            return false;
        }
        return true;
    }

    internal static bool TryParseCursor(ReadOnlySpan<byte> s, out ulong cursor)
    {
        cursor = 0;
        if (s.Length == 0) return true;
        if (s[0] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r') return false;
        int i = 0;
        bool negative = false;
        if (s[0] is (byte)'+' or (byte)'-')
        {
            negative = s[0] == '-';
            i = 1;
        }
        // A sign with no digits is no number at all: parsing stops at the sign, which is then junk.
        if (i == s.Length) return false;
        ulong v = 0;
        for (; i < s.Length; i++)
        {
            uint d = (uint)(s[i] - '0');
            if (d > 9) return false;
            if (v > (ulong.MaxValue - d) / 10) return false;
            v = v * 10 + d;
        }
        cursor = negative ? unchecked(0UL - v) : v;
        return true;
    }

    /// <summary>
    /// Parses COUNT/MATCH/TYPE from <paramref name="first"/> on; TYPE is accepted only when
    /// <paramref name="allowType"/> (SCAN). False after replying Redis's error.
    /// </summary>
    public static bool TryParseScanOptions(Client c, int first, bool allowType, out ScanOptions options)
    {
        options = new ScanOptions { Count = 10, PatternArg = -1, TypeArg = -1 };
        int i = first;
        while (i < c.Argc)
        {
            int left = c.Argc - i;
            if (c.ArgIs(i, "count"u8) && left >= 2)
            {
                if (!c.TryGetLong(i + 1, out long count)) return false;
                if (count < 1)
                {
                    c.SyntaxError();
                    return false;
                }
                options.Count = count;
                i += 2;
            }
            else if (c.ArgIs(i, "match"u8) && left >= 2)
            {
                var pattern = c.Arg(i + 1);
                options.PatternArg = pattern.Length == 1 && pattern[0] == '*' ? -1 : i + 1;
                i += 2;
            }
            else if (allowType && c.ArgIs(i, "type"u8) && left >= 2)
            {
                options.TypeArg = i + 1;
                i += 2;
            }
            else
            {
                c.SyntaxError();
                return false;
            }
        }
        return true;
    }

    /// <summary>The two-element SCAN reply header and cursor; the caller writes the element array.</summary>
    public static void ReplyScanCursor(Client c, ulong cursor)
    {
        c.Reply.ArrayHeader(2);
        Span<byte> digits = stackalloc byte[20];
        cursor.TryFormat(digits, out int n, default, System.Globalization.CultureInfo.InvariantCulture);
        c.Reply.Bulk(digits[..n]);
    }

    /// <summary>
    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. Visits buckets until COUNT keys were
    /// collected or 10*COUNT buckets were empty, then filters by pattern, type and expiry (deleting
    /// expired keys it meets, as a lookup would).
    /// </summary>
    private static void Scan(Client c)
    {
        if (!TryParseScanCursor(c, 1, out ulong cursor)) return;
        if (!TryParseScanOptions(c, 2, allowType: true, out var options)) return;
        var db = c.Db;
        var found = c.Server.ScanScratch;
        found.Clear();
        try
        {
            long maxIterations = options.Count > long.MaxValue / 10 ? long.MaxValue : options.Count * 10;
            do
            {
                cursor = db.ScanStep(cursor, found);
            } while (cursor != 0 && maxIterations-- != 0 && found.Count < options.Count);

            int kept = 0;
            long now = c.Server.NowMs;
            for (int i = 0; i < found.Count; i++)
            {
                var obj = found[i];
                var key = KeyTable.KeyOf(obj);
                if (!options.Matches(c, key)) continue;
                if (options.TypeArg >= 0)
                {
                    // A lookup, as Redis does it: an expired key is reclaimed here and reads as "none".
                    int typeSlot = db.FindForRead(key, noTouch: true);
                    string type = TypeName(typeSlot < 0 ? null : db.ObjectAt(typeSlot));
                    if (!System.Text.Ascii.EqualsIgnoreCase(c.Arg(options.TypeArg), type)) continue;
                }
                if (IsExpiredDeleting(db, key, now)) continue;
                found[kept++] = obj;
            }
            ReplyScanCursor(c, cursor);
            c.Reply.ArrayHeader(kept);
            for (int i = 0; i < kept; i++) c.Reply.Bulk(KeyTable.KeyOf(found[i]));
        }
        finally
        {
            found.Clear();
        }
    }

    /// <summary>Redis's expireIfNeeded: true when the key exists and has expired (deleted on a master).</summary>
    private static bool IsExpiredDeleting(Database db, ReadOnlySpan<byte> key, long now)
    {
        int slot = db.FindRaw(key);
        if (slot < 0 || !db.IsLogicallyExpired(slot, now)) return false;
        db.FindLive(key);
        return true;
    }

    /// <summary>KEYS pattern: every live key matching; logically expired keys are hidden, not deleted.</summary>
    private static void Keys(Client c)
    {
        var db = c.Db;
        var table = db.Table;
        var pattern = c.Arg(1);
        bool allKeys = pattern.Length == 1 && pattern[0] == '*';
        long now = c.Server.NowMs;
        int mark = c.Reply.BeginDeferred();
        long n = 0;
        int limit = table.SlotLimit;
        for (int slot = 0; slot < limit; slot++)
        {
            if (!table.IsOccupied(slot)) continue;
            var key = KeyTable.KeyOf(table.At(slot).Obj!);
            if (!allKeys && !GlobMatcher.Match(pattern, key)) continue;
            if (db.IsLogicallyExpired(slot, now)) continue;
            c.Reply.Bulk(key);
            n++;
        }
        c.Reply.EndDeferred(mark, n);
    }
}
