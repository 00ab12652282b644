namespace Redoubt.Server.Commands;

/// <summary>Generic key commands (db.c, expire.c): DEL, EXISTS, DBSIZE, FLUSHDB, FLUSHALL, ...</summary>
public static partial class KeyspaceCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("del", Del);
        t.Bind("unlink", Del);
        t.Bind("exists", Exists);
        t.Bind("dbsize", c => c.Reply.Integer(c.Db.Count));
        t.Bind("flushdb", FlushDb);
        t.Bind("flushall", FlushAll);
        BindMore(t);
    }

    static partial void BindMore(CommandTable t);

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
            if (c.Db.LookupRead(c.Arg(i), noTouch: true) != null) n++;
        c.Reply.Integer(n);
    }

    /// <summary>Parses FLUSHDB/FLUSHALL's optional ASYNC|SYNC; false after replying a syntax error.</summary>
    private static bool ParseFlushMode(Client c)
    {
        if (c.Argc == 1) return true;
        if (c.Argc == 2 && (c.ArgIs(1, "sync"u8) || c.ArgIs(1, "async"u8))) return true;
        c.SyntaxError();
        return false;
    }

    private static void FlushDb(Client c)
    {
        if (!ParseFlushMode(c)) return;
        long removed = c.Db.Clear();
        c.Server.Watches.TouchDatabase(c.Db.Id);
        c.Server.Dirty(removed);
        c.Reply.Ok();
    }

    private static void FlushAll(Client c)
    {
        if (!ParseFlushMode(c)) return;
        long removed = 0;
        foreach (var db in c.Server.Databases) removed += db.Clear();
        c.Server.Watches.TouchDatabase(-1);
        c.Server.Dirty(removed + 1);
        c.Server.FlushAllHooks?.Invoke();
        c.Reply.Ok();
    }
}
