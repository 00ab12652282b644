using System.Runtime.InteropServices;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// ZUNION, ZINTER, ZDIFF, their STORE forms, and ZINTERCARD (Redis's zunionInterDiffGenericCommand).
/// </summary>
public static partial class SortedSetCommands
{
    private static void BindSetOperations(CommandTable t)
    {
        t.Bind("zunion", c => SetOperation(c, storeKeyIdx: 0, numKeysIdx: 1, SetOp.Union, cardinalityOnly: false));
        t.Bind("zinter", c => SetOperation(c, 0, 1, SetOp.Inter, false));
        t.Bind("zdiff", c => SetOperation(c, 0, 1, SetOp.Diff, false));
        t.Bind("zunionstore", c => SetOperation(c, 1, 2, SetOp.Union, false));
        t.Bind("zinterstore", c => SetOperation(c, 1, 2, SetOp.Inter, false));
        t.Bind("zdiffstore", c => SetOperation(c, 1, 2, SetOp.Diff, false));
        t.Bind("zintercard", c => SetOperation(c, 0, 1, SetOp.Inter, true));
    }

    private enum SetOp { Union, Inter, Diff }
    private enum Aggregate { Sum, Min, Max }

    /// <summary>One input of a set operation: a sorted set (or nothing, for a missing key) and its weight.</summary>
    private struct OpSource
    {
        public SortedSetObject? Set;
        public double Weight;
        public readonly int Count => Set?.Count ?? 0;
    }

    /// <summary>A plain set as a sorted set whose members all score 1 (a temporary input of a set operation).</summary>
    private static SortedSetObject ScoredCopy(SetObject set)
    {
        var entries = new List<ZSetEntry>(set.Count);
        Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];
        for (int pos = set.First(); pos >= 0; pos = set.NextPosition(pos))
            entries.Add(new ZSetEntry(set.MemberAt(pos, scratch).ToArray(), 1.0));
        entries.Sort(ZSetEntry.Comparison);
        // Never stored: the encoding only needs to answer lookups, so the skiplist form is always fine.
        return SortedSetObject.FromSorted(set.Key, entries, new ZSetLimits(0, 0));
    }

    private static void Accumulate(ref double target, double value, Aggregate aggregate)
    {
        switch (aggregate)
        {
            case Aggregate.Sum:
                target += value;
                // +inf plus -inf is NaN: Redis makes it 0.
                if (double.IsNaN(target)) target = 0;
                break;
            case Aggregate.Min:
                target = value < target ? value : target;
                break;
            default:
                target = value > target ? value : target;
                break;
        }
    }

    /// <summary>
    /// [dst] numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES] | [LIMIT n].
    /// <paramref name="storeKeyIdx"/> is the destination's argument or 0 for the reply forms.
    /// </summary>
    private static void SetOperation(Client c, int storeKeyIdx, int numKeysIdx, SetOp op, bool cardinalityOnly)
    {
        if (!c.TryGetLong(numKeysIdx, out long setnum)) return;
        if (setnum < 1)
        {
            c.Reply.Error($"at least 1 input key is needed for '{c.Cmd!.FullName}' command");
            return;
        }
        if (setnum > c.Argc - (numKeysIdx + 1))
        {
            c.SyntaxError();
            return;
        }

        int n = (int)setnum;
        var src = new OpSource[n];
        int j = numKeysIdx + 1;
        for (int i = 0; i < n; i++, j++)
        {
            var obj = c.Db.LookupRead(c.Arg(j), (c.Flags & ClientFlags.NoTouch) != 0);
            switch (obj)
            {
                case null:
                case SortedSetObject:
                    src[i].Set = (SortedSetObject?)obj;
                    break;
                case SetObject plain:
                    // A plain set takes part as if every member had score 1, as in Redis.
                    src[i].Set = ScoredCopy(plain);
                    break;
                default:
                    c.WrongType();
                    return;
            }
            src[i].Weight = 1.0;
        }

        var aggregate = Aggregate.Sum;
        bool withScores = false;
        long limit = 0;
        while (j < c.Argc)
        {
            int remaining = c.Argc - j;
            if (op != SetOp.Diff && !cardinalityOnly && remaining >= n + 1 && c.ArgIs(j, "weights"u8))
            {
                j++;
                for (int i = 0; i < n; i++, j++)
                {
                    if (!CStrtod.TryParseWhole(c.Arg(j), out src[i].Weight))
                    {
                        c.Reply.Error("weight value is not a float");
                        return;
                    }
                }
            }
            else if (op != SetOp.Diff && !cardinalityOnly && remaining >= 2 && c.ArgIs(j, "aggregate"u8))
            {
                j++;
                if (c.ArgIs(j, "sum"u8)) aggregate = Aggregate.Sum;
                else if (c.ArgIs(j, "min"u8)) aggregate = Aggregate.Min;
                else if (c.ArgIs(j, "max"u8)) aggregate = Aggregate.Max;
                else
                {
                    c.SyntaxError();
                    return;
                }
                j++;
            }
            else if (storeKeyIdx == 0 && !cardinalityOnly && c.ArgIs(j, "withscores"u8))
            {
                j++;
                withScores = true;
            }
            else if (cardinalityOnly && remaining >= 2 && c.ArgIs(j, "limit"u8))
            {
                j++;
                if (!TryGetRangeLong(c, j, 0, long.MaxValue, "LIMIT can't be negative", out limit)) return;
                j++;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }

        // Smallest inputs first: intersection then walks the smallest and probes the rest. A stable sort
        // keeps equal-sized inputs in argument order, so sums add up in a fixed order.
        if (op != SetOp.Diff && n > 1)
        {
            var ordered = src.OrderBy(s => s.Count).ToArray();
            ordered.CopyTo(src, 0);
        }

        if (cardinalityOnly)
        {
            c.Reply.Integer(IntersectionCardinality(src, limit));
            return;
        }

        var result = op switch
        {
            SetOp.Union => Union(src, aggregate),
            SetOp.Inter => Intersection(src, aggregate),
            _ => Difference(src),
        };
        result.Sort(ZSetEntry.Comparison);

        if (storeKeyIdx != 0)
        {
            var dstKey = c.Arg(storeKeyIdx);
            if (result.Count > 0)
            {
                var dst = SortedSetObject.FromSorted(dstKey.ToArray(), result, c.Server.ZSetLimits);
                StoreResult(c, dstKey, dst);
                c.Reply.Integer(result.Count);
                string evt = op == SetOp.Union ? "zunionstore" : op == SetOp.Inter ? "zinterstore" : "zdiffstore";
                c.Server.Notify(KeyspaceEventClass.ZSet, evt, dstKey, c.Db.Id);
                c.Server.Dirty();
            }
            else
            {
                c.Reply.Integer(0);
                DeleteDestination(c, dstKey);
            }
            return;
        }

        // WITHSCORES: one flat array in RESP2, [member, score] pairs in RESP3 (order matters, so no map).
        bool resp3 = c.Reply.IsResp3;
        c.Reply.ArrayHeader(withScores && !resp3 ? result.Count * 2L : result.Count);
        foreach (var e in result)
        {
            if (withScores && resp3) c.Reply.ArrayHeader(2);
            c.Reply.Bulk(e.Member);
            if (withScores) ReplyScore(c, e.Score);
        }
    }

    /// <summary>The weighted score of an input element; 0 * inf gives NaN, which Redis reads as 0.</summary>
    private static double Weighted(double weight, double score)
    {
        double v = weight * score;
        return double.IsNaN(v) ? 0 : v;
    }

    private static List<ZSetEntry> Union(OpSource[] src, Aggregate aggregate)
    {
        var acc = new Dictionary<byte[], double>(src[^1].Count, ByteArrayComparer.Instance);
        var lookup = acc.GetAlternateLookup<ReadOnlySpan<byte>>();
        foreach (var s in src)
        {
            var z = s.Set;
            if (z is null) continue;
            // Each input is walked from its tail, as Redis does; the order only matters for float sums.
            for (int p = z.Last(); p >= 0; p = z.Prev(p))
            {
                var member = z.EntryAt(p, out double score);
                double value = Weighted(s.Weight, score);
                ref double slot = ref CollectionsMarshal.GetValueRefOrAddDefault(lookup, member, out bool exists);
                if (exists) Accumulate(ref slot, value, aggregate);
                else slot = value;
            }
        }
        var result = new List<ZSetEntry>(acc.Count);
        foreach (var kv in acc) result.Add(new ZSetEntry(kv.Key, kv.Value));
        return result;
    }

    private static List<ZSetEntry> Intersection(OpSource[] src, Aggregate aggregate)
    {
        var result = new List<ZSetEntry>();
        var first = src[0].Set;
        if (first is null || first.Count == 0) return result;
        for (int p = first.Last(); p >= 0; p = first.Prev(p))
        {
            var member = first.EntryAt(p, out double score0);
            if (TryIntersect(src, member, score0, aggregate, out double score))
                result.Add(new ZSetEntry(member.ToArray(), score));
        }
        return result;
    }

    /// <summary>Whether <paramref name="member"/> of the first input is in every other one, with its aggregated score.</summary>
    private static bool TryIntersect(OpSource[] src, ReadOnlySpan<byte> member, double score0, Aggregate aggregate, out double score)
    {
        score = Weighted(src[0].Weight, score0);
        for (int j = 1; j < src.Length; j++)
        {
            double value;
            if (ReferenceEquals(src[j].Set, src[0].Set)) value = score0;
            else if (src[j].Set is null || !src[j].Set!.TryGetScore(member, out value)) return false;
            // Like Redis, a weighted probe score is not NaN-corrected here, only the running sum.
            Accumulate(ref score, value * src[j].Weight, aggregate);
        }
        return true;
    }

    private static long IntersectionCardinality(OpSource[] src, long limit)
    {
        var first = src[0].Set;
        if (first is null) return 0;
        long count = 0;
        for (int p = first.Last(); p >= 0; p = first.Prev(p))
        {
            var member = first.EntryAt(p, out double score0);
            if (!TryIntersect(src, member, score0, Aggregate.Sum, out _)) continue;
            if (++count == limit) break;
        }
        return count;
    }

    /// <summary>Elements of the first input found in none of the others, with their own scores (weights do not apply).</summary>
    private static List<ZSetEntry> Difference(OpSource[] src)
    {
        var result = new List<ZSetEntry>();
        var first = src[0].Set;
        if (first is null || first.Count == 0) return result;
        for (int j = 1; j < src.Length; j++)
            if (ReferenceEquals(src[j].Set, first)) return result;
        for (int p = first.Last(); p >= 0; p = first.Prev(p))
        {
            var member = first.EntryAt(p, out double score);
            bool found = false;
            for (int j = 1; j < src.Length && !found; j++)
                found = src[j].Set != null && src[j].Set!.TryGetScore(member, out _);
            if (!found) result.Add(new ZSetEntry(member.ToArray(), score));
        }
        return result;
    }
}
