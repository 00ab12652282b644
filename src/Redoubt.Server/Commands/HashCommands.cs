using System.Text;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>The hash family (t_hash): HSET, HGET, HDEL, HINCRBY, HRANDFIELD, HSCAN and their relatives.</summary>
public static partial class HashCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("hset", HSet);
        t.Bind("hmset", HSet);
        t.Bind("hsetnx", HSetNx);
        t.Bind("hget", HGet);
        t.Bind("hmget", HMGet);
        t.Bind("hdel", HDel);
        t.Bind("hlen", HLen);
        t.Bind("hstrlen", HStrLen);
        t.Bind("hexists", HExists);
        t.Bind("hkeys", c => GetAll(c, keys: true, values: false));
        t.Bind("hvals", c => GetAll(c, keys: false, values: true));
        t.Bind("hgetall", c => GetAll(c, keys: true, values: true));
        t.Bind("hincrby", HIncrBy);
        t.Bind("hincrbyfloat", HIncrByFloat);
        t.Bind("hrandfield", HRandField);
        t.Bind("hscan", HScan);
    }

    /// <summary>
    /// Looks a hash up for reading. Returns false after a WRONGTYPE reply; <paramref name="hash"/> is null
    /// when the key is missing.
    /// </summary>
    internal static bool TryRead(Client c, ReadOnlySpan<byte> key, out HashObject? hash)
    {
        var obj = c.Db.LookupRead(key, (c.Flags & ClientFlags.NoTouch) != 0);
        hash = obj as HashObject;
        if (obj is null || hash != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>
    /// Redis's hashTypeLookupWriteOrCreate: the hash at the key, created (and added to the db) when
    /// missing. Returns null after a WRONGTYPE reply. <paramref name="slot"/> is the key's slot.
    /// </summary>
    private static HashObject? LookupWriteOrCreate(Client c, ReadOnlySpan<byte> key, out int slot)
    {
        slot = StringCommands.FindForWrite(c, key);
        if (slot >= 0)
        {
            if (c.Db.ObjectAt(slot) is HashObject existing) return existing;
            c.WrongType();
            return null;
        }
        var created = new HashObject(key.ToArray());
        slot = c.Db.Add(created);
        return created;
    }

    /// <summary>Redis's hashTypeTryConversion over the arguments about to be written.</summary>
    private static void ConvertForArgs(Client c, HashObject hash, int from, int to)
    {
        if (!hash.IsPacked) return;
        long limit = c.Server.HashMaxListpackValue, sum = 0;
        for (int i = from; i <= to; i++) sum += c.Arg(i).Length;
        for (int i = from; i <= to && hash.IsPacked; i++) hash.ConvertIfTooLong(c.Arg(i).Length, sum, limit);
    }

    /// <summary>Bookkeeping after a hash changed in place: the db's change counter and WATCH.</summary>
    private static void Modified(Client c, int slot, HashObject hash, ReadOnlySpan<byte> key)
    {
        c.Db.ReplaceAt(slot, hash);
        c.Server.SignalModifiedKey(c.Db, key);
    }

    /// <summary>Deletes a hash left empty and sends the generic "del" event.</summary>
    private static void DeleteEmpty(Client c, ReadOnlySpan<byte> key)
    {
        c.Db.Delete(key);
        c.Server.Notify(KeyspaceEventClass.Generic, "del", key, c.Db.Id);
    }

    /// <summary>HSET key field value [field value ...] (HSET replies the new fields; HMSET replies OK).</summary>
    private static void HSet(Client c)
    {
        if (c.Argc % 2 == 1)
        {
            c.Reply.Error($"wrong number of arguments for '{c.Cmd!.FullName}' command");
            return;
        }
        var key = c.Arg(1);
        var hash = LookupWriteOrCreate(c, key, out int slot);
        if (hash is null) return;
        ConvertForArgs(c, hash, 2, c.Argc - 1);
        long maxEntries = c.Server.HashMaxListpackEntries, maxValue = c.Server.HashMaxListpackValue;
        long created = 0;
        for (int i = 2; i < c.Argc; i += 2)
            if (!hash.Set(c.Arg(i), c.Arg(i + 1), maxEntries, maxValue)) created++;
        if (c.Cmd!.Name == "hset") c.Reply.Integer(created);
        else c.Reply.Ok();
        Modified(c, slot, hash, key);
        c.Server.Notify(KeyspaceEventClass.Hash, "hset", key, c.Db.Id);
        c.Server.Dirty((c.Argc - 2) / 2);
    }

    /// <summary>HSETNX key field value.</summary>
    private static void HSetNx(Client c)
    {
        var key = c.Arg(1);
        var hash = LookupWriteOrCreate(c, key, out int slot);
        if (hash is null) return;
        if (hash.Exists(c.Arg(2)))
        {
            c.Reply.Integer(0);
            return;
        }
        ConvertForArgs(c, hash, 2, 3);
        hash.Set(c.Arg(2), c.Arg(3), c.Server.HashMaxListpackEntries, c.Server.HashMaxListpackValue);
        c.Reply.Integer(1);
        Modified(c, slot, hash, key);
        c.Server.Notify(KeyspaceEventClass.Hash, "hset", key, c.Db.Id);
        c.Server.Dirty();
    }

    private static void HGet(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        if (hash != null && hash.TryGet(c.Arg(2), out var value)) c.Reply.Bulk(value);
        else c.Reply.Null();
    }

    /// <summary>HMGET key field...: a missing key is an empty hash (all nulls).</summary>
    private static void HMGet(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        c.Reply.ArrayHeader(c.Argc - 2);
        for (int i = 2; i < c.Argc; i++)
        {
            if (hash != null && hash.TryGet(c.Arg(i), out var value)) c.Reply.Bulk(value);
            else c.Reply.Null();
        }
    }

    /// <summary>HDEL key field...: deletes the key once its last field goes.</summary>
    private static void HDel(Client c)
    {
        var key = c.Arg(1);
        int slot = StringCommands.FindForWrite(c, key);
        if (slot < 0)
        {
            c.Reply.Integer(0);
            return;
        }
        if (c.Db.ObjectAt(slot) is not HashObject hash)
        {
            c.WrongType();
            return;
        }
        long deleted = 0;
        bool keyRemoved = false;
        for (int i = 2; i < c.Argc; i++)
        {
            if (!hash.Delete(c.Arg(i))) continue;
            deleted++;
            if (hash.Count == 0)
            {
                c.Db.RemoveSlot(slot);
                keyRemoved = true;
                break;
            }
        }
        if (deleted > 0)
        {
            if (!keyRemoved) c.Db.ReplaceAt(slot, hash);
            c.Server.SignalModifiedKey(c.Db, key);
            c.Server.Notify(KeyspaceEventClass.Hash, "hdel", key, c.Db.Id);
            if (keyRemoved) c.Server.Notify(KeyspaceEventClass.Generic, "del", key, c.Db.Id);
            c.Server.Dirty(deleted);
        }
        c.Reply.Integer(deleted);
    }

    private static void HLen(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        c.Reply.Integer(hash?.Count ?? 0);
    }

    private static void HStrLen(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        c.Reply.Integer(hash != null && hash.TryGet(c.Arg(2), out var value) ? value.Length : 0);
    }

    private static void HExists(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        c.Reply.Integer(hash != null && hash.Exists(c.Arg(2)) ? 1 : 0);
    }

    /// <summary>HKEYS, HVALS and HGETALL (a map in RESP3).</summary>
    private static void GetAll(Client c, bool keys, bool values)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        int n = hash?.Count ?? 0;
        if (keys && values) c.Reply.MapHeader(n);
        else c.Reply.ArrayHeader(n);
        if (hash is null) return;
        for (int pos = hash.First(); pos >= 0; pos = hash.NextPosition(pos))
        {
            if (keys) c.Reply.Bulk(hash.FieldAt(pos));
            if (values) c.Reply.Bulk(hash.ValueAt(pos));
        }
    }

    /// <summary>HINCRBY key field increment, with Redis's integer and overflow errors.</summary>
    private static void HIncrBy(Client c)
    {
        if (!c.TryGetLong(3, out long incr)) return;
        var key = c.Arg(1);
        var hash = LookupWriteOrCreate(c, key, out int slot);
        if (hash is null) return;
        long value = 0;
        if (hash.TryGet(c.Arg(2), out var old) && !NumberParser.TryParseInt64(old, out value))
        {
            c.Reply.Error("hash value is not an integer");
            return;
        }
        if ((incr < 0 && value < 0 && incr < long.MinValue - value) ||
            (incr > 0 && value > 0 && incr > long.MaxValue - value))
        {
            c.Reply.Error("increment or decrement would overflow");
            return;
        }
        value += incr;
        Span<byte> text = stackalloc byte[20];
        int n = NumberFormat.WriteInt64(text, value);
        hash.Set(c.Arg(2), text[..n], c.Server.HashMaxListpackEntries, c.Server.HashMaxListpackValue);
        c.Reply.Integer(value);
        Modified(c, slot, hash, key);
        c.Server.Notify(KeyspaceEventClass.Hash, "hincrby", key, c.Db.Id);
        c.Server.Dirty();
    }

    /// <summary>
    /// HINCRBYFLOAT key field increment, in 80-bit long double arithmetic like INCRBYFLOAT. Redis
    /// replicates it as HSET key field &lt;result&gt; so replicas store the same text; the replication
    /// subsystem must rewrite it the same way.
    /// </summary>
    private static void HIncrByFloat(Client c)
    {
        if (!LongDouble.TryParse(c.Arg(3), out var incr))
        {
            c.Reply.Error("value is not a valid float");
            return;
        }
        if (!incr.IsFinite)
        {
            c.Reply.Error("value is NaN or Infinity");
            return;
        }
        var key = c.Arg(1);
        var hash = LookupWriteOrCreate(c, key, out int slot);
        if (hash is null) return;
        var value = LongDouble.Zero;
        if (hash.TryGet(c.Arg(2), out var old) && !LongDouble.TryParse(old, out value))
        {
            c.Reply.Error("hash value is not a float");
            return;
        }
        var sum = value + incr;
        if (!sum.IsFinite)
        {
            c.Reply.Error("increment would produce NaN or Infinity");
            return;
        }
        byte[] text = Encoding.ASCII.GetBytes(sum.ToHumanString());
        hash.Set(c.Arg(2), text, c.Server.HashMaxListpackEntries, c.Server.HashMaxListpackValue);
        c.Reply.Bulk(text);
        Modified(c, slot, hash, key);
        c.Server.Notify(KeyspaceEventClass.Hash, "hincrbyfloat", key, c.Db.Id);
        c.Server.Dirty();
        // The result, not the increment, propagates: float formatting must not differ between replays.
        if (c.Propagating) c.PropagateAs("HSET"u8.ToArray(), c.ArgBytes(1), c.ArgBytes(2), text);
    }

    /// <summary>HSCAN key cursor [MATCH pattern] [COUNT count]: a listpack hash is returned whole with cursor 0.</summary>
    private static void HScan(Client c)
    {
        if (!CollectionScan.TryParseCursor(c, 2, out ulong cursor)) return;
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        if (hash is null)
        {
            CollectionScan.EmptyReply(c);
            return;
        }
        if (!CollectionScan.TryParseOptions(c, 3, out long count, out int patternIdx)) return;

        var table = hash.Table;
        if (table is null)
        {
            CollectionScan.ReplyCursor(c, 0);
            int mark = c.Reply.BeginDeferred();
            int items = 0;
            for (int pos = hash.First(); pos >= 0; pos = hash.NextPosition(pos))
            {
                var field = hash.FieldAt(pos);
                if (!CollectionScan.Matches(c, patternIdx, field)) continue;
                c.Reply.Bulk(field);
                c.Reply.Bulk(hash.ValueAt(pos));
                items += 2;
            }
            c.Reply.EndDeferred(mark, items);
            return;
        }

        var slots = new List<int>();
        cursor = CollectionScan.Walk(table, cursor, count, 2, slots);
        if (patternIdx != 0) slots.RemoveAll(s => !GlobMatcher.Match(c.Arg(patternIdx), table.KeyAt(s)));
        CollectionScan.ReplyCursor(c, cursor);
        c.Reply.ArrayHeader(slots.Count * 2);
        foreach (int s in slots)
        {
            c.Reply.Bulk(table.KeyAt(s));
            c.Reply.Bulk(table.ValueAt(s));
        }
    }
}
