using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// ZRANGE in all its forms (by rank, score or lex, forward or reverse, with LIMIT and WITHSCORES), the
/// older ZRANGEBYSCORE/ZREVRANGE... commands, ZRANGESTORE, and ZREMRANGEBYRANK/SCORE/LEX.
/// </summary>
public static partial class SortedSetCommands
{
    private static void BindRanges(CommandTable t)
    {
        t.Bind("zrange", c => RangeGeneric(c, 1, store: false, RangeKind.Auto, Direction.Auto));
        t.Bind("zrangestore", c => RangeGeneric(c, 2, store: true, RangeKind.Auto, Direction.Auto));
        t.Bind("zrevrange", c => RangeGeneric(c, 1, store: false, RangeKind.Rank, Direction.Reverse));
        t.Bind("zrangebyscore", c => RangeGeneric(c, 1, store: false, RangeKind.Score, Direction.Forward));
        t.Bind("zrevrangebyscore", c => RangeGeneric(c, 1, store: false, RangeKind.Score, Direction.Reverse));
        t.Bind("zrangebylex", c => RangeGeneric(c, 1, store: false, RangeKind.Lex, Direction.Forward));
        t.Bind("zrevrangebylex", c => RangeGeneric(c, 1, store: false, RangeKind.Lex, Direction.Reverse));
        t.Bind("zremrangebyrank", c => RemoveRange(c, RangeKind.Rank));
        t.Bind("zremrangebyscore", c => RemoveRange(c, RangeKind.Score));
        t.Bind("zremrangebylex", c => RemoveRange(c, RangeKind.Lex));
    }

    private enum RangeKind { Auto, Rank, Score, Lex }
    private enum Direction { Auto, Forward, Reverse }

    /// <summary>
    /// Where a range goes: to the client (array, flat with scores in RESP2, [member, score] pairs in
    /// RESP3) or, for ZRANGESTORE, into a new sorted set stored at the destination.
    /// </summary>
    private struct RangeSink
    {
        private readonly Client _c;
        private readonly bool _store;
        private readonly bool _withScores;
        private int _deferredMark;
        private SortedSetObject? _dst;
        private ZSetLimits _limits;

        public RangeSink(Client c, bool store, bool withScores)
        {
            _c = c;
            _store = store;
            _withScores = withScores || store;
            _deferredMark = -1;
        }

        /// <summary>Starts the result; <paramref name="length"/> is its size when known in advance, else -1.</summary>
        public void Begin(long length)
        {
            if (_store)
            {
                _limits = _c.Server.ZSetLimits;
                // With the size unknown (-1) a listpack is started; ZADD's rules convert it if it grows.
                _dst = new SortedSetObject(_c.Arg(1).ToArray(), length <= _limits.MaxEntries, (int)Math.Clamp(length, 0, 1024));
                return;
            }
            if (length > 0)
            {
                _c.Reply.ArrayHeader(_withScores && !_c.Reply.IsResp3 ? length * 2 : length);
                return;
            }
            _deferredMark = _c.Reply.BeginDeferred();
        }

        public void Emit(ReadOnlySpan<byte> member, double score)
        {
            if (_store)
            {
                _dst!.Add(score, member, ZAddFlags.None, _limits, out _);
                return;
            }
            if (_withScores && _c.Reply.IsResp3) _c.Reply.ArrayHeader(2);
            _c.Reply.Bulk(member);
            if (_withScores) ReplyScore(_c, score);
        }

        public void Finish(long count)
        {
            if (_store)
            {
                var dstKey = _c.Arg(1);
                if (count > 0)
                {
                    StoreResult(_c, dstKey, _dst!);
                    _c.Reply.Integer(count);
                    _c.Server.Notify(KeyspaceEventClass.ZSet, "zrangestore", dstKey, _c.Db.Id);
                    _c.Server.Dirty();
                }
                else
                {
                    _c.Reply.Integer(0);
                    DeleteDestination(_c, dstKey);
                }
                return;
            }
            if (_deferredMark >= 0) _c.Reply.EndDeferred(_deferredMark, _withScores && !_c.Reply.IsResp3 ? count * 2 : count);
        }
    }

    /// <summary>
    /// Redis's zrangeGenericCommand: &lt;src&gt; &lt;min&gt; &lt;max&gt; [BYSCORE|BYLEX] [REV] [WITHSCORES] [LIMIT offset count]
    /// starting at argument <paramref name="srcIdx"/>. The older commands fix the kind and direction.
    /// </summary>
    private static void RangeGeneric(Client c, int srcIdx, bool store, RangeKind kind, Direction direction)
    {
        int minIdx = srcIdx + 1, maxIdx = srcIdx + 2;
        bool withScores = false;
        long offset = 0, limit = -1;
        for (int j = srcIdx + 3; j < c.Argc; j++)
        {
            int left = c.Argc - j - 1;
            if (!store && c.ArgIs(j, "withscores"u8)) withScores = true;
            else if (c.ArgIs(j, "limit"u8) && left >= 2)
            {
                if (!c.TryGetLong(j + 1, out offset) || !c.TryGetLong(j + 2, out limit)) return;
                j += 2;
            }
            else if (direction == Direction.Auto && c.ArgIs(j, "rev"u8)) direction = Direction.Reverse;
            else if (kind == RangeKind.Auto && c.ArgIs(j, "bylex"u8)) kind = RangeKind.Lex;
            else if (kind == RangeKind.Auto && c.ArgIs(j, "byscore"u8)) kind = RangeKind.Score;
            else
            {
                c.SyntaxError();
                return;
            }
        }
        if (direction == Direction.Auto) direction = Direction.Forward;
        if (kind == RangeKind.Auto) kind = RangeKind.Rank;
        if (limit != -1 && kind == RangeKind.Rank)
        {
            c.Reply.Error("syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
            return;
        }
        if (withScores && kind == RangeKind.Lex)
        {
            c.Reply.Error("syntax error, WITHSCORES not supported in combination with BYLEX");
            return;
        }
        bool reverse = direction == Direction.Reverse;
        // Reversed score and lex ranges are written max first.
        if (reverse && kind != RangeKind.Rank) (minIdx, maxIdx) = (maxIdx, minIdx);

        long start = 0, end = 0;
        ScoreRange scoreRange = default;
        LexRange lexRange = default;
        switch (kind)
        {
            case RangeKind.Rank:
                if (!c.TryGetLong(minIdx, out start) || !c.TryGetLong(maxIdx, out end)) return;
                break;
            case RangeKind.Score:
                if (!ScoreRange.TryParse(c.Arg(minIdx), c.Arg(maxIdx), out scoreRange))
                {
                    c.Reply.Error(NotAFloat);
                    return;
                }
                break;
            default:
                if (!LexRange.TryParse(c.Arg(minIdx), c.Arg(maxIdx), out lexRange))
                {
                    c.Reply.Error(NotALexRange);
                    return;
                }
                break;
        }

        var obj = c.Db.LookupRead(c.Arg(srcIdx), (c.Flags & ClientFlags.NoTouch) != 0);
        var sink = new RangeSink(c, store, withScores);
        if (obj is null)
        {
            if (store)
            {
                sink.Begin(-1);
                sink.Finish(0);
            }
            else c.Reply.EmptyArray();
            return;
        }
        if (obj is not SortedSetObject z)
        {
            c.WrongType();
            return;
        }
        switch (kind)
        {
            case RangeKind.Rank: RangeByRank(ref sink, z, start, end, reverse); break;
            case RangeKind.Score: RangeByScore(ref sink, z, scoreRange, offset, limit, reverse); break;
            default: RangeByLex(ref sink, z, lexRange, offset, limit, reverse); break;
        }
    }

    private static void RangeByRank(ref RangeSink sink, SortedSetObject z, long start, long end, bool reverse)
    {
        long len = z.Count;
        if (start < 0) start = len + start;
        if (end < 0) end = len + end;
        if (start < 0) start = 0;
        if (start > end || start >= len)
        {
            sink.Begin(0);
            sink.Finish(0);
            return;
        }
        if (end >= len) end = len - 1;
        long n = end - start + 1;
        sink.Begin(n);
        int pos = z.AtRank(start, reverse);
        for (long i = 0; i < n; i++)
        {
            var member = z.EntryAt(pos, out double score);
            sink.Emit(member, score);
            pos = z.Step(pos, reverse);
        }
        sink.Finish(n);
    }

    private static void RangeByScore(ref RangeSink sink, SortedSetObject z, in ScoreRange range, long offset, long limit, bool reverse)
    {
        sink.Begin(-1);
        if (offset > 0 && offset >= z.Count)
        {
            sink.Finish(0);
            return;
        }
        int pos = reverse ? z.LastInRange(range) : z.FirstInRange(range);
        // A negative offset walks off the end: the result is empty, as in Redis.
        while (pos >= 0 && offset-- != 0) pos = z.Step(pos, reverse);
        long n = 0;
        while (pos >= 0 && limit-- != 0)
        {
            var member = z.EntryAt(pos, out double score);
            if (reverse ? !range.GteMin(score) : !range.LteMax(score)) break;
            sink.Emit(member, score);
            n++;
            pos = z.Step(pos, reverse);
        }
        sink.Finish(n);
    }

    private static void RangeByLex(ref RangeSink sink, SortedSetObject z, in LexRange range, long offset, long limit, bool reverse)
    {
        sink.Begin(-1);
        int pos = reverse ? z.LastInLexRange(range) : z.FirstInLexRange(range);
        while (pos >= 0 && offset-- != 0) pos = z.Step(pos, reverse);
        long n = 0;
        while (pos >= 0 && limit-- != 0)
        {
            var member = z.EntryAt(pos, out double score);
            if (reverse ? !range.GteMin(member) : !range.LteMax(member)) break;
            sink.Emit(member, score);
            n++;
            pos = z.Step(pos, reverse);
        }
        sink.Finish(n);
    }

    /// <summary>ZREMRANGEBYRANK key start stop / ZREMRANGEBYSCORE key min max / ZREMRANGEBYLEX key min max.</summary>
    private static void RemoveRange(Client c, RangeKind kind)
    {
        long start = 0, end = 0;
        ScoreRange scoreRange = default;
        LexRange lexRange = default;
        string evt;
        switch (kind)
        {
            case RangeKind.Rank:
                evt = "zremrangebyrank";
                if (!c.TryGetLong(2, out start) || !c.TryGetLong(3, out end)) return;
                break;
            case RangeKind.Score:
                evt = "zremrangebyscore";
                if (!ScoreRange.TryParse(c.Arg(2), c.Arg(3), out scoreRange))
                {
                    c.Reply.Error(NotAFloat);
                    return;
                }
                break;
            default:
                evt = "zremrangebylex";
                if (!LexRange.TryParse(c.Arg(2), c.Arg(3), out lexRange))
                {
                    c.Reply.Error(NotALexRange);
                    return;
                }
                break;
        }

        var key = c.Arg(1);
        var db = c.Db;
        if (!TryWrite(c, key, out var z, out _)) return;
        if (z is null)
        {
            c.Reply.Integer(0);
            return;
        }
        if (kind == RangeKind.Rank)
        {
            long len = z.Count;
            if (start < 0) start = len + start;
            if (end < 0) end = len + end;
            if (start < 0) start = 0;
            if (start > end || start >= len)
            {
                c.Reply.Integer(0);
                return;
            }
            if (end >= len) end = len - 1;
        }
        long deleted = kind switch
        {
            RangeKind.Rank => z.RemoveRangeByRank(start, end),
            RangeKind.Score => z.RemoveRangeByScore(scoreRange),
            _ => z.RemoveRangeByLex(lexRange),
        };
        DeleteIfEmpty(c, z, key, out bool keyRemoved);
        if (deleted > 0)
        {
            c.Server.SignalModifiedKey(db, key);
            c.Server.Notify(KeyspaceEventClass.ZSet, evt, key, db.Id);
            if (keyRemoved) c.Server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
        }
        c.Server.Dirty(deleted);
        c.Reply.Integer(deleted);
    }
}
