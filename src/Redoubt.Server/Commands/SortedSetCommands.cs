using System.Globalization;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// The sorted set family (t_zset): ZADD and single-element commands here; ranges, set operations and
/// pops/random/scan in the partial files. BZPOPMIN/BZPOPMAX/BZMPOP are bound by the blocking area.
/// </summary>
public static partial class SortedSetCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("zadd", ZAdd);
        t.Bind("zincrby", ZIncrBy);
        t.Bind("zrem", ZRem);
        t.Bind("zcard", ZCard);
        t.Bind("zscore", ZScore);
        t.Bind("zmscore", ZMScore);
        t.Bind("zrank", ZRank);
        t.Bind("zrevrank", ZRevRank);
        t.Bind("zcount", ZCount);
        t.Bind("zlexcount", ZLexCount);
        BindRanges(t);
        BindSetOperations(t);
        BindPops(t);
        BindBlocking(t);
    }

    private const string NotAFloat = "min or max is not a float";
    private const string NotALexRange = "min or max not valid string range item";

    // ---- lookups -------------------------------------------------------------------

    /// <summary>
    /// Redis's lookupKeyRead + checkType: false after a WRONGTYPE reply; <paramref name="z"/> is null
    /// when the key does not exist.
    /// </summary>
    internal static bool TryRead(Client c, ReadOnlySpan<byte> key, out SortedSetObject? z)
    {
        var obj = c.Db.LookupRead(key, (c.Flags & ClientFlags.NoTouch) != 0);
        z = obj as SortedSetObject;
        if (obj is null || z != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>Redis's lookupKeyWrite + checkType; <paramref name="slot"/> is the key's slot or -1.</summary>
    internal static bool TryWrite(Client c, ReadOnlySpan<byte> key, out SortedSetObject? z, out int slot)
    {
        slot = c.Db.FindForWrite(key);
        z = null;
        if (slot < 0) return true;
        var obj = c.Db.ObjectAt(slot);
        z = obj as SortedSetObject;
        if (z != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>
    /// Redis's setKey for a computed sorted set (the STORE commands): replaces whatever the key held,
    /// drops its TTL and signals the change.
    /// </summary>
    internal static void StoreResult(Client c, ReadOnlySpan<byte> key, SortedSetObject value)
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

    /// <summary>An empty STORE result: deletes the destination if it existed, with "del" and a dirty count.</summary>
    internal static void DeleteDestination(Client c, ReadOnlySpan<byte> key)
    {
        var db = c.Db;
        if (!db.Delete(key)) return;
        c.Server.SignalModifiedKey(db, key);
        c.Server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
        c.Server.Dirty();
    }

    /// <summary>Deletes a sorted set that became empty (Redis never keeps an empty one).</summary>
    private static void DeleteIfEmpty(Client c, SortedSetObject z, ReadOnlySpan<byte> key, out bool removed)
    {
        removed = z.Count == 0;
        if (removed) c.Db.Delete(key);
    }

    // ---- replies -------------------------------------------------------------------

    /// <summary>
    /// A score as Redis 7.0's addReplyDouble writes it: "%.17g" as a bulk string in RESP2, a RESP3
    /// double otherwise; formatted on the stack.
    /// </summary>
    internal static void ReplyScore(Client c, double d)
    {
        Span<byte> buf = stackalloc byte[32];
        int n = NumberFormat.WriteG17(buf, d);
        if (c.Reply.IsResp3)
        {
            c.Reply.Raw(","u8);
            c.Reply.Raw(buf[..n]);
            c.Reply.Raw("\r\n"u8);
        }
        else c.Reply.Bulk(buf[..n]);
    }

    // ---- ZADD / ZINCRBY --------------------------------------------------------------

    private static void ZAdd(Client c) => ZAddGeneric(c, ZAddFlags.None);

    private static void ZIncrBy(Client c) => ZAddGeneric(c, ZAddFlags.Incr);

    /// <summary>
    /// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...], and ZINCRBY (INCR implied).
    /// Every score is validated before anything changes, so the command applies fully or not at all.
    /// </summary>
    private static void ZAddGeneric(Client c, ZAddFlags flags)
    {
        bool ch = false;
        int scoreIdx = 2;
        for (; scoreIdx < c.Argc; scoreIdx++)
        {
            if (c.ArgIs(scoreIdx, "nx"u8)) flags |= ZAddFlags.NX;
            else if (c.ArgIs(scoreIdx, "xx"u8)) flags |= ZAddFlags.XX;
            else if (c.ArgIs(scoreIdx, "ch"u8)) ch = true;
            else if (c.ArgIs(scoreIdx, "incr"u8)) flags |= ZAddFlags.Incr;
            else if (c.ArgIs(scoreIdx, "gt"u8)) flags |= ZAddFlags.GT;
            else if (c.ArgIs(scoreIdx, "lt"u8)) flags |= ZAddFlags.LT;
            else break;
        }
        bool incr = (flags & ZAddFlags.Incr) != 0, nx = (flags & ZAddFlags.NX) != 0, xx = (flags & ZAddFlags.XX) != 0;
        bool gt = (flags & ZAddFlags.GT) != 0, lt = (flags & ZAddFlags.LT) != 0;

        int elements = c.Argc - scoreIdx;
        if (elements % 2 != 0 || elements == 0)
        {
            c.SyntaxError();
            return;
        }
        elements /= 2;
        if (nx && xx)
        {
            c.Reply.Error("XX and NX options at the same time are not compatible");
            return;
        }
        if ((gt && nx) || (lt && nx) || (gt && lt))
        {
            c.Reply.Error("GT, LT, and/or NX options at the same time are not compatible");
            return;
        }
        if (incr && elements > 1)
        {
            c.Reply.Error("INCR option supports a single increment-element pair");
            return;
        }
        for (int j = 0; j < elements; j++)
        {
            if (!CStrtod.TryParseWhole(c.Arg(scoreIdx + j * 2), out _))
            {
                c.Reply.Error("value is not a valid float");
                return;
            }
        }

        ZAddElements(c, flags, ch, elements, scoreIdx + 1, 2, default);
    }

    /// <summary>
    /// The update half of ZADD, shared with GEOADD: adds <paramref name="elements"/> members, the j-th
    /// at argument <paramref name="firstMember"/> + j * <paramref name="stride"/>, with its score taken
    /// from <paramref name="scores"/> or, when that is empty, parsed from the argument just before the
    /// member (already validated). Replies, signals, notifies "zadd"/"zincr" and counts dirty.
    /// </summary>
    internal static void ZAddElements(Client c, ZAddFlags flags, bool ch, int elements, int firstMember, int stride, ReadOnlySpan<double> scores)
    {
        bool incr = (flags & ZAddFlags.Incr) != 0, xx = (flags & ZAddFlags.XX) != 0;
        var key = c.Arg(1);
        var db = c.Db;
        if (!TryWrite(c, key, out var z, out _)) return;
        int added = 0, updated = 0, processed = 0;
        double score = 0;
        bool failed = false;
        if (z is null && !xx)
        {
            var limits = c.Server.ZSetLimits;
            bool listpack = limits.MaxEntries != 0 && limits.MaxValue >= c.Arg(firstMember).Length;
            z = new SortedSetObject(key.ToArray(), listpack, elements);
            db.Add(z);
        }
        if (z != null)
        {
            // Only a listpack consults the limits; a skiplist never converts back.
            var limits = z.IsListpack ? c.Server.ZSetLimits : ZSetLimits.Default;
            for (int j = 0; j < elements; j++)
            {
                int memberIdx = firstMember + j * stride;
                double s;
                if (scores.IsEmpty) CStrtod.TryParseWhole(c.Arg(memberIdx - 1), out s);
                else s = scores[j];
                var result = z.Add(s, c.Arg(memberIdx), flags, limits, out double newScore);
                if ((result & ZAddResult.Nan) != 0)
                {
                    c.Reply.Error("resulting score is not a number (NaN)");
                    failed = true;
                    break;
                }
                if ((result & ZAddResult.Added) != 0) added++;
                if ((result & ZAddResult.Updated) != 0) updated++;
                if ((result & ZAddResult.Nop) == 0) processed++;
                score = newScore;
            }
        }
        if (!failed)
        {
            c.Server.Dirty(added + updated);
            if (incr)
            {
                if (processed > 0) ReplyScore(c, score);
                else c.Reply.Null();
            }
            else c.Reply.Integer(ch ? added + updated : added);
        }
        if (added + updated > 0)
        {
            c.Server.SignalModifiedKey(db, key);
            c.Server.Notify(KeyspaceEventClass.ZSet, incr ? "zincr" : "zadd", key, db.Id);
        }
    }

    /// <summary>ZREM key member [member ...]: stops early once the set is empty (and deleted).</summary>
    private static void ZRem(Client c)
    {
        var key = c.Arg(1);
        var db = c.Db;
        if (!TryWrite(c, key, out var z, out _)) return;
        if (z is null)
        {
            c.Reply.Integer(0);
            return;
        }
        int deleted = 0;
        bool keyRemoved = false;
        for (int j = 2; j < c.Argc; j++)
        {
            if (z.Remove(c.Arg(j))) deleted++;
            DeleteIfEmpty(c, z, key, out keyRemoved);
            if (keyRemoved) break;
        }
        if (deleted > 0)
        {
            c.Server.Notify(KeyspaceEventClass.ZSet, "zrem", key, db.Id);
            if (keyRemoved) c.Server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
            c.Server.SignalModifiedKey(db, key);
            c.Server.Dirty(deleted);
        }
        c.Reply.Integer(deleted);
    }

    private static void ZCard(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var z)) return;
        c.Reply.Integer(z?.Count ?? 0);
    }

    private static void ZScore(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var z)) return;
        if (z != null && z.TryGetScore(c.Arg(2), out double score)) ReplyScore(c, score);
        else c.Reply.Null();
    }

    /// <summary>ZMSCORE key member...: a missing key reads as an empty set.</summary>
    private static void ZMScore(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var z)) return;
        c.Reply.ArrayHeader(c.Argc - 2);
        for (int j = 2; j < c.Argc; j++)
        {
            if (z != null && z.TryGetScore(c.Arg(j), out double score)) ReplyScore(c, score);
            else c.Reply.Null();
        }
    }

    private static void ZRank(Client c) => RankGeneric(c, reverse: false);

    private static void ZRevRank(Client c) => RankGeneric(c, reverse: true);

    private static void RankGeneric(Client c, bool reverse)
    {
        if (!TryRead(c, c.Arg(1), out var z)) return;
        long rank = z?.Rank(c.Arg(2), reverse) ?? -1;
        if (rank >= 0) c.Reply.Integer(rank);
        else c.Reply.Null();
    }

    /// <summary>ZCOUNT key min max.</summary>
    private static void ZCount(Client c)
    {
        if (!ScoreRange.TryParse(c.Arg(2), c.Arg(3), out var range))
        {
            c.Reply.Error(NotAFloat);
            return;
        }
        if (!TryRead(c, c.Arg(1), out var z)) return;
        long count = 0;
        int first = z?.FirstInRange(range) ?? -1;
        if (first >= 0)
        {
            if (z!.IsListpack)
            {
                for (int p = first; p >= 0 && range.LteMax(z.ScoreAt(p)); p = z.Next(p)) count++;
            }
            else
            {
                // Rank arithmetic between the first and last element in range: O(log n).
                count = z.Count - (RankAt(z, first) - 1);
                int last = z.LastInRange(range);
                if (last >= 0) count -= z.Count - RankAt(z, last);
            }
        }
        c.Reply.Integer(count);
    }

    /// <summary>ZLEXCOUNT key min max.</summary>
    private static void ZLexCount(Client c)
    {
        if (!LexRange.TryParse(c.Arg(2), c.Arg(3), out var range))
        {
            c.Reply.Error(NotALexRange);
            return;
        }
        if (!TryRead(c, c.Arg(1), out var z)) return;
        long count = 0;
        int first = z?.FirstInLexRange(range) ?? -1;
        if (first >= 0)
        {
            if (z!.IsListpack)
            {
                for (int p = first; p >= 0 && range.LteMax(z.MemberAt(p)); p = z.Next(p)) count++;
            }
            else
            {
                count = z.Count - (RankAt(z, first) - 1);
                int last = z.LastInLexRange(range);
                if (last >= 0) count -= z.Count - RankAt(z, last);
            }
        }
        c.Reply.Integer(count);
    }

    /// <summary>1-based rank of the skiplist element at <paramref name="pos"/>.</summary>
    private static long RankAt(SortedSetObject z, int pos) => z.SkipList!.GetRank(z.ScoreAt(pos), z.MemberAt(pos));

    /// <summary>Redis's getRangeLongFromObjectOrReply: <paramref name="message"/> (when given) replaces both errors.</summary>
    internal static bool TryGetRangeLong(Client c, int i, long min, long max, string? message, out long value)
    {
        if (!NumberParser.TryParseInt64(c.Arg(i), out value))
        {
            c.Reply.Error(message ?? "value is not an integer or out of range");
            return false;
        }
        if (value < min || value > max)
        {
            c.Reply.Error(message ?? $"value is out of range, value must between {min} and {max}");
            return false;
        }
        return true;
    }
}
