using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// The parts of SCAN shared by HSCAN, SSCAN (and ZSCAN): Redis's cursor and option parsing, the
/// empty reply, and the bounded walk over a <see cref="FieldTable"/>'s buckets.
/// </summary>
public static class CollectionScan
{
    /// <summary>
    /// Parses a cursor as strtoul does (an optional sign, decimal digits; a negative value wraps), with
    /// Redis's extra rule against leading space. Replies "invalid cursor" and returns false otherwise.
    /// </summary>
    public static bool TryParseCursor(Client c, int idx, out ulong cursor)
    {
        if (TryParseCursor(c.Arg(idx), out cursor)) return true;
        c.Reply.Error("invalid cursor");
        return false;
    }

    public static bool TryParseCursor(ReadOnlySpan<byte> s, out ulong cursor)
    {
        cursor = 0;
        // The argument is a C string to Redis: it ends at the first NUL.
        int nul = s.IndexOf((byte)0);
        if (nul >= 0) s = s[..nul];
        if (s.Length == 0) return true;
        if (s[0] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r') return false;
        int p = 0;
        bool negative = false;
        if (s[0] == '+' || s[0] == '-')
        {
            negative = s[0] == '-';
            p++;
        }
        if (p == s.Length) return false;
        ulong v = 0;
        for (; p < s.Length; p++)
        {
            uint d = (uint)(s[p] - '0');
            if (d > 9) return false;
            if (v > (ulong.MaxValue - d) / 10) return false;
            v = v * 10 + d;
        }
        cursor = negative ? 0 - v : v;
        return true;
    }

    /// <summary>
    /// Parses [MATCH pattern] [COUNT n] from argument <paramref name="start"/> on. Replies Redis's error and
    /// returns false on a bad COUNT or an unknown option. <paramref name="patternIdx"/> is 0 when no
    /// pattern filters (none given, or exactly "*").
    /// </summary>
    public static bool TryParseOptions(Client c, int start, out long count, out int patternIdx)
    {
        count = 10;
        patternIdx = 0;
        for (int i = start; i < c.Argc;)
        {
            int left = c.Argc - i;
            if (c.ArgIs(i, "count"u8) && left >= 2)
            {
                if (!c.TryGetLong(i + 1, out count)) return false;
                if (count < 1)
                {
                    c.SyntaxError();
                    return false;
                }
                i += 2;
            }
            else if (c.ArgIs(i, "match"u8) && left >= 2)
            {
                var pattern = c.Arg(i + 1);
                patternIdx = pattern.Length == 1 && pattern[0] == '*' ? 0 : i + 1;
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

    /// <summary>The reply for a missing key: cursor 0 and no elements.</summary>
    public static void EmptyReply(Client c) => c.Reply.Raw("*2\r\n$1\r\n0\r\n*0\r\n"u8);

    /// <summary>
    /// Walks <paramref name="table"/> from <paramref name="cursor"/> like Redis's scanGenericCommand: bucket
    /// by bucket until at least <paramref name="count"/> elements were collected (each counting
    /// <paramref name="perElement"/> reply items, 2 for field/value pairs), the table is done, or ten
    /// times COUNT buckets were visited. Collected slots go to <paramref name="slots"/>; returns the next cursor.
    /// </summary>
    public static ulong Walk(FieldTable table, ulong cursor, long count, int perElement, List<int> slots)
    {
        // Redis multiplies COUNT by the items per element; beyond any table size the bound is moot.
        long target = count > long.MaxValue / 20 ? long.MaxValue / 20 : count * perElement;
        long maxIterations = target * 10;
        do
        {
            cursor = table.Scan(cursor, slots);
        } while (cursor != 0 && maxIterations-- != 0 && (long)slots.Count * perElement < target);
        return cursor;
    }

    /// <summary>True when the element passes the MATCH filter (argument <paramref name="patternIdx"/>, 0 for none).</summary>
    public static bool Matches(Client c, int patternIdx, ReadOnlySpan<byte> element)
        => patternIdx == 0 || GlobMatcher.Match(c.Arg(patternIdx), element);

    /// <summary>Writes the cursor part of the reply: the two-element header and the cursor as a bulk string.</summary>
    public static void ReplyCursor(Client c, ulong cursor)
    {
        c.Reply.ArrayHeader(2);
        Span<byte> text = stackalloc byte[20];
        cursor.TryFormat(text, out int n, default, System.Globalization.CultureInfo.InvariantCulture);
        c.Reply.Bulk(text[..n]);
    }
}
