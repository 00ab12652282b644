using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>Set algebra: SMEMBERS, SINTER, SINTERCARD, SUNION, SDIFF and the STORE variants.</summary>
public static partial class SetCommands
{
    private static void BindAlgebra(CommandTable t)
    {
        t.Bind("smembers", c => Inter(c, 1, c.Argc - 1, dstIdx: 0, cardinalityOnly: false, limit: 0));
        t.Bind("sinter", c => Inter(c, 1, c.Argc - 1, dstIdx: 0, cardinalityOnly: false, limit: 0));
        t.Bind("sinterstore", c => Inter(c, 2, c.Argc - 2, dstIdx: 1, cardinalityOnly: false, limit: 0));
        t.Bind("sintercard", SInterCard);
        t.Bind("sunion", c => UnionDiff(c, 1, c.Argc - 1, dstIdx: 0, diff: false));
        t.Bind("sunionstore", c => UnionDiff(c, 2, c.Argc - 2, dstIdx: 1, diff: false));
        t.Bind("sdiff", c => UnionDiff(c, 1, c.Argc - 1, dstIdx: 0, diff: true));
        t.Bind("sdiffstore", c => UnionDiff(c, 2, c.Argc - 2, dstIdx: 1, diff: true));
    }

    /// <summary>
    /// Reads the sets named by arguments [first, first+n): null for missing keys. Returns null after a
    /// WRONGTYPE reply (every key is looked up, as Redis does, so hits and misses are all counted).
    /// </summary>
    private static SetObject?[]? ReadSets(Client c, int first, int n)
    {
        var sets = new SetObject?[n];
        for (int j = 0; j < n; j++)
        {
            if (!TryRead(c, c.Arg(first + j), out sets[j])) return null;
        }
        return sets;
    }

    /// <summary>
    /// Stores a computed set at the destination (Redis's setKey: replaces any value, drops the TTL) or,
    /// when it is empty, deletes the destination. Replies the stored cardinality.
    /// </summary>
    private static void StoreResult(Client c, int dstIdx, SetObject result, string evt)
    {
        var db = c.Db;
        var dstKey = c.Arg(dstIdx);
        if (result.Count > 0)
        {
            // Redis's setKey looks the destination up for writing first, which expires it if due.
            StringCommands.FindForWrite(c, dstKey);
            db.Set(result);
            c.Server.SignalModifiedKey(db, dstKey);
            c.Reply.Integer(result.Count);
            c.Server.Notify(KeyspaceEventClass.Set, evt, dstKey, db.Id);
            c.Server.Dirty();
            return;
        }
        c.Reply.Integer(0);
        if (db.Delete(dstKey))
        {
            c.Server.Dirty();
            c.Server.SignalModifiedKey(db, dstKey);
            c.Server.Notify(KeyspaceEventClass.Generic, "del", dstKey, db.Id);
        }
    }

    /// <summary>True when <paramref name="set"/> holds the member at <paramref name="pos"/> of <paramref name="from"/>.</summary>
    private static bool HoldsMemberOf(SetObject set, SetObject from, int pos, Span<byte> scratch)
    {
        // Integer against integer stays numeric; only a table needs the member's text.
        if (from.IsIntSet && set.IsIntSet) return set.ContainsInteger(from.IntegerAt(pos));
        return set.Contains(from.MemberAt(pos, scratch));
    }

    /// <summary>
    /// Redis's sinterGenericCommand (SMEMBERS, SINTER, SINTERSTORE, SINTERCARD): walks the smallest set
    /// and keeps what every other set holds. <paramref name="limit"/> 0 means no limit.
    /// </summary>
    private static void Inter(Client c, int first, int n, int dstIdx, bool cardinalityOnly, long limit)
    {
        var sets = ReadSets(c, first, n);
        if (sets is null) return;
        if (Array.IndexOf(sets, null) >= 0)
        {
            // An intersection with an empty set is empty.
            if (dstIdx != 0)
            {
                var db = c.Db;
                var dstKey = c.Arg(dstIdx);
                if (db.Delete(dstKey))
                {
                    c.Server.SignalModifiedKey(db, dstKey);
                    c.Server.Notify(KeyspaceEventClass.Generic, "del", dstKey, db.Id);
                    c.Server.Dirty();
                }
                c.Reply.Integer(0);
            }
            else if (cardinalityOnly) c.Reply.Integer(0);
            else c.Reply.SetHeader(0);
            return;
        }

        Array.Sort(sets, (a, b) => a!.Count.CompareTo(b!.Count));
        var smallest = sets[0]!;
        bool single = true;
        for (int j = 1; j < n; j++) single &= ReferenceEquals(sets[j], smallest);
        if (dstIdx == 0 && !cardinalityOnly && single)
        {
            // SMEMBERS (or SINTER of one set): the size is known, so the reply streams without a deferred header.
            ReplyMembers(c, smallest);
            return;
        }
        SetObject? result = dstIdx != 0 ? new SetObject(c.ArgBytes(dstIdx)) : null;
        long max = MaxIntset(c);
        int mark = result is null && !cardinalityOnly ? c.Reply.BeginDeferred() : 0;
        long cardinality = 0;
        Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];

        for (int pos = smallest.First(); pos >= 0; pos = smallest.NextPosition(pos))
        {
            int j = 1;
            for (; j < n; j++)
            {
                if (ReferenceEquals(sets[j], smallest)) continue;
                if (!HoldsMemberOf(sets[j]!, smallest, pos, scratch)) break;
            }
            if (j < n) continue;
            if (cardinalityOnly)
            {
                cardinality++;
                if (limit != 0 && cardinality >= limit) break;
            }
            else if (result is null)
            {
                c.Reply.Bulk(smallest.MemberAt(pos, scratch));
                cardinality++;
            }
            else result.Add(smallest.MemberAt(pos, scratch), max);
        }

        if (cardinalityOnly) c.Reply.Integer(cardinality);
        else if (result != null) StoreResult(c, dstIdx, result, "sinterstore");
        else c.Reply.EndDeferred(mark, cardinality, (byte)'~');
    }

    /// <summary>SINTERCARD numkeys key [key ...] [LIMIT limit].</summary>
    private static void SInterCard(Client c)
    {
        if (!CollectionArgs.TryGetRangeLong(c, 1, 1, long.MaxValue, out long numKeys, "numkeys should be greater than 0")) return;
        if (numKeys > c.Argc - 2)
        {
            c.Reply.Error("Number of keys can't be greater than number of args");
            return;
        }
        long limit = 0;
        for (int j = 2 + (int)numKeys; j < c.Argc; j++)
        {
            if (c.ArgIs(j, "limit"u8) && j + 1 < c.Argc)
            {
                j++;
                if (!CollectionArgs.TryGetPositiveLong(c, j, out limit, "LIMIT can't be negative")) return;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        Inter(c, 2, (int)numKeys, dstIdx: 0, cardinalityOnly: true, limit);
    }

    /// <summary>
    /// Redis's sunionDiffGenericCommand (SUNION, SDIFF and their STORE forms). The result is built as a
    /// set of its own, so its encoding and (for an intset) its ascending order are Redis's. SDIFF picks
    /// between testing each member of the first set against the others and subtracting every other set
    /// from a copy, by estimated work, as Redis does.
    /// </summary>
    private static void UnionDiff(Client c, int first, int n, int dstIdx, bool diff)
    {
        var sets = ReadSets(c, first, n);
        if (sets is null) return;
        bool sameSet = false;
        for (int j = 1; j < n; j++)
            if (sets[0] != null && ReferenceEquals(sets[0], sets[j])) sameSet = true;

        bool subtractAll = false;
        if (diff && sets[0] != null && !sameSet)
        {
            long perMemberWork = 0, subtractWork = 0;
            for (int j = 0; j < n; j++)
            {
                if (sets[j] is null) continue;
                perMemberWork += sets[0]!.Count;
                subtractWork += sets[j]!.Count;
            }
            // Testing per member has better constants and stops early on common members.
            perMemberWork /= 2;
            subtractAll = perMemberWork > subtractWork;
            if (!subtractAll && n > 1)
            {
                // Largest sets first: a member is more likely to be found, and dropped, early.
                Array.Sort(sets, 1, n - 1, Comparer<SetObject?>.Create((a, b) => (b?.Count ?? 0).CompareTo(a?.Count ?? 0)));
            }
        }

        var result = new SetObject(dstIdx != 0 ? c.ArgBytes(dstIdx) : Array.Empty<byte>());
        long max = MaxIntset(c);
        Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];
        if (!diff)
        {
            foreach (var set in sets)
            {
                if (set is null) continue;
                for (int pos = set.First(); pos >= 0; pos = set.NextPosition(pos)) result.Add(set.MemberAt(pos, scratch), max);
            }
        }
        else if (sets[0] != null && !sameSet && !subtractAll)
        {
            var head = sets[0]!;
            for (int pos = head.First(); pos >= 0; pos = head.NextPosition(pos))
            {
                int j = 1;
                for (; j < n; j++)
                {
                    if (sets[j] is null) continue;
                    if (ReferenceEquals(sets[j], head) || HoldsMemberOf(sets[j]!, head, pos, scratch)) break;
                }
                if (j == n) result.Add(head.MemberAt(pos, scratch), max);
            }
        }
        else if (sets[0] != null && !sameSet)
        {
            for (int j = 0; j < n; j++)
            {
                var set = sets[j];
                if (set is null) continue;
                for (int pos = set.First(); pos >= 0; pos = set.NextPosition(pos))
                {
                    if (j == 0) result.Add(set.MemberAt(pos, scratch), max);
                    else result.Remove(set.MemberAt(pos, scratch));
                }
                if (result.Count == 0) break;
            }
        }

        if (dstIdx != 0) StoreResult(c, dstIdx, result, diff ? "sdiffstore" : "sunionstore");
        else ReplyMembers(c, result);
    }
}
