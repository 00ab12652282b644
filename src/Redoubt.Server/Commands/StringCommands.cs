using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>The string family: GET, SET and their relatives (t_string).</summary>
public static partial class StringCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("get", Get);
        t.Bind("set", Set);
        BindMore(t);
    }

    static partial void BindMore(CommandTable t);

    /// <summary>
    /// Looks a string value up for reading. Returns false after replying when the key holds another
    /// type; <paramref name="value"/> is empty and <paramref name="found"/> false when the key is missing.
    /// </summary>
    public static bool TryReadString(Client c, ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value, out bool found)
    {
        var obj = c.Db.LookupRead(key, (c.Flags & ClientFlags.NoTouch) != 0);
        value = default;
        found = false;
        if (obj is null) return true;
        if (obj is byte[] rec)
        {
            value = StringRecord.Value(rec);
            found = true;
            return true;
        }
        c.WrongType();
        return false;
    }

    private static void Get(Client c)
    {
        var obj = c.Db.LookupRead(c.Arg(1), (c.Flags & ClientFlags.NoTouch) != 0);
        if (obj is null) c.Reply.Null();
        else if (obj is byte[] rec) c.Reply.Bulk(StringRecord.Value(rec));
        else c.WrongType();
    }

    [Flags]
    private enum SetFlags { None = 0, NX = 1, XX = 2, Get = 4, KeepTtl = 8, EX = 16, PX = 32, EXAT = 64, PXAT = 128 }

    /// <summary>
    /// SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT t|KEEPTTL]. Options are validated before anything
    /// changes; with GET the old value is replied (and a non-string old value is WRONGTYPE, unchanged).
    /// </summary>
    private static void Set(Client c)
    {
        var flags = SetFlags.None;
        long expireArg = 0;
        int expireIdx = 0;
        for (int j = 3; j < c.Argc; j++)
        {
            bool hasNext = j + 1 < c.Argc;
            if (c.ArgIs(j, "nx"u8) && (flags & SetFlags.XX) == 0) flags |= SetFlags.NX;
            else if (c.ArgIs(j, "xx"u8) && (flags & SetFlags.NX) == 0) flags |= SetFlags.XX;
            else if (c.ArgIs(j, "get"u8)) flags |= SetFlags.Get;
            else if (c.ArgIs(j, "keepttl"u8) && (flags & (SetFlags.EX | SetFlags.PX | SetFlags.EXAT | SetFlags.PXAT)) == 0) flags |= SetFlags.KeepTtl;
            else if (hasNext && (flags & (SetFlags.KeepTtl | SetFlags.EX | SetFlags.PX | SetFlags.EXAT | SetFlags.PXAT)) == 0 &&
                     (c.ArgIs(j, "ex"u8) || c.ArgIs(j, "px"u8) || c.ArgIs(j, "exat"u8) || c.ArgIs(j, "pxat"u8)))
            {
                flags |= c.ArgIs(j, "ex"u8) ? SetFlags.EX : c.ArgIs(j, "px"u8) ? SetFlags.PX : c.ArgIs(j, "exat"u8) ? SetFlags.EXAT : SetFlags.PXAT;
                expireIdx = ++j;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        long whenMs = -1;
        if (expireIdx != 0)
        {
            if (!c.TryGetLong(expireIdx, out expireArg)) return;
            if (!ExpireMath.TryAbsoluteMs(expireArg, (flags & (SetFlags.EX | SetFlags.EXAT)) != 0,
                    (flags & (SetFlags.EXAT | SetFlags.PXAT)) == 0, c.Server.NowMs, out whenMs))
            {
                c.Reply.Error("invalid expire time in 'set' command");
                return;
            }
        }

        var db = c.Db;
        var key = c.Arg(1);
        int slot = db.FindLive(key);
        if ((flags & SetFlags.Get) != 0)
        {
            if (slot >= 0 && db.ObjectAt(slot) is not byte[])
            {
                c.WrongType();
                return;
            }
        }
        bool exists = slot >= 0;
        if (((flags & SetFlags.NX) != 0 && exists) || ((flags & SetFlags.XX) != 0 && !exists))
        {
            if ((flags & SetFlags.Get) != 0)
            {
                if (exists) c.Reply.Bulk(StringRecord.Value((byte[])db.ObjectAt(slot)));
                else c.Reply.Null();
            }
            else c.Reply.Null();
            return;
        }
        if ((flags & SetFlags.Get) != 0)
        {
            if (exists) c.Reply.Bulk(StringRecord.Value((byte[])db.ObjectAt(slot)));
            else c.Reply.Null();
        }
        var rec = StringRecord.Create(key, c.Arg(2));
        if (exists)
        {
            db.ReplaceAt(slot, rec);
            if ((flags & SetFlags.KeepTtl) == 0) db.RemoveExpire(slot);
        }
        else slot = db.Add(rec);
        if (whenMs >= 0) db.SetExpire(slot, whenMs);
        c.Server.SignalModifiedKey(db, key);
        c.Server.Dirty();
        c.Server.Notify(KeyspaceEventClass.String, "set", key, db.Id);
        if (whenMs >= 0) c.Server.Notify(KeyspaceEventClass.Generic, "expire", key, db.Id);
        if ((flags & SetFlags.Get) == 0) c.Reply.Ok();
    }
}

/// <summary>Expire-time arithmetic shared by SET, GETEX, EXPIRE and friends, with Redis's overflow rules.</summary>
public static class ExpireMath
{
    /// <summary>
    /// Converts an expire argument to absolute unix milliseconds. Fails (Redis: "invalid expire time")
    /// when the value is not positive or overflows once converted.
    /// </summary>
    public static bool TryAbsoluteMs(long value, bool seconds, bool relative, long nowMs, out long whenMs)
    {
        whenMs = 0;
        if (value <= 0) return false;
        if (seconds)
        {
            if (value > long.MaxValue / 1000) return false;
            value *= 1000;
        }
        if (relative)
        {
            if (value > long.MaxValue - nowMs) return false;
            value += nowMs;
        }
        whenMs = value;
        return true;
    }
}
