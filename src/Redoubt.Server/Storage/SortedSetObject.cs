namespace Redoubt.Server.Storage;

/// <summary>ZADD's input options (Redis's ZADD_IN_*).</summary>
[Flags]
public enum ZAddFlags { None = 0, Incr = 1, NX = 2, XX = 4, GT = 8, LT = 16 }

/// <summary>What one ZADD element did (Redis's ZADD_OUT_*).</summary>
[Flags]
public enum ZAddResult { None = 0, Nan = 1, Added = 2, Updated = 4, Nop = 8 }

/// <summary>zset-max-listpack-entries / zset-max-listpack-value: when the compact encoding gives way.</summary>
public readonly record struct ZSetLimits(long MaxEntries, long MaxValue)
{
    /// <summary>Redis's defaults.</summary>
    public static readonly ZSetLimits Default = new(128, 64);

    /// <summary>A listpack may not grow past 1 GB (Redis's LISTPACK_MAX_SAFETY_SIZE).</summary>
    public const long ListpackSafetySize = 1L << 30;
}

/// <summary>
/// A sorted set value. Small sets use <see cref="ZSetListpack"/> ("listpack"); once a set has more than
/// zset-max-listpack-entries elements or a member longer than zset-max-listpack-value bytes it becomes a
/// <see cref="ZSkipList"/> ("skiplist") and, as in Redis, stays one when it shrinks again.
///
/// Elements are addressed by a position: a byte offset in the listpack or a node index in the skiplist,
/// -1 for none. A position is valid until the set is next modified.
/// </summary>
public sealed class SortedSetObject : RedisObject
{
    private ZSetListpack? _lp;
    private ZSkipList? _sl;

    /// <summary>An empty set in the chosen encoding, sized for about <paramref name="capacity"/> elements.</summary>
    public SortedSetObject(byte[] key, bool listpack, int capacity = 0) : base(key)
    {
        if (listpack) _lp = new ZSetListpack(Math.Clamp(capacity, 0, 1024) * 16);
        else _sl = new ZSkipList(capacity);
    }

    private SortedSetObject(byte[] key, ZSetListpack? lp, ZSkipList? sl) : base(key)
    {
        _lp = lp;
        _sl = sl;
    }

    public override RedisType Type => RedisType.ZSet;
    public override string Encoding => _lp != null ? "listpack" : "skiplist";
    public bool IsListpack => _lp != null;

    /// <summary>The skiplist when that is the encoding (ZSCAN walks its node slots).</summary>
    public ZSkipList? SkipList => _sl;

    public int Count => _lp != null ? _lp.Count : _sl!.Count;

    public override RedisObject Clone(byte[] newKey) => new SortedSetObject(newKey, _lp?.Clone(), _sl?.Clone());

    // The object itself: header 16, key reference and accounted size 16, two references 16. The key's
    // own array is counted by the key table.
    public override long MemoryUsage => 48 + (_lp != null ? _lp.MemoryUsage : _sl!.MemoryUsage);

    // ---- positions -----------------------------------------------------------------

    public int First() => _lp != null ? _lp.First() : _sl!.First();
    public int Last() => _lp != null ? _lp.Last() : _sl!.Last();
    public int Next(int pos) => _lp != null ? _lp.Next(pos) : _sl!.Next(pos);
    public int Prev(int pos) => _lp != null ? _lp.Prev(pos) : _sl!.Prev(pos);

    /// <summary>One step towards the tail, or towards the head when <paramref name="reverse"/>.</summary>
    public int Step(int pos, bool reverse) => reverse ? Prev(pos) : Next(pos);

    public ReadOnlySpan<byte> MemberAt(int pos) => _lp != null ? _lp.MemberAt(pos) : _sl!.MemberAt(pos);
    public double ScoreAt(int pos) => _lp != null ? _lp.ScoreAt(pos) : _sl!.ScoreAt(pos);

    public ReadOnlySpan<byte> EntryAt(int pos, out double score)
    {
        if (_lp != null) return _lp.EntryAt(pos, out score);
        score = _sl!.ScoreAt(pos);
        return _sl.MemberAt(pos);
    }

    /// <summary>The element at 0-based <paramref name="rank"/>, counted from the tail when <paramref name="reverse"/>; -1 when out of range.</summary>
    public int AtRank(long rank, bool reverse = false)
    {
        long n = Count;
        if (rank < 0 || rank >= n) return -1;
        if (_lp != null) return _lp.AtRank(rank, reverse);
        return _sl!.GetByRank(reverse ? n - rank : rank + 1);
    }

    public int FirstInRange(in ScoreRange r) => _lp != null ? _lp.FirstInRange(r) : _sl!.FirstInRange(r);
    public int LastInRange(in ScoreRange r) => _lp != null ? _lp.LastInRange(r) : _sl!.LastInRange(r);
    public int FirstInLexRange(in LexRange r) => _lp != null ? _lp.FirstInLexRange(r) : _sl!.FirstInLexRange(r);
    public int LastInLexRange(in LexRange r) => _lp != null ? _lp.LastInLexRange(r) : _sl!.LastInLexRange(r);

    /// <summary>A uniformly chosen element's position (the set is not empty).</summary>
    public int RandomPosition(Random rng)
    {
        int n = Count;
        return _lp != null ? _lp.AtRank(rng.Next(n)) : _sl!.GetByRank(rng.NextInt64(n) + 1);
    }

    // ---- lookups -------------------------------------------------------------------

    public bool TryGetScore(ReadOnlySpan<byte> member, out double score)
        => _lp != null ? _lp.Find(member, out score) >= 0 : _sl!.TryGetScore(member, out score);

    /// <summary>0-based rank of <paramref name="member"/> from the head (or the tail when <paramref name="reverse"/>), or -1.</summary>
    public long Rank(ReadOnlySpan<byte> member, bool reverse)
    {
        long n = Count;
        long rank;
        if (_lp != null)
        {
            rank = _lp.RankOf(member);
            if (rank < 0) return -1;
        }
        else
        {
            if (!_sl!.TryGetScore(member, out double score)) return -1;
            rank = _sl.GetRank(score, member) - 1;
        }
        return reverse ? n - 1 - rank : rank;
    }

    // ---- modification --------------------------------------------------------------

    /// <summary>
    /// Redis's zsetAdd: adds or updates one element under NX/XX/GT/LT/INCR. Returns what happened;
    /// <see cref="ZAddResult.Nan"/> (nothing done) when the resulting score is not a number.
    /// <paramref name="newScore"/> is the element's score afterwards when it was added or updated.
    /// A listpack that would outgrow <paramref name="limits"/> becomes a skiplist first.
    /// </summary>
    public ZAddResult Add(double score, ReadOnlySpan<byte> member, ZAddFlags flags, ZSetLimits limits, out double newScore)
    {
        newScore = score;
        if (double.IsNaN(score)) return ZAddResult.Nan;
        bool incr = (flags & ZAddFlags.Incr) != 0, nx = (flags & ZAddFlags.NX) != 0, xx = (flags & ZAddFlags.XX) != 0;
        bool gt = (flags & ZAddFlags.GT) != 0, lt = (flags & ZAddFlags.LT) != 0;

        if (_lp != null)
        {
            int pos = _lp.Find(member, out double cur);
            if (pos >= 0)
            {
                if (nx) return ZAddResult.Nop;
                if (incr)
                {
                    score += cur;
                    if (double.IsNaN(score)) return ZAddResult.Nan;
                }
                if ((lt && score >= cur) || (gt && score <= cur)) return ZAddResult.Nop;
                newScore = score;
                if (score == cur) return ZAddResult.None;
                _lp.DeleteAt(pos);
                _lp.Insert(member, score);
                return ZAddResult.Updated;
            }
            if (xx) return ZAddResult.Nop;
            if (_lp.Count + 1 <= limits.MaxEntries && member.Length <= limits.MaxValue &&
                _lp.UsedBytes + member.Length <= ZSetLimits.ListpackSafetySize)
            {
                _lp.Insert(member, score);
                return ZAddResult.Added;
            }
            ConvertToSkiplist();
        }

        var sl = _sl!;
        int node = sl.Find(member);
        if (node >= 0)
        {
            if (nx) return ZAddResult.Nop;
            double cur = sl.ScoreAt(node);
            if (incr)
            {
                score += cur;
                if (double.IsNaN(score)) return ZAddResult.Nan;
            }
            if ((lt && score >= cur) || (gt && score <= cur)) return ZAddResult.Nop;
            newScore = score;
            if (score == cur) return ZAddResult.None;
            sl.UpdateScore(node, score);
            return ZAddResult.Updated;
        }
        if (xx) return ZAddResult.Nop;
        sl.Insert(score, member.ToArray());
        return ZAddResult.Added;
    }

    /// <summary>Removes <paramref name="member"/>; false when it is not there.</summary>
    public bool Remove(ReadOnlySpan<byte> member)
    {
        if (_lp != null)
        {
            int pos = _lp.Find(member, out _);
            if (pos < 0) return false;
            _lp.DeleteAt(pos);
            return true;
        }
        return _sl!.Delete(member);
    }

    /// <summary>Removes the element at <paramref name="pos"/> (ZPOPMIN/ZPOPMAX).</summary>
    public void RemoveAt(int pos)
    {
        if (_lp != null) _lp.DeleteAt(pos);
        else _sl!.Delete(_sl.MemberAt(pos));
    }

    /// <summary>Removes 0-based ranks <paramref name="start"/>..<paramref name="end"/>, both already within the set.</summary>
    public long RemoveRangeByRank(long start, long end)
        => _lp != null ? _lp.DeleteRangeByRank(start, end) : _sl!.DeleteRangeByRank(start + 1, end + 1);

    public long RemoveRangeByScore(in ScoreRange r) => _lp != null ? _lp.DeleteRangeByScore(r) : _sl!.DeleteRangeByScore(r);

    public long RemoveRangeByLex(in LexRange r) => _lp != null ? _lp.DeleteRangeByLex(r) : _sl!.DeleteRangeByLex(r);

    /// <summary>Moves the elements of a listpack into a skiplist (Redis's zsetConvert).</summary>
    public void ConvertToSkiplist()
    {
        if (_lp is null) return;
        var sl = new ZSkipList(_lp.Count);
        for (int p = _lp.First(); p >= 0; p = _lp.Next(p))
        {
            var m = _lp.EntryAt(p, out double s);
            sl.Insert(s, m.ToArray());
        }
        _sl = sl;
        _lp = null;
    }

    /// <summary>
    /// A set holding <paramref name="sorted"/> (already in (score, member) order, members unique): a
    /// listpack when it fits <paramref name="limits"/>, else a skiplist (Redis's
    /// zsetConvertToListpackIfNeeded after building a result).
    /// </summary>
    public static SortedSetObject FromSorted(byte[] key, List<ZSetEntry> sorted, ZSetLimits limits)
    {
        long maxLen = 0, total = 0;
        foreach (var e in sorted)
        {
            if (e.Member.Length > maxLen) maxLen = e.Member.Length;
            total += e.Member.Length;
        }
        bool listpack = sorted.Count <= limits.MaxEntries && maxLen <= limits.MaxValue && total <= ZSetLimits.ListpackSafetySize;
        var z = new SortedSetObject(key, listpack, sorted.Count);
        if (listpack)
        {
            foreach (var e in sorted) z._lp!.Append(e.Member, e.Score);
        }
        else
        {
            for (int i = sorted.Count - 1; i >= 0; i--) z._sl!.Insert(sorted[i].Score, sorted[i].Member);
        }
        return z;
    }
}

/// <summary>A member and its score, as collected by the set operations.</summary>
public readonly record struct ZSetEntry(byte[] Member, double Score)
{
    /// <summary>Sorted-set order: by score, then member bytes.</summary>
    public static int Compare(ZSetEntry a, ZSetEntry b)
    {
        if (a.Score < b.Score) return -1;
        if (a.Score > b.Score) return 1;
        return a.Member.AsSpan().SequenceCompareTo(b.Member);
    }

    public static readonly Comparison<ZSetEntry> Comparison = Compare;
}
