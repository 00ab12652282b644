using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>The set family (t_set): SADD, SREM, SMOVE, membership, SSCAN; random picks and set algebra in partials.</summary>
public static partial class SetCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("sadd", SAdd);
        t.Bind("srem", SRem);
        t.Bind("scard", SCard);
        t.Bind("sismember", SIsMember);
        t.Bind("smismember", SMIsMember);
        t.Bind("smove", SMove);
        t.Bind("sscan", SScan);
        BindRandom(t);
        BindAlgebra(t);
    }

    /// <summary>
    /// Looks a set up for reading. Returns false after a WRONGTYPE reply; <paramref name="set"/> is null
    /// when the key is missing.
    /// </summary>
    internal static bool TryRead(Client c, ReadOnlySpan<byte> key, out SetObject? set)
    {
        var obj = c.Db.LookupRead(key, (c.Flags & ClientFlags.NoTouch) != 0);
        set = obj as SetObject;
        if (obj is null || set != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>
    /// Looks a set up for writing: its slot (or -1 when missing) and object. Returns false after a
    /// WRONGTYPE reply.
    /// </summary>
    private static bool TryWrite(Client c, ReadOnlySpan<byte> key, out int slot, out SetObject? set)
    {
        slot = StringCommands.FindForWrite(c, key);
        set = null;
        if (slot < 0) return true;
        set = c.Db.ObjectAt(slot) as SetObject;
        if (set != null) return true;
        c.WrongType();
        return false;
    }

    private static long MaxIntset(Client c) => c.Server.SetMaxIntsetEntries;

    /// <summary>SADD key member...</summary>
    private static void SAdd(Client c)
    {
        var key = c.Arg(1);
        if (!TryWrite(c, key, out int slot, out var set)) return;
        var db = c.Db;
        if (set is null)
        {
            set = new SetObject(key.ToArray());
            slot = db.Add(set);
        }
        long max = MaxIntset(c), added = 0;
        for (int i = 2; i < c.Argc; i++)
            if (set.Add(c.Arg(i), max)) added++;
        if (added > 0)
        {
            db.ReplaceAt(slot, set);
            c.Server.SignalModifiedKey(db, key);
            c.Server.Notify(KeyspaceEventClass.Set, "sadd", key, db.Id);
        }
        c.Server.Dirty(added);
        c.Reply.Integer(added);
    }

    /// <summary>SREM key member...: deletes the key once its last member goes.</summary>
    private static void SRem(Client c)
    {
        var key = c.Arg(1);
        if (!TryWrite(c, key, out int slot, out var set)) return;
        if (set is null)
        {
            c.Reply.Integer(0);
            return;
        }
        var db = c.Db;
        long deleted = 0;
        bool keyRemoved = false;
        for (int i = 2; i < c.Argc; i++)
        {
            if (!set.Remove(c.Arg(i))) continue;
            deleted++;
            if (set.Count == 0)
            {
                db.RemoveSlot(slot);
                keyRemoved = true;
                break;
            }
        }
        if (deleted > 0)
        {
            if (!keyRemoved) db.ReplaceAt(slot, set);
            c.Server.SignalModifiedKey(db, key);
            c.Server.Notify(KeyspaceEventClass.Set, "srem", key, db.Id);
            if (keyRemoved) c.Server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
            c.Server.Dirty(deleted);
        }
        c.Reply.Integer(deleted);
    }

    private static void SCard(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var set)) return;
        c.Reply.Integer(set?.Count ?? 0);
    }

    private static void SIsMember(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var set)) return;
        c.Reply.Integer(set != null && set.Contains(c.Arg(2)) ? 1 : 0);
    }

    /// <summary>SMISMEMBER key member...: a missing key is an empty set (all zeros).</summary>
    private static void SMIsMember(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var set)) return;
        c.Reply.ArrayHeader(c.Argc - 2);
        for (int i = 2; i < c.Argc; i++) c.Reply.Integer(set != null && set.Contains(c.Arg(i)) ? 1 : 0);
    }

    /// <summary>
    /// SMOVE source destination member. A missing source answers 0 before any type check of the
    /// destination, and moving within one set only tests membership, as in Redis.
    /// </summary>
    private static void SMove(Client c)
    {
        var srcKey = c.Arg(1);
        var dstKey = c.Arg(2);
        var member = c.Arg(3);
        var db = c.Db;
        int srcSlot = StringCommands.FindForWrite(c, srcKey);
        int dstSlot = StringCommands.FindForWrite(c, dstKey);
        if (srcSlot < 0)
        {
            c.Reply.Integer(0);
            return;
        }
        var src = db.ObjectAt(srcSlot) as SetObject;
        var dstObj = dstSlot >= 0 ? db.ObjectAt(dstSlot) : null;
        var dst = dstObj as SetObject;
        if (src is null || (dstObj != null && dst is null))
        {
            c.WrongType();
            return;
        }
        if (ReferenceEquals(src, dst))
        {
            c.Reply.Integer(src.Contains(member) ? 1 : 0);
            return;
        }
        if (!src.Remove(member))
        {
            c.Reply.Integer(0);
            return;
        }
        c.Server.Notify(KeyspaceEventClass.Set, "srem", srcKey, db.Id);
        if (src.Count == 0)
        {
            db.RemoveSlot(srcSlot);
            c.Server.Notify(KeyspaceEventClass.Generic, "del", srcKey, db.Id);
        }
        else db.ReplaceAt(srcSlot, src);

        if (dst is null)
        {
            dst = new SetObject(dstKey.ToArray());
            dstSlot = db.Add(dst);
        }
        c.Server.SignalModifiedKey(db, srcKey);
        c.Server.Dirty();
        if (dst.Add(member, MaxIntset(c)))
        {
            db.ReplaceAt(dstSlot, dst);
            c.Server.Dirty();
            c.Server.SignalModifiedKey(db, dstKey);
            c.Server.Notify(KeyspaceEventClass.Set, "sadd", dstKey, db.Id);
        }
        c.Reply.Integer(1);
    }

    /// <summary>SSCAN key cursor [MATCH pattern] [COUNT count]: an intset is returned whole with cursor 0.</summary>
    private static void SScan(Client c)
    {
        if (!CollectionScan.TryParseCursor(c, 2, out ulong cursor)) return;
        if (!TryRead(c, c.Arg(1), out var set)) return;
        if (set is null)
        {
            CollectionScan.EmptyReply(c);
            return;
        }
        if (!CollectionScan.TryParseOptions(c, 3, out long count, out int patternIdx)) return;

        var table = set.Table;
        if (table is null)
        {
            CollectionScan.ReplyCursor(c, 0);
            int mark = c.Reply.BeginDeferred();
            int items = 0;
            Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];
            for (int pos = set.First(); pos >= 0; pos = set.NextPosition(pos))
            {
                var member = set.MemberAt(pos, scratch);
                if (!CollectionScan.Matches(c, patternIdx, member)) continue;
                c.Reply.Bulk(member);
                items++;
            }
            c.Reply.EndDeferred(mark, items);
            return;
        }

        var slots = new List<int>();
        cursor = CollectionScan.Walk(table, cursor, count, 1, slots);
        if (patternIdx != 0) slots.RemoveAll(s => !GlobMatcher.Match(c.Arg(patternIdx), table.KeyAt(s)));
        CollectionScan.ReplyCursor(c, cursor);
        c.Reply.ArrayHeader(slots.Count);
        foreach (int s in slots) c.Reply.Bulk(table.KeyAt(s));
    }
}
