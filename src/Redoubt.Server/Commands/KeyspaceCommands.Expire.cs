namespace Redoubt.Server.Commands;

/// <summary>
/// Expiry commands (expire.c): EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX/XX/GT/LT, TTL, PTTL,
/// EXPIRETIME, PEXPIRETIME, PERSIST. Also binds the commands of the other partial files.
/// </summary>
public static partial class KeyspaceCommands
{
    static partial void BindMore(CommandTable t)
    {
        t.Bind("expire", c => Expire(c, relative: true, seconds: true));
        t.Bind("pexpire", c => Expire(c, relative: true, seconds: false));
        t.Bind("expireat", c => Expire(c, relative: false, seconds: true));
        t.Bind("pexpireat", c => Expire(c, relative: false, seconds: false));
        t.Bind("ttl", c => Ttl(c, milliseconds: false, absolute: false));
        t.Bind("pttl", c => Ttl(c, milliseconds: true, absolute: false));
        t.Bind("expiretime", c => Ttl(c, milliseconds: false, absolute: true));
        t.Bind("pexpiretime", c => Ttl(c, milliseconds: true, absolute: true));
        t.Bind("persist", Persist);
        BindScan(t);
        BindObject(t);
        BindWatch(t);
    }

    [Flags]
    private enum ExpireFlags { None = 0, NX = 1, XX = 2, GT = 4, LT = 8 }

    /// <summary>Parses the options after the time; false after replying Redis's error.</summary>
    private static bool TryParseExpireFlags(Client c, out ExpireFlags flags)
    {
        flags = ExpireFlags.None;
        for (int j = 3; j < c.Argc; j++)
        {
            if (c.ArgIs(j, "nx"u8)) flags |= ExpireFlags.NX;
            else if (c.ArgIs(j, "xx"u8)) flags |= ExpireFlags.XX;
            else if (c.ArgIs(j, "gt"u8)) flags |= ExpireFlags.GT;
            else if (c.ArgIs(j, "lt"u8)) flags |= ExpireFlags.LT;
            else
            {
                c.Reply.Error("Unsupported option " + System.Text.Encoding.Latin1.GetString(c.Arg(j)));
                return false;
            }
        }
        if ((flags & ExpireFlags.NX) != 0 && (flags & (ExpireFlags.XX | ExpireFlags.GT | ExpireFlags.LT)) != 0)
        {
            c.Reply.Error("NX and XX, GT or LT options at the same time are not compatible");
            return false;
        }
        if ((flags & (ExpireFlags.GT | ExpireFlags.LT)) == (ExpireFlags.GT | ExpireFlags.LT))
        {
            c.Reply.Error("GT and LT options at the same time are not compatible");
            return false;
        }
        return true;
    }

    private static void ExpireTimeError(Client c) => c.Reply.Error($"invalid expire time in '{c.Cmd!.FullName}' command");

    /// <summary>
    /// EXPIRE family. Negative and past times are allowed: they delete the key (notifying "del"), except
    /// on a replica, which keeps it until its master says otherwise.
    /// </summary>
    private static void Expire(Client c, bool relative, bool seconds)
    {
        if (!TryParseExpireFlags(c, out var flags)) return;
        if (!c.TryGetLong(2, out long when)) return;
        long basetime = relative ? c.Server.NowMs : 0;
        if (seconds)
        {
            if (when > long.MaxValue / 1000 || when < long.MinValue / 1000)
            {
                ExpireTimeError(c);
                return;
            }
            when *= 1000;
        }
        if (when > long.MaxValue - basetime)
        {
            ExpireTimeError(c);
            return;
        }
        when += basetime;

        var db = c.Db;
        var key = c.Arg(1);
        int slot = db.FindForWrite(key);
        if (slot < 0)
        {
            c.Reply.Integer(0);
            return;
        }
        if (flags != ExpireFlags.None)
        {
            long current = db.GetExpire(slot);
            bool refused =
                ((flags & ExpireFlags.NX) != 0 && current != -1) ||
                ((flags & ExpireFlags.XX) != 0 && current == -1) ||
                // No TTL counts as an infinite one: GT never wins against it, LT always does.
                ((flags & ExpireFlags.GT) != 0 && (current == -1 || when <= current)) ||
                ((flags & ExpireFlags.LT) != 0 && current != -1 && when >= current);
            if (refused)
            {
                c.Reply.Integer(0);
                return;
            }
        }
        if (when <= c.Server.NowMs && !c.Server.IsReplica && !c.Server.PersistenceStatus.Loading)
        {
            db.RemoveSlot(slot);
            c.Server.Dirty();
            if (c.Propagating) c.PropagateAs(RedisServer.DeletionName(c.Server.Config.LazyfreeLazyExpire), c.ArgBytes(1));
            c.Server.SignalModifiedKey(db, key);
            c.Server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
            c.Reply.Integer(1);
            return;
        }
        db.SetExpire(slot, when);
        c.Reply.Integer(1);
        if (c.Propagating) PropagateAsPExpireAt(c, when, rewriteTime: relative || seconds);
        c.Server.SignalModifiedKey(db, key);
        c.Server.Notify(KeyspaceEventClass.Generic, "expire", key, db.Id);
        c.Server.Dirty();
    }

    /// <summary>TTL / PTTL / EXPIRETIME / PEXPIRETIME: -2 for a missing key, -1 without a TTL.</summary>
    private static void Ttl(Client c, bool milliseconds, bool absolute)
    {
        var db = c.Db;
        int slot = db.FindForRead(c.Arg(1), noTouch: true);
        if (slot < 0)
        {
            c.Reply.Integer(-2);
            return;
        }
        long expire = db.GetExpire(slot);
        if (expire == -1)
        {
            c.Reply.Integer(-1);
            return;
        }
        long ttl = absolute ? expire : expire - c.Server.NowMs;
        if (ttl < 0) ttl = 0;
        // Rounded to the nearest second in unsigned arithmetic, which is what Redis's build computes for
        // times near the top of the range (a signed sum would overflow there).
        c.Reply.Integer(milliseconds ? ttl : (long)(((ulong)ttl + 500) / 1000));
    }

    private static void Persist(Client c)
    {
        var db = c.Db;
        var key = c.Arg(1);
        int slot = db.FindForWrite(key);
        if (slot < 0 || !db.RemoveExpire(slot))
        {
            c.Reply.Integer(0);
            return;
        }
        c.Server.SignalModifiedKey(db, key);
        c.Server.Notify(KeyspaceEventClass.Generic, "persist", key, db.Id);
        c.Reply.Integer(1);
        c.Server.Dirty();
    }

    /// <summary>Every EXPIRE form propagates as PEXPIREAT with the absolute time, keeping its options.</summary>
    private static void PropagateAsPExpireAt(Client c, long whenMs, bool rewriteTime)
    {
        var argv = c.CopyArgs();
        argv[0] = StringCommands.PExpireAtName;
        if (rewriteTime) argv[2] = StringCommands.Num(whenMs);
        c.PropagateAs(argv);
    }
}
