using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// Generic key commands (db.c): DEL, UNLINK, EXISTS, TYPE, TOUCH, RANDOMKEY, RENAME, RENAMENX, MOVE,
/// COPY, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB. Expiry, SCAN/KEYS, OBJECT and WATCH live in the partial
/// files KeyspaceCommands.*.cs.
/// </summary>
public static partial class KeyspaceCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("del", Del);
        t.Bind("unlink", Del);
        t.Bind("exists", Exists);
        t.Bind("type", Type);
        t.Bind("touch", Touch);
        t.Bind("randomkey", RandomKey);
        t.Bind("rename", c => Rename(c, nx: false));
        t.Bind("renamenx", c => Rename(c, nx: true));
        t.Bind("move", Move);
        t.Bind("copy", Copy);
        t.Bind("dbsize", c => c.Reply.Integer(c.Db.Count));
        t.Bind("flushdb", FlushDb);
        t.Bind("flushall", FlushAll);
        t.Bind("swapdb", SwapDb);
        BindMore(t);
    }

    static partial void BindMore(CommandTable t);

    /// <summary>DEL and UNLINK: values are reclaimed by the GC, so both free nothing synchronously.</summary>
    private static void Del(Client c)
    {
        long deleted = 0;
        for (int i = 1; i < c.Argc; i++)
        {
            var key = c.Arg(i);
            if (c.Db.Delete(key))
            {
                c.Server.SignalModifiedKey(c.Db, key);
                c.Server.Notify(KeyspaceEventClass.Generic, "del", key, c.Db.Id);
                c.Server.Dirty();
                deleted++;
            }
        }
        c.Reply.Integer(deleted);
    }

    private static void Exists(Client c)
    {
        long n = 0;
        for (int i = 1; i < c.Argc; i++)
            if (c.Db.FindForRead(c.Arg(i), noTouch: true) >= 0) n++;
        c.Reply.Integer(n);
    }

    /// <summary>Redis's getObjectTypeName for a stored object (null = "none").</summary>
    public static string TypeName(object? obj) => obj switch
    {
        null => "none",
        byte[] => "string",
        RedisObject ro => RedisObject.TypeName(ro.Type),
        _ => "unknown",
    };

    private static void Type(Client c)
    {
        int slot = c.Db.FindForRead(c.Arg(1), noTouch: true);
        c.Reply.Simple(TypeName(slot < 0 ? null : c.Db.ObjectAt(slot)));
    }

    private static void Touch(Client c)
    {
        long n = 0;
        for (int i = 1; i < c.Argc; i++)
            if (c.Db.FindForRead(c.Arg(i)) >= 0) n++;
        c.Reply.Integer(n);
    }

    private static void RandomKey(Client c)
    {
        int slot = c.Db.RandomLiveSlot(c.Server.Rng);
        if (slot < 0) c.Reply.Null();
        else c.Reply.Bulk(KeyTable.KeyOf(c.Db.ObjectAt(slot)));
    }

    /// <summary>RENAME / RENAMENX: the value keeps its TTL and idle time; an existing destination is replaced (RENAME) or kept (RENAMENX).</summary>
    private static void Rename(Client c, bool nx)
    {
        var db = c.Db;
        var src = c.Arg(1);
        var dst = c.Arg(2);
        bool sameKey = src.SequenceEqual(dst);
        int slot = db.FindForWrite(src);
        if (slot < 0)
        {
            c.Reply.Error("no such key");
            return;
        }
        if (sameKey)
        {
            if (nx) c.Reply.Integer(0);
            else c.Reply.Ok();
            return;
        }
        int dstSlot = db.FindForWrite(dst);
        if (dstSlot >= 0)
        {
            if (nx)
            {
                c.Reply.Integer(0);
                return;
            }
            // Removing another key never moves the source's slot.
            db.RemoveSlot(dstSlot);
        }
        db.Rename(slot, dst);
        c.Server.SignalModifiedKey(db, src);
        c.Server.SignalModifiedKey(db, dst);
        c.Server.Notify(KeyspaceEventClass.Generic, "rename_from", src, db.Id);
        c.Server.Notify(KeyspaceEventClass.Generic, "rename_to", dst, db.Id);
        c.Server.Dirty();
        if (nx) c.Reply.Integer(1);
        else c.Reply.Ok();
    }

    /// <summary>
    /// Redis's getIntFromObjectOrReply for a database index: a non-integer gets <paramref name="error"/>
    /// (or the generic message), an integer outside the int range gets <paramref name="error"/> or the
    /// range message. False after replying.
    /// </summary>
    private static bool TryGetDbIndex(Client c, int arg, out int index, string? error = null)
    {
        index = 0;
        if (!Protocol.NumberParser.TryParseInt64(c.Arg(arg), out long v))
        {
            c.Reply.Error(error ?? "value is not an integer or out of range");
            return false;
        }
        if (v < int.MinValue || v > int.MaxValue)
        {
            c.Reply.Error(error ?? "value is out of range, value must between -2147483648 and 2147483647");
            return false;
        }
        index = (int)v;
        return true;
    }

    private static Database? DbAt(Client c, int index)
        => index >= 0 && index < c.Server.Databases.Length ? c.Server.Databases[index] : null;

    private static void Move(Client c)
    {
        if (c.Server.ClusterEnabled)
        {
            c.Reply.Error("MOVE is not allowed in cluster mode");
            return;
        }
        var src = c.Db;
        if (!TryGetDbIndex(c, 2, out int dbId)) return;
        var dst = DbAt(c, dbId);
        if (dst is null)
        {
            c.Reply.Error("DB index is out of range");
            return;
        }
        if (dst == src)
        {
            c.Reply.Error("source and destination objects are the same");
            return;
        }
        var key = c.Arg(1);
        int slot = src.FindForWrite(key);
        if (slot < 0 || dst.FindForWrite(key) >= 0)
        {
            c.Reply.Integer(0);
            return;
        }
        src.MoveTo(slot, dst);
        c.Server.SignalModifiedKey(src, key);
        c.Server.SignalModifiedKey(dst, key);
        c.Server.Notify(KeyspaceEventClass.Generic, "move_from", key, src.Id);
        c.Server.Notify(KeyspaceEventClass.Generic, "move_to", key, dst.Id);
        c.Server.Dirty();
        c.Reply.Integer(1);
    }

    /// <summary>COPY source destination [DB index] [REPLACE]: an independent copy with the source's TTL.</summary>
    private static void Copy(Client c)
    {
        var src = c.Db;
        var dst = c.Db;
        int dbId = c.Db.Id;
        bool replace = false;
        for (int j = 3; j < c.Argc; j++)
        {
            int additional = c.Argc - j - 1;
            if (c.ArgIs(j, "replace"u8)) replace = true;
            else if (c.ArgIs(j, "db"u8) && additional >= 1)
            {
                if (!TryGetDbIndex(c, j + 1, out dbId)) return;
                var target = DbAt(c, dbId);
                if (target is null)
                {
                    c.Reply.Error("DB index is out of range");
                    return;
                }
                dst = target;
                j++;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        if (c.Server.ClusterEnabled && (src.Id != 0 || dbId != 0))
        {
            c.Reply.Error("Copying to another database is not allowed in cluster mode");
            return;
        }
        var key = c.Arg(1);
        var newKey = c.Arg(2);
        if (src == dst && key.SequenceEqual(newKey))
        {
            c.Reply.Error("source and destination objects are the same");
            return;
        }
        int slot = src.FindForRead(key);
        if (slot < 0)
        {
            c.Reply.Integer(0);
            return;
        }
        long expire = src.GetExpire(slot);
        var copy = Database.Duplicate(src.ObjectAt(slot), newKey);
        int dstSlot = dst.FindForWrite(newKey);
        if (dstSlot >= 0)
        {
            if (!replace)
            {
                c.Reply.Integer(0);
                return;
            }
            dst.RemoveSlot(dstSlot);
        }
        int newSlot = dst.Add(copy);
        if (expire >= 0) dst.SetExpire(newSlot, expire);
        c.Server.SignalModifiedKey(dst, newKey);
        c.Server.Notify(KeyspaceEventClass.Generic, "copy_to", newKey, dst.Id);
        c.Server.Dirty();
        c.Reply.Integer(1);
    }

    /// <summary>Parses FLUSHDB/FLUSHALL's optional ASYNC|SYNC; false after replying a syntax error.</summary>
    private static bool ParseFlushMode(Client c)
    {
        if (c.Argc == 1) return true;
        if (c.Argc == 2 && (c.ArgIs(1, "sync"u8) || c.ArgIs(1, "async"u8))) return true;
        c.SyntaxError();
        return false;
    }

    /// <summary>Empties one database: watchers of keys that exist are dirtied first, as Redis's signalFlushedDb does.</summary>
    private static long FlushDatabase(RedisServer server, Database db)
    {
        server.Watches.TouchAllInDb(db, null);
        return db.Clear();
    }

    /// <summary>
    /// FLUSHDB [ASYNC|SYNC]. Dropped tables are left to the GC, which frees them off the command path,
    /// so ASYNC and SYNC behave alike here.
    /// </summary>
    private static void FlushDb(Client c)
    {
        if (!ParseFlushMode(c)) return;
        long removed = FlushDatabase(c.Server, c.Db);
        c.Server.Dirty(removed);
        // Propagated even when the database was already empty: a replica's or an AOF's may not be.
        c.ForcePropagation(Propagation.PropagationTarget.All);
        c.Server.RaiseDbFlushed(c.Db.Id);
        c.Reply.Ok();
    }

    private static void FlushAll(Client c)
    {
        if (!ParseFlushMode(c)) return;
        long removed = 0;
        foreach (var db in c.Server.Databases) removed += FlushDatabase(c.Server, db);
        c.Server.Dirty(removed);
        c.ForcePropagation(Propagation.PropagationTarget.All);
        c.Server.RaiseDbFlushed(-1);
        c.Server.FlushAllHooks?.Invoke();
        c.Reply.Ok();
    }

    private static void SwapDb(Client c)
    {
        if (c.Server.ClusterEnabled)
        {
            c.Reply.Error("SWAPDB is not allowed in cluster mode");
            return;
        }
        if (!TryGetDbIndex(c, 1, out int id1, "invalid first DB index")) return;
        if (!TryGetDbIndex(c, 2, out int id2, "invalid second DB index")) return;
        var db1 = DbAt(c, id1);
        var db2 = DbAt(c, id2);
        if (db1 is null || db2 is null)
        {
            c.Reply.Error("DB index is out of range");
            return;
        }
        if (db1 != db2)
        {
            // Watchers stay with their database number; they are dirtied where the swap changes their key.
            c.Server.Watches.TouchAllInDb(db1, db2);
            c.Server.Watches.TouchAllInDb(db2, db1);
            db1.SwapWith(db2);
            c.Server.RaiseDbSwapped(id1, id2);
        }
        c.Server.Dirty();
        c.Reply.Ok();
    }
}
