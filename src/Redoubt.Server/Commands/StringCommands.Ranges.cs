using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>Length and substring commands: APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE, LCS.</summary>
public static partial class StringCommands
{
    private static void BindRanges(CommandTable t)
    {
        t.Bind("append", Append);
        t.Bind("strlen", StrLen);
        t.Bind("getrange", GetRange);
        t.Bind("substr", GetRange);
        t.Bind("setrange", SetRange);
        t.Bind("lcs", Lcs);
    }

    /// <summary>
    /// Redis's checkStringLength: a string may not grow past proto-max-bulk-len (the master link is
    /// exempt), nor past what one record can hold here. Replies the error and returns false.
    /// </summary>
    internal static bool CheckStringLength(Client c, long size, long append, int keyLength)
    {
        long total = unchecked(size + append);
        bool tooLong = total < size || total < append || total > StringRecord.MaxValueLength(keyLength) ||
                       ((c.Flags & ClientFlags.Master) == 0 && total > c.Server.Config.ProtoMaxBulkLen);
        if (!tooLong) return true;
        c.Reply.Error("string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }

    /// <summary>APPEND key value: creates the key when missing; replies the new length.</summary>
    private static void Append(Client c)
    {
        var key = c.Arg(1);
        var add = c.Arg(2);
        var db = c.Db;
        int slot = FindForWrite(c, key);
        long total;
        if (slot < 0)
        {
            db.Add(StringRecord.Create(key, add));
            total = add.Length;
        }
        else
        {
            if (db.ObjectAt(slot) is not byte[] rec)
            {
                c.WrongType();
                return;
            }
            int oldLen = StringRecord.ValueLength(rec);
            if (!CheckStringLength(c, oldLen, add.Length, key.Length)) return;
            rec = StringRecord.GrowValue(rec, oldLen + add.Length);
            add.CopyTo(StringRecord.MutableValue(rec)[oldLen..]);
            db.ReplaceAt(slot, rec);
            total = oldLen + add.Length;
        }
        c.Server.SignalModifiedKey(db, key);
        c.Server.Notify(KeyspaceEventClass.String, "append", key, db.Id);
        c.Server.Dirty();
        c.Reply.Integer(total);
    }

    private static void StrLen(Client c)
    {
        if (!TryReadString(c, c.Arg(1), out var value, out _)) return;
        c.Reply.Integer(value.Length);
    }

    /// <summary>GETRANGE key start end (and the legacy SUBSTR): inclusive, negative from the end, clamped.</summary>
    private static void GetRange(Client c)
    {
        if (!c.TryGetLong(2, out long start) || !c.TryGetLong(3, out long end)) return;
        if (!TryReadString(c, c.Arg(1), out var value, out _)) return;
        long len = value.Length;
        if (start < 0 && end < 0 && start > end)
        {
            c.Reply.Bulk(ReadOnlySpan<byte>.Empty);
            return;
        }
        if (start < 0) start += len;
        if (end < 0) end += len;
        if (start < 0) start = 0;
        if (end < 0) end = 0;
        if (end >= len) end = len - 1;
        if (start > end || len == 0) c.Reply.Bulk(ReadOnlySpan<byte>.Empty);
        else c.Reply.Bulk(value.Slice((int)start, (int)(end - start + 1)));
    }

    /// <summary>
    /// SETRANGE key offset value: overwrites from <c>offset</c>, zero-padding a shorter (or missing) value.
    /// An empty value changes nothing and replies the current length.
    /// </summary>
    private static void SetRange(Client c)
    {
        if (!c.TryGetLong(2, out long offset)) return;
        if (offset < 0)
        {
            c.Reply.Error("offset is out of range");
            return;
        }
        var key = c.Arg(1);
        var value = c.Arg(3);
        var db = c.Db;
        int slot = FindForWrite(c, key);
        byte[] rec;
        if (slot < 0)
        {
            if (value.Length == 0)
            {
                c.Reply.Integer(0);
                return;
            }
            if (!CheckStringLength(c, offset, value.Length, key.Length)) return;
            rec = StringRecord.CreateForKey(key, (int)(offset + value.Length));
            db.Add(rec);
        }
        else
        {
            if (db.ObjectAt(slot) is not byte[] existing)
            {
                c.WrongType();
                return;
            }
            int oldLen = StringRecord.ValueLength(existing);
            if (value.Length == 0)
            {
                c.Reply.Integer(oldLen);
                return;
            }
            if (!CheckStringLength(c, offset, value.Length, key.Length)) return;
            rec = offset + value.Length > oldLen ? StringRecord.GrowValue(existing, (int)(offset + value.Length)) : existing;
            db.ReplaceAt(slot, rec);
        }
        var dest = StringRecord.MutableValue(rec);
        value.CopyTo(dest[(int)offset..]);
        c.Server.SignalModifiedKey(db, key);
        c.Server.Notify(KeyspaceEventClass.String, "setrange", key, db.Id);
        c.Server.Dirty();
        c.Reply.Integer(dest.Length);
    }

    /// <summary>
    /// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: longest common subsequence by the classic
    /// dynamic-programming table, walked back from the end so IDX lists matches last to first.
    /// </summary>
    private static void Lcs(Client c)
    {
        var db = c.Db;
        bool noTouch = (c.Flags & ClientFlags.NoTouch) != 0;
        var objA = db.LookupRead(c.Arg(1), noTouch);
        var objB = db.LookupRead(c.Arg(2), noTouch);
        if ((objA != null && objA is not byte[]) || (objB != null && objB is not byte[]))
        {
            c.Reply.Error("The specified keys must contain string values");
            return;
        }
        var a = objA is byte[] ra ? StringRecord.Value(ra) : ReadOnlySpan<byte>.Empty;
        var b = objB is byte[] rb ? StringRecord.Value(rb) : ReadOnlySpan<byte>.Empty;

        bool getLen = false, getIdx = false, withMatchLen = false;
        long minMatchLen = 0;
        for (int j = 3; j < c.Argc; j++)
        {
            bool moreArgs = j < c.Argc - 1;
            if (c.ArgIs(j, "idx"u8)) getIdx = true;
            else if (c.ArgIs(j, "len"u8)) getLen = true;
            else if (c.ArgIs(j, "withmatchlen"u8)) withMatchLen = true;
            else if (c.ArgIs(j, "minmatchlen"u8) && moreArgs)
            {
                if (!c.TryGetLong(j + 1, out minMatchLen)) return;
                if (minMatchLen < 0) minMatchLen = 0;
                j++;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        if (getLen && getIdx)
        {
            c.Reply.Error("If you want both the length and indexes, please just use IDX.");
            return;
        }

        int alen = a.Length, blen = b.Length;
        long cells = (long)(alen + 1) * (blen + 1);
        if (cells * sizeof(uint) > c.Server.Config.ProtoMaxBulkLen)
        {
            c.Reply.Error("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
            return;
        }
        uint[] table;
        try
        {
            if (cells > Array.MaxLength) throw new OutOfMemoryException();
            table = GC.AllocateUninitializedArray<uint>((int)cells);
        }
        catch (OutOfMemoryException)
        {
            c.Reply.Error("Insufficient memory, failed allocating transient memory for LCS");
            return;
        }

        // table[i * (blen + 1) + j] = LCS length of a[0..i) and b[0..j).
        int w = blen + 1;
        for (int j = 0; j <= blen; j++) table[j] = 0;
        for (int i = 1; i <= alen; i++)
        {
            int row = i * w, prev = row - w;
            table[row] = 0;
            byte ai = a[i - 1];
            for (int j = 1; j <= blen; j++)
            {
                if (ai == b[j - 1]) table[row + j] = table[prev + j - 1] + 1;
                else
                {
                    uint up = table[prev + j], left = table[row + j - 1];
                    table[row + j] = up > left ? up : left;
                }
            }
        }
        uint total = table[alen * w + blen];

        bool computeLcs = getIdx || !getLen;
        byte[]? result = computeLcs ? new byte[total] : null;
        int mark = 0;
        long ranges = 0;
        if (getIdx)
        {
            c.Reply.MapHeader(2);
            c.Reply.Bulk("matches"u8);
            mark = c.Reply.BeginDeferred();
        }

        // Walk back from the end collecting matched characters; consecutive matches on both strings
        // form one range, emitted when it can no longer extend.
        int ii = alen, jj = blen;
        uint idx = total;
        int aStart = -1, aEnd = 0, bStart = 0, bEnd = 0;
        while (computeLcs && ii > 0 && jj > 0)
        {
            bool emit = false;
            if (a[ii - 1] == b[jj - 1])
            {
                result![idx - 1] = a[ii - 1];
                if (aStart < 0)
                {
                    aStart = aEnd = ii - 1;
                    bStart = bEnd = jj - 1;
                }
                else if (aStart == ii && bStart == jj)
                {
                    aStart--;
                    bStart--;
                }
                else emit = true;
                if (aStart == 0 || bStart == 0) emit = true;
                idx--; ii--; jj--;
            }
            else
            {
                uint up = table[(ii - 1) * w + jj], left = table[ii * w + jj - 1];
                if (up > left) ii--;
                else jj--;
                if (aStart >= 0) emit = true;
            }
            if (emit)
            {
                long matchLen = aEnd - aStart + 1;
                if (getIdx && (minMatchLen == 0 || matchLen >= minMatchLen))
                {
                    c.Reply.ArrayHeader(withMatchLen ? 3 : 2);
                    c.Reply.ArrayHeader(2);
                    c.Reply.Integer(aStart);
                    c.Reply.Integer(aEnd);
                    c.Reply.ArrayHeader(2);
                    c.Reply.Integer(bStart);
                    c.Reply.Integer(bEnd);
                    if (withMatchLen) c.Reply.Integer(matchLen);
                    ranges++;
                }
                aStart = -1;
            }
        }

        if (getIdx)
        {
            c.Reply.EndDeferred(mark, ranges);
            c.Reply.Bulk("len"u8);
            c.Reply.Integer(total);
        }
        else if (getLen) c.Reply.Integer(total);
        else c.Reply.Bulk(result);
    }
}
