using System.Numerics;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// SORT and SORT_RO over lists, sets and sorted sets: numeric or ALPHA order, BY weights read from
/// other keys (or a constant BY that skips sorting), LIMIT, GET patterns and, for SORT, STORE into a
/// list. Follows Redis's sortCommandGeneric step for step, including its shortcuts (a sorted set or
/// list with a constant BY is read in its own order, only the LIMIT range) and its choice of a
/// stable full sort or a partial quicksort, which decides the order of equal elements.
/// </summary>
public static class SortCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("sort", c => Sort(c, readOnly: false));
        t.Bind("sort_ro", c => Sort(c, readOnly: true));
    }

    /// <summary>One element being sorted: its text, and its weight (numeric) or comparison value (ALPHA with BY).</summary>
    private struct SortItem
    {
        public byte[] Obj;
        public double Score;
        public byte[]? Cmp;
        public int Seq;
    }

    /// <summary>What the comparison depends on (Redis keeps these in globals for qsort).</summary>
    private sealed class SortContext
    {
        public bool Desc, Alpha, ByPattern, Store;

        public int Compare(in SortItem a, in SortItem b)
        {
            int cmp;
            if (!Alpha)
            {
                if (a.Score > b.Score) cmp = 1;
                else if (a.Score < b.Score) cmp = -1;
                // Equal weights: the elements' bytes decide, so the result is deterministic.
                else cmp = Binary(a.Obj, b.Obj);
            }
            else if (ByPattern)
            {
                if (a.Cmp is null || b.Cmp is null)
                    cmp = a.Cmp is null && b.Cmp is null ? 0 : a.Cmp is null ? -1 : 1;
                else cmp = Store ? Binary(a.Cmp, b.Cmp) : Collate(a.Cmp, b.Cmp);
            }
            else cmp = Store ? Binary(a.Obj, b.Obj) : Collate(a.Obj, b.Obj);
            return Desc ? -cmp : cmp;
        }
    }

    /// <summary>Byte order, shorter first on a common prefix (Redis's binary string comparison).</summary>
    private static int Binary(byte[] a, byte[] b)
    {
        int r = a.AsSpan().SequenceCompareTo(b);
        return r < 0 ? -1 : r > 0 ? 1 : 0;
    }

    /// <summary>
    /// strcoll in the C.UTF-8 locale the server runs under: byte order of the C strings, so the text
    /// ends at the first NUL byte.
    /// </summary>
    private static int Collate(byte[] a, byte[] b)
    {
        int r = CString(a).SequenceCompareTo(CString(b));
        return r < 0 ? -1 : r > 0 ? 1 : 0;
    }

    /// <summary>The part of a value a C string function sees: up to the first NUL.</summary>
    private static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> s)
    {
        int nul = s.IndexOf((byte)0);
        return nul < 0 ? s : s[..nul];
    }

    private static void Sort(Client c, bool readOnly)
    {
        bool desc = false, alpha = false, dontSort = false;
        long limitStart = 0, limitCount = -1;
        int sortByIdx = -1;
        byte[]? storeKey = null;
        List<int>? getPatterns = null;
        int fullKeyAccess = -1; // computed on first need: -1 unknown, 0 no, 1 yes
        var server = c.Server;

        int j = 2;
        while (j < c.Argc)
        {
            int leftArgs = c.Argc - j - 1;
            if (c.ArgIs(j, "asc"u8)) desc = false;
            else if (c.ArgIs(j, "desc"u8)) desc = true;
            else if (c.ArgIs(j, "alpha"u8)) alpha = true;
            else if (c.ArgIs(j, "limit"u8) && leftArgs >= 2)
            {
                if (!c.TryGetLong(j + 1, out limitStart) || !c.TryGetLong(j + 2, out limitCount)) return;
                j += 2;
            }
            else if (!readOnly && c.ArgIs(j, "store"u8) && leftArgs >= 1)
            {
                storeKey = c.ArgBytes(j + 1);
                j++;
            }
            else if (c.ArgIs(j, "by"u8) && leftArgs >= 1)
            {
                sortByIdx = j + 1;
                // A BY pattern without '*' is constant: nothing to sort by and no keys to read.
                if (CString(c.Arg(j + 1)).IndexOf((byte)'*') < 0) dontSort = true;
                else
                {
                    if (server.ClusterEnabled)
                    {
                        c.Reply.Error("BY option of SORT denied in Cluster mode.");
                        return;
                    }
                    if (!HasFullKeyAccess(c, ref fullKeyAccess))
                    {
                        c.Reply.Error("BY option of SORT denied due to insufficient ACL permissions.");
                        return;
                    }
                }
                j++;
            }
            else if (c.ArgIs(j, "get"u8) && leftArgs >= 1)
            {
                if (server.ClusterEnabled)
                {
                    c.Reply.Error("GET option of SORT denied in Cluster mode.");
                    return;
                }
                if (!HasFullKeyAccess(c, ref fullKeyAccess))
                {
                    c.Reply.Error("GET option of SORT denied due to insufficient ACL permissions.");
                    return;
                }
                (getPatterns ??= new List<int>()).Add(j + 1);
                j++;
            }
            else
            {
                c.SyntaxError();
                return;
            }
            j++;
        }

        var db = c.Db;
        var sortVal = db.LookupRead(c.Arg(1), (c.Flags & ClientFlags.NoTouch) != 0);
        RedisType type;
        switch (sortVal)
        {
            case null: type = RedisType.List; break; // a missing key sorts as an empty list
            case RedisObject { Type: RedisType.Set or RedisType.List or RedisType.ZSet } ro: type = ro.Type; break;
            default:
                c.WrongType();
                return;
        }

        // A set has no order of its own: with a constant BY, a stored or scripted result is sorted
        // anyway so that it does not depend on the set's internal layout.
        if (dontSort && type == RedisType.Set && (storeKey != null || (server.IsScriptClient?.Invoke(c) ?? false)))
        {
            dontSort = false;
            alpha = true;
            sortByIdx = -1;
        }

        List<byte[]>? listItems = null;
        if (type == RedisType.List && sortVal != null)
        {
            if (server.ListItems is null)
            {
                c.Reply.Error("SORT cannot read a list: the list type is not linked into this server");
                return;
            }
            listItems = server.ListItems((RedisObject)sortVal);
        }
        var zset = sortVal as SortedSetObject;
        // Sorting a sorted set reads it through its skiplist form, which it keeps afterwards.
        zset?.ConvertToSkiplist();

        long vectorLen = type switch
        {
            RedisType.List => listItems?.Count ?? 0,
            RedisType.Set => ((SetObject)sortVal!).Count,
            _ => zset!.Count,
        };

        long start = Math.Min(Math.Max(limitStart, 0), vectorLen);
        limitCount = Math.Min(Math.Max(limitCount, -1), vectorLen);
        long end = limitCount < 0 ? vectorLen - 1 : start + limitCount - 1;
        if (start >= vectorLen)
        {
            start = vectorLen - 1;
            end = vectorLen - 2;
        }
        if (end >= vectorLen) end = vectorLen - 1;

        // Ordered types with nothing to sort: read only the LIMIT range, in order (reversed for DESC).
        if ((type == RedisType.ZSet || type == RedisType.List) && dontSort && (start != 0 || end != vectorLen - 1))
            vectorLen = end - start + 1;

        var vector = new SortItem[Math.Max(vectorLen, 0)];
        int n = 0;
        if (type == RedisType.List && dontSort)
        {
            if (end >= start)
            {
                var items = listItems!;
                long idx = desc ? items.Count - start - 1 : start;
                while (n < vectorLen && idx >= 0 && idx < items.Count)
                {
                    vector[n].Obj = items[(int)idx];
                    n++;
                    idx += desc ? -1 : 1;
                }
                end -= start;
                start = 0;
            }
        }
        else if (type == RedisType.List)
        {
            if (listItems != null)
                foreach (var item in listItems) vector[n++].Obj = item;
        }
        else if (type == RedisType.Set)
        {
            var set = (SetObject)sortVal!;
            Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];
            for (int pos = set.First(); pos >= 0; pos = set.NextPosition(pos)) vector[n++].Obj = set.MemberAt(pos, scratch).ToArray();
        }
        else if (dontSort)
        {
            int pos = zset!.AtRank(start, desc);
            for (long k = 0; k < vectorLen; k++)
            {
                vector[n++].Obj = zset.MemberAt(pos).ToArray();
                pos = zset.Step(pos, desc);
            }
            end -= start;
            start = 0;
        }
        else
        {
            for (int pos = zset!.First(); pos >= 0; pos = zset.Next(pos)) vector[n++].Obj = zset.MemberAt(pos).ToArray();
        }

        bool conversionError = false;
        if (!dontSort)
        {
            var sortBy = sortByIdx >= 0 ? c.ArgBytes(sortByIdx) : null;
            for (int k = 0; k < vector.Length; k++)
            {
                ReadOnlySpan<byte> byVal;
                if (sortBy != null)
                {
                    if (!LookupByPattern(c, sortBy, vector[k].Obj, out byVal)) continue;
                }
                else byVal = vector[k].Obj;

                if (alpha)
                {
                    if (sortBy != null) vector[k].Cmp = byVal.ToArray();
                }
                else if (!TryParseWeight(byVal, out vector[k].Score)) conversionError = true;
            }

            var ctx = new SortContext { Desc = desc, Alpha = alpha, ByPattern = sortBy != null, Store = storeKey != null };
            if (sortBy != null && (start != 0 || end != vector.Length - 1))
                PartialQuickSort.Sort(vector.AsSpan(), (a, b) => ctx.Compare(a, b), start, end);
            else
            {
                // glibc's qsort is a merge sort: stable, so equal elements keep their input order.
                for (int k = 0; k < vector.Length; k++) vector[k].Seq = k;
                Array.Sort(vector, (a, b) =>
                {
                    int r = ctx.Compare(a, b);
                    return r != 0 ? r : a.Seq.CompareTo(b.Seq);
                });
            }
        }

        int getCount = getPatterns?.Count ?? 0;
        long outputLen = getCount > 0 ? getCount * (end - start + 1) : end - start + 1;
        if (conversionError)
        {
            c.Reply.Error("One or more scores can't be converted into double");
            return;
        }
        if (storeKey is null)
        {
            c.Reply.ArrayHeader(outputLen);
            for (long k = start; k <= end; k++)
            {
                var obj = vector[k].Obj;
                if (getCount == 0) c.Reply.Bulk(obj);
                for (int g = 0; g < getCount; g++)
                {
                    if (LookupByPattern(c, c.Arg(getPatterns![g]), obj, out var val)) c.Reply.Bulk(val);
                    else c.Reply.Null();
                }
            }
            return;
        }

        var result = new List<byte[]>((int)Math.Max(outputLen, 0));
        for (long k = start; k <= end; k++)
        {
            var obj = vector[k].Obj;
            if (getCount == 0) result.Add(obj);
            for (int g = 0; g < getCount; g++)
                result.Add(LookupByPattern(c, c.Arg(getPatterns![g]), obj, out var val) ? val.ToArray() : Array.Empty<byte>());
        }
        if (outputLen > 0)
        {
            if (server.CreateListFromItems is null)
            {
                c.Reply.Error("SORT STORE cannot create a list: the list type is not linked into this server");
                return;
            }
            StoreValue(c, storeKey, server.CreateListFromItems(storeKey, result));
            server.Notify(KeyspaceEventClass.List, "sortstore", storeKey, db.Id);
            server.Dirty(outputLen);
        }
        else if (db.Delete(storeKey))
        {
            server.SignalModifiedKey(db, storeKey);
            server.Notify(KeyspaceEventClass.Generic, "del", storeKey, db.Id);
            server.Dirty();
        }
        c.Reply.Integer(outputLen);
    }

    /// <summary>
    /// Whether the user may read every key (BY and GET read keys named by the data): some selector
    /// allows the command and grants read access to all keys.
    /// </summary>
    private static bool HasFullKeyAccess(Client c, ref int cached)
    {
        if (cached < 0)
            cached = c.User.Unrestricted || c.Server.Acl.CheckCommandWithUnrestrictedKeyAccess(c, c.Cmd!, KeySpecFlags.Access) ? 1 : 0;
        return cached == 1;
    }

    /// <summary>
    /// A numeric weight as Redis reads it with strtod: leading blanks and any trailing text after a NUL
    /// are allowed, an empty value is 0; anything else left over, overflow, underflow or NaN is an error.
    /// </summary>
    private static bool TryParseWeight(ReadOnlySpan<byte> s, out double value)
    {
        int used = CStrtod.Parse(s, out value, out bool rangeError);
        if (used < s.Length && s[used] != 0) return false;
        if (rangeError || double.IsNaN(value)) return false;
        // glibc also reports ERANGE for a subnormal result that had to be rounded.
        return !(value != 0 && Math.Abs(value) < MinNormal && !IsExact(s[..used], value));
    }

    private const double MinNormal = 2.2250738585072014E-308;

    /// <summary>Whether the number text <paramref name="token"/> (as strtod consumed it) equals the subnormal <paramref name="v"/> exactly.</summary>
    private static bool IsExact(ReadOnlySpan<byte> token, double v)
    {
        int p = 0;
        while (p < token.Length && (token[p] == ' ' || (token[p] >= '\t' && token[p] <= '\r'))) p++;
        if (p < token.Length && (token[p] == '+' || token[p] == '-')) p++;
        bool hex = p + 1 < token.Length && token[p] == '0' && (token[p + 1] | 0x20) == 'x';
        if (hex) p += 2;
        var digits = BigInteger.Zero;
        int fractionDigits = 0;
        bool seenPoint = false;
        int radix = hex ? 16 : 10;
        for (; p < token.Length; p++)
        {
            byte b = token[p];
            if (b == '.') { seenPoint = true; continue; }
            int d = b >= '0' && b <= '9' ? b - '0' : hex && (b | 0x20) >= 'a' && (b | 0x20) <= 'f' ? (b | 0x20) - 'a' + 10 : -1;
            if (d < 0) break;
            digits = digits * radix + d;
            if (seenPoint) fractionDigits++;
        }
        long exponent = 0;
        if (p < token.Length)
        {
            p++; // 'e' or 'p'
            bool negative = p < token.Length && token[p] == '-';
            if (p < token.Length && (token[p] == '+' || token[p] == '-')) p++;
            for (; p < token.Length && exponent < 100000; p++) exponent = exponent * 10 + (token[p] - '0');
            if (negative) exponent = -exponent;
        }
        // v = m * 2^-1074 for a subnormal.
        var m = new BigInteger(BitConverter.DoubleToInt64Bits(Math.Abs(v)));
        if (hex)
        {
            long shift = exponent - 4L * fractionDigits + 1074;
            return shift >= 0 ? digits << (int)shift == m : digits == m << (int)-shift;
        }
        long t = exponent - fractionDigits;
        if (t >= 0) return (digits * BigInteger.Pow(10, (int)t)) << 1074 == m;
        return digits << 1074 == m * BigInteger.Pow(10, (int)-t);
    }

    /// <summary>
    /// Redis's lookupKeyByPattern: "#" is the element itself; otherwise the first '*' is replaced by the
    /// element to name a key, and a "->field" suffix after it reads that hash field instead of a string.
    /// False (no value) when the pattern has no '*', the key is missing or of the other type, or the
    /// field is missing.
    /// </summary>
    private static bool LookupByPattern(Client c, ReadOnlySpan<byte> pattern, byte[] subst, out ReadOnlySpan<byte> value)
    {
        value = default;
        var cpat = CString(pattern);
        if (cpat.Length == 1 && cpat[0] == '#')
        {
            value = subst;
            return true;
        }
        int star = cpat.IndexOf((byte)'*');
        if (star < 0) return false;

        int fieldLen = 0;
        int arrow = cpat[(star + 1)..].IndexOf("->"u8);
        if (arrow >= 0)
        {
            int arrowPos = star + 1 + arrow;
            // "->" at the very end names no field: it is then part of the key name.
            if (arrowPos + 2 < cpat.Length) fieldLen = pattern.Length - arrowPos - 2;
        }
        var field = fieldLen > 0 ? pattern[^fieldLen..] : default;
        int postfixLen = pattern.Length - (star + 1) - (fieldLen > 0 ? fieldLen + 2 : 0);

        int keyLen = star + subst.Length + postfixLen;
        Span<byte> key = keyLen <= 256 ? stackalloc byte[keyLen] : new byte[keyLen];
        pattern[..star].CopyTo(key);
        subst.CopyTo(key[star..]);
        pattern.Slice(star + 1, postfixLen).CopyTo(key[(star + subst.Length)..]);

        var obj = c.Db.LookupRead(key, (c.Flags & ClientFlags.NoTouch) != 0);
        if (obj is null) return false;
        if (fieldLen > 0)
            return obj is HashObject hash && hash.TryGet(field, out value);
        if (obj is not byte[] rec) return false;
        value = StringRecord.Value(rec);
        return true;
    }

    /// <summary>Redis's setKey for the STORE result: replaces whatever the key held and drops its TTL.</summary>
    private static void StoreValue(Client c, byte[] key, RedisObject value)
    {
        var db = c.Db;
        int slot = db.FindForWrite(key);
        if (slot >= 0)
        {
            db.ReplaceAt(slot, value);
            db.RemoveExpire(slot);
        }
        else db.Add(value);
        c.Server.SignalModifiedKey(db, key);
    }
}
