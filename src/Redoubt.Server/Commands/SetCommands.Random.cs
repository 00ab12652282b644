using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>SPOP and SRANDMEMBER, with Redis's strategies for counts and its reply shapes.</summary>
public static partial class SetCommands
{
    /// <summary>SPOP keeps popping random members while the rest is more than a fifth of the count; else it picks the survivors.</summary>
    private const int SpopMoveStrategyMultiplier = 5;

    /// <summary>SRANDMEMBER draws unique members at random when the set is over three times the count; else it eliminates.</summary>
    private const int SrandmemberSubStrategyMultiplier = 3;

    private static void BindRandom(CommandTable t)
    {
        t.Bind("spop", SPop);
        t.Bind("srandmember", SRandMember);
    }

    /// <summary>
    /// SPOP key [count]. Replication note: Redis propagates a single pop as SREM key member, a counted
    /// pop as one SREM per member, and a pop of the whole set as DEL key; the replication subsystem
    /// must rewrite SPOP accordingly, since the members popped are random.
    /// </summary>
    private static void SPop(Client c)
    {
        if (c.Argc == 3)
        {
            SPopWithCount(c);
            return;
        }
        if (c.Argc > 3)
        {
            c.SyntaxError();
            return;
        }
        var key = c.Arg(1);
        if (!TryWrite(c, key, out int slot, out var set)) return;
        if (set is null)
        {
            c.Reply.Null();
            return;
        }
        var db = c.Db;
        int pos = set.RandomPosition(c.Server.Rng);
        Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];
        var member = set.MemberAt(pos, scratch);
        c.Reply.Bulk(member);
        // The random choice is made here: what propagates is the removal of the member chosen.
        if (c.Propagating) c.PropagateAs(SRemName, c.ArgBytes(1), member.ToArray());
        set.RemoveAt(pos);
        c.Server.Notify(KeyspaceEventClass.Set, "spop", key, db.Id);
        if (set.Count == 0)
        {
            db.RemoveSlot(slot);
            c.Server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
        }
        else db.ReplaceAt(slot, set);
        c.Server.SignalModifiedKey(db, key);
        c.Server.Dirty();
    }

    private static void SPopWithCount(Client c)
    {
        if (!CollectionArgs.TryGetPositiveLong(c, 2, out long count)) return;
        var key = c.Arg(1);
        if (!TryWrite(c, key, out int slot, out var set)) return;
        if (set is null || count == 0)
        {
            c.Reply.SetHeader(0);
            return;
        }
        var db = c.Db;
        int size = set.Count;
        c.Server.Notify(KeyspaceEventClass.Set, "spop", key, db.Id);
        c.Server.Dirty(Math.Min(count, size));
        Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];

        // Case 1: the whole set goes.
        if (count >= size)
        {
            ReplyMembers(c, set);
            db.RemoveSlot(slot);
            if (c.Propagating) c.PropagateAs(DelName, c.ArgBytes(1));
            c.Server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
            c.Server.SignalModifiedKey(db, key);
            return;
        }

        c.Reply.SetHeader(count);
        // Each member removed propagates as its own SREM, the SPOP itself not at all.
        c.PreventPropagation();
        bool propagating = c.Propagating;
        byte[]? keyBytes = propagating ? c.ArgBytes(1) : null;
        var rng = c.Server.Rng;
        long remaining = size - count;
        if (remaining * SpopMoveStrategyMultiplier > count)
        {
            // Case 2: few members go: pop them one at a time.
            for (long i = 0; i < count; i++)
            {
                int pos = set.RandomPosition(rng);
                var member = set.MemberAt(pos, scratch);
                c.Reply.Bulk(member);
                if (propagating) c.AlsoPropagate(SRemName, keyBytes!, member.ToArray());
                set.RemoveAt(pos);
            }
            db.ReplaceAt(slot, set);
        }
        else
        {
            // Case 3: most members go: move the survivors to a new set (which, built afresh, may come
            // out in a more compact encoding), reply with what is left, and store the new set.
            var survivors = new SetObject(set.Key);
            long max = MaxIntset(c);
            for (long i = 0; i < remaining; i++)
            {
                int pos = set.RandomPosition(rng);
                survivors.Add(set.MemberAt(pos, scratch), max);
                set.RemoveAt(pos);
            }
            for (int pos = set.First(); pos >= 0; pos = set.NextPosition(pos))
            {
                var member = set.MemberAt(pos, scratch);
                c.Reply.Bulk(member);
                if (propagating) c.AlsoPropagate(SRemName, keyBytes!, member.ToArray());
            }
            db.ReplaceAt(slot, survivors);
        }
        c.Server.SignalModifiedKey(db, key);
    }

    /// <summary>Replies every member as a set (RESP3 '~').</summary>
    private static void ReplyMembers(Client c, SetObject set)
    {
        Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];
        c.Reply.SetHeader(set.Count);
        for (int pos = set.First(); pos >= 0; pos = set.NextPosition(pos)) c.Reply.Bulk(set.MemberAt(pos, scratch));
    }

    /// <summary>SRANDMEMBER key [count]: a negative count allows repeats.</summary>
    private static void SRandMember(Client c)
    {
        if (c.Argc == 3)
        {
            SRandMemberWithCount(c);
            return;
        }
        if (c.Argc > 3)
        {
            c.SyntaxError();
            return;
        }
        if (!TryRead(c, c.Arg(1), out var set)) return;
        if (set is null)
        {
            c.Reply.Null();
            return;
        }
        Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];
        c.Reply.Bulk(set.MemberAt(set.RandomPosition(c.Server.Rng), scratch));
    }

    private static void SRandMemberWithCount(Client c)
    {
        if (!CollectionArgs.TryGetRangeLong(c, 2, -long.MaxValue, long.MaxValue, out long l)) return;
        bool unique = l >= 0;
        long count = unique ? l : -l;
        if (!TryRead(c, c.Arg(1), out var set)) return;
        if (set is null || count == 0)
        {
            c.Reply.EmptyArray();
            return;
        }
        int size = set.Count;
        var rng = c.Server.Rng;
        Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];

        // Case 1: repeats allowed (or a single pick): independent draws, in random order.
        if (!unique || count == 1)
        {
            c.Reply.ArrayHeader(count);
            for (long i = 0; i < count; i++)
            {
                c.Reply.Bulk(set.MemberAt(set.RandomPosition(rng), scratch));
                if (CollectionArgs.ReplyOverflowed(c)) break;
            }
            return;
        }

        // Case 2: at least the whole set was asked for.
        if (count >= size)
        {
            c.Reply.ArrayHeader(size);
            for (int pos = set.First(); pos >= 0; pos = set.NextPosition(pos)) c.Reply.Bulk(set.MemberAt(pos, scratch));
            return;
        }

        int n = (int)count;
        c.Reply.ArrayHeader(n);
        // Case 3: the count is close to the size: start from everything and drop random members.
        if ((long)n * SrandmemberSubStrategyMultiplier > size)
        {
            var all = new int[size];
            int i = 0;
            for (int pos = set.First(); pos >= 0; pos = set.NextPosition(pos)) all[i++] = pos;
            int left = size;
            while (left > n)
            {
                int victim = rng.Next(left);
                all[victim] = all[--left];
            }
            for (i = 0; i < n; i++) c.Reply.Bulk(set.MemberAt(all[i], scratch));
            return;
        }

        // Case 4: the set is much bigger than the count: draw until enough distinct members.
        var seen = new HashSet<int>(n);
        while (seen.Count < n)
        {
            int pos = set.RandomPosition(rng);
            if (seen.Add(pos)) c.Reply.Bulk(set.MemberAt(pos, scratch));
        }
    }

    private static readonly byte[] SRemName = "SREM"u8.ToArray(), DelName = "DEL"u8.ToArray();
}
