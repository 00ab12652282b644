using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>ZPOPMIN, ZPOPMAX, ZMPOP, ZRANDMEMBER and ZSCAN.</summary>
public static partial class SortedSetCommands
{
    private static void BindPops(CommandTable t)
    {
        t.Bind("zpopmin", c => PopMinMax(c, max: false));
        t.Bind("zpopmax", c => PopMinMax(c, max: true));
        t.Bind("zmpop", ZMPop);
        t.Bind("zrandmember", ZRandMember);
        t.Bind("zscan", ZScan);
    }

    /// <summary>ZPOPMIN/ZPOPMAX key [count].</summary>
    private static void PopMinMax(Client c, bool max)
    {
        if (c.Argc > 3)
        {
            c.SyntaxError();
            return;
        }
        long count = -1;
        if (c.Argc == 3 && !TryGetRangeLong(c, 2, 0, long.MaxValue, "value is out of range, must be positive", out count)) return;
        // A single pop is a flat pair; with a count RESP3 nests each pair.
        bool nested = c.Reply.IsResp3 && count != -1;
        PopGeneric(c, 1, 1, max, emitKey: false, count, nested, nullWhenEmpty: false);
    }

    /// <summary>ZMPOP numkeys key [key ...] MIN|MAX [COUNT count].</summary>
    private static void ZMPop(Client c) => MPopGeneric(c, numKeysIdx: 1, blocking: false);

    /// <summary>
    /// ZMPOP and BZMPOP (whose numkeys follows the timeout): parses the keys, the end and the count,
    /// then pops or, for BZMPOP, pops or blocks.
    /// </summary>
    private static void MPopGeneric(Client c, int numKeysIdx, bool blocking)
    {
        if (!TryGetRangeLong(c, numKeysIdx, 1, long.MaxValue, "numkeys should be greater than 0", out long numKeys)) return;
        long whereIdx = numKeysIdx + 1 + numKeys;
        if (numKeys > c.Argc || whereIdx >= c.Argc)
        {
            c.SyntaxError();
            return;
        }
        bool max;
        if (c.ArgIs((int)whereIdx, "min"u8)) max = false;
        else if (c.ArgIs((int)whereIdx, "max"u8)) max = true;
        else
        {
            c.SyntaxError();
            return;
        }
        long count = -1;
        for (int j = (int)whereIdx + 1; j < c.Argc; j++)
        {
            bool moreArgs = c.Argc - 1 - j > 0;
            if (count == -1 && c.ArgIs(j, "count"u8) && moreArgs)
            {
                j++;
                if (!TryGetRangeLong(c, j, 1, long.MaxValue, "count should be greater than 0", out count)) return;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        if (count == -1) count = 1;
        if (blocking) BlockingPop(c, numKeysIdx + 1, (int)numKeys, max, timeoutIdx: 1, count, nested: true);
        else PopGeneric(c, numKeysIdx + 1, (int)numKeys, max, emitKey: true, count, nested: true, nullWhenEmpty: true);
    }

    /// <summary>
    /// Redis's genericZpopCommand over the keys at arguments [<paramref name="firstKey"/>, +<paramref name="keyCount"/>):
    /// pops from the first non-empty one. <paramref name="count"/> is -1 for a plain single pop.
    /// <paramref name="emitKey"/> with flat pairs is the BZPOPMIN/BZPOPMAX reply shape, with nested
    /// pairs the ZMPOP/BZMPOP one, so the blocking commands can serve a ready key through here.
    /// </summary>
    internal static void PopGeneric(Client c, int firstKey, int keyCount, bool max, bool emitKey, long count, bool nested, bool nullWhenEmpty)
    {
        SortedSetObject? z = null;
        int keyIdx = -1;
        for (int i = 0; i < keyCount; i++)
        {
            if (!TryWrite(c, c.Arg(firstKey + i), out z, out _)) return;
            if (z != null)
            {
                keyIdx = firstKey + i;
                break;
            }
        }
        if (z is null)
        {
            if (nullWhenEmpty) c.Reply.NullArray();
            else c.Reply.EmptyArray();
            return;
        }
        if (count == 0)
        {
            c.Reply.EmptyArray();
            return;
        }
        PopFrom(c, c.Arg(keyIdx), z, max, emitKey, count, nested);
    }

    /// <summary>
    /// Pops up to <paramref name="count"/> (-1: one) elements of the non-empty <paramref name="z"/> stored at
    /// <paramref name="key"/> and replies in the shape <see cref="PopGeneric"/> describes, deleting the key
    /// once empty.
    /// </summary>
    internal static void PopFrom(Client c, ReadOnlySpan<byte> key, SortedSetObject z, bool max, bool emitKey, long count, bool nested)
    {
        if (count == -1) count = 1;
        var db = c.Db;
        long n = Math.Min(count, z.Count);
        // ZMPOP (and a served blocking pop) propagates as ZPOPMIN/ZPOPMAX of the key it popped from.
        if (emitKey && c.Propagating)
        {
            var name = max ? "ZPOPMAX"u8.ToArray() : "ZPOPMIN"u8.ToArray();
            c.PropagateAs(nested || c.Cmd?.Name is "zmpop" or "bzmpop" ? [name, key.ToArray(), StringCommands.Num(n)] : [name, key.ToArray()]);
        }
        if (!nested && !emitKey) c.Reply.ArrayHeader(n * 2);
        else if (nested && !emitKey) c.Reply.ArrayHeader(n);
        else if (!nested) // BZPOPMIN/BZPOPMAX shape
        {
            c.Reply.ArrayHeader(n * 2 + 1);
            c.Reply.Bulk(key);
        }
        else
        {
            c.Reply.ArrayHeader(2);
            c.Reply.Bulk(key);
            c.Reply.ArrayHeader(n);
        }
        for (long i = 0; i < n; i++)
        {
            int pos = max ? z.Last() : z.First();
            var member = z.EntryAt(pos, out double score);
            if (nested) c.Reply.ArrayHeader(2);
            c.Reply.Bulk(member);
            ReplyScore(c, score);
            z.RemoveAt(pos);
            c.Server.Dirty();
            if (i == 0)
            {
                c.Server.Notify(KeyspaceEventClass.ZSet, max ? "zpopmax" : "zpopmin", key, db.Id);
                c.Server.SignalModifiedKey(db, key);
            }
        }
        if (z.Count == 0)
        {
            db.Delete(key);
            c.Server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
        }
    }

    /// <summary>ZRANDMEMBER key [count [WITHSCORES]].</summary>
    private static void ZRandMember(Client c)
    {
        if (c.Argc >= 3)
        {
            if (!TryGetRangeLong(c, 2, -long.MaxValue, long.MaxValue, null, out long l)) return;
            bool withScores = false;
            if (c.Argc > 4 || (c.Argc == 4 && !c.ArgIs(3, "withscores"u8)))
            {
                c.SyntaxError();
                return;
            }
            if (c.Argc == 4)
            {
                withScores = true;
                if (l < -long.MaxValue / 2 || l > long.MaxValue / 2)
                {
                    c.Reply.Error("value is out of range");
                    return;
                }
            }
            RandMemberWithCount(c, l, withScores);
            return;
        }
        if (!TryRead(c, c.Arg(1), out var z)) return;
        if (z is null)
        {
            c.Reply.Null();
            return;
        }
        c.Reply.Bulk(z.MemberAt(z.RandomPosition(c.Server.Rng)));
    }

    /// <summary>How much larger than the request a set must be before picking at random beats removing at random.</summary>
    private const int RandSubStrategyMul = 3;

    private static void ReplyRandomEntry(Client c, SortedSetObject z, int pos, bool withScores)
    {
        var member = z.EntryAt(pos, out double score);
        if (withScores && c.Reply.IsResp3) c.Reply.ArrayHeader(2);
        c.Reply.Bulk(member);
        if (withScores) ReplyScore(c, score);
    }

    private static void RandMemberWithCount(Client c, long l, bool withScores)
    {
        if (!TryRead(c, c.Arg(1), out var z)) return;
        if (z is null)
        {
            c.Reply.EmptyArray();
            return;
        }
        long size = z.Count;
        bool unique = l >= 0;
        ulong count = unique ? (ulong)l : (ulong)(-l);
        if (count == 0)
        {
            c.Reply.EmptyArray();
            return;
        }
        bool flatPairs = withScores && !c.Reply.IsResp3;
        var rng = c.Server.Rng;

        // Repeats allowed (negative count), or a single element: independent uniform picks.
        if (!unique || count == 1)
        {
            c.Reply.ArrayHeader(flatPairs ? (long)count * 2 : (long)count);
            for (ulong i = 0; i < count; i++) ReplyRandomEntry(c, z, z.RandomPosition(rng), withScores);
            return;
        }

        long replySize = (long)Math.Min(count, (ulong)size);
        c.Reply.ArrayHeader(flatPairs ? replySize * 2 : replySize);

        // Asking for the whole set: all of it, walked from the tail as Redis does.
        if (count >= (ulong)size)
        {
            for (int p = z.Last(); p >= 0; p = z.Prev(p)) ReplyRandomEntry(c, z, p, withScores);
            return;
        }

        // Most of the set: start from every element and drop random ones until count remain.
        if (count * RandSubStrategyMul > (ulong)size)
        {
            var positions = new int[size];
            int k = 0;
            for (int p = z.First(); p >= 0; p = z.Next(p)) positions[k++] = p;
            long remaining = size;
            while ((ulong)remaining > count)
            {
                int victim = rng.Next((int)remaining);
                positions[victim] = positions[--remaining];
            }
            for (int i = 0; i < remaining; i++) ReplyRandomEntry(c, z, positions[i], withScores);
            return;
        }

        // A small sample of a large set.
        if (z.IsListpack)
        {
            // Selection sampling in one pass: each element is kept with probability needed/left.
            long needed = (long)count, left = size;
            for (int p = z.First(); p >= 0 && needed > 0; p = z.Next(p), left--)
            {
                if (rng.NextInt64(left) < needed)
                {
                    ReplyRandomEntry(c, z, p, withScores);
                    needed--;
                }
            }
            return;
        }
        var picked = new HashSet<int>();
        while ((ulong)picked.Count < count)
        {
            int p = z.RandomPosition(rng);
            if (picked.Add(p)) ReplyRandomEntry(c, z, p, withScores);
        }
    }

    /// <summary>
    /// ZSCAN key cursor [MATCH pattern] [COUNT count]. A listpack is returned whole with cursor 0 (its
    /// scores printed as Redis's listpack stores them). A skiplist is walked by node slot: a node keeps
    /// its slot while its member is in the set, so every element present throughout a scan is returned.
    /// </summary>
    private static void ZScan(Client c)
    {
        if (!KeyspaceCommands.TryParseScanCursor(c, 2, out ulong cursor)) return;
        if (!TryRead(c, c.Arg(1), out var z)) return;
        if (z is null)
        {
            c.Reply.Raw("*2\r\n$1\r\n0\r\n*0\r\n"u8);
            return;
        }
        if (!KeyspaceCommands.TryParseScanOptions(c, 3, allowType: false, out var options)) return;

        var found = c.Server.ZSetScanScratch;
        found.Clear();
        Span<byte> num = stackalloc byte[32];
        if (z.IsListpack)
        {
            for (int p = z.First(); p >= 0; p = z.Next(p))
                if (options.Matches(c, z.MemberAt(p))) found.Add(p);
            KeyspaceCommands.ReplyScanCursor(c, 0);
            c.Reply.ArrayHeader(found.Count * 2L);
            foreach (int p in found)
            {
                var member = z.EntryAt(p, out double score);
                c.Reply.Bulk(member);
                int len = NumberFormat.WriteD2String(num, score);
                c.Reply.Bulk(num[..len]);
            }
            found.Clear();
            return;
        }

        var sl = z.SkipList!;
        long slot = cursor == 0 ? 1 : (long)Math.Min(cursor, (ulong)int.MaxValue);
        long limit = sl.SlotLimit;
        long maxVisits = options.Count > long.MaxValue / 10 ? long.MaxValue : options.Count * 10;
        long collected = 0;
        while (slot < limit && collected < options.Count && maxVisits-- > 0)
        {
            int s = (int)slot++;
            if (!sl.IsLive(s)) continue;
            collected++;
            if (options.Matches(c, sl.MemberAt(s))) found.Add(s);
        }
        KeyspaceCommands.ReplyScanCursor(c, slot >= limit ? 0 : (ulong)slot);
        c.Reply.ArrayHeader(found.Count * 2L);
        foreach (int s in found)
        {
            c.Reply.Bulk(sl.MemberAt(s));
            int len = NumberFormat.WriteG17(num, sl.ScoreAt(s));
            c.Reply.Bulk(num[..len]);
        }
        found.Clear();
    }
}
