using System.Text;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>The string family: GET, SET and their relatives (t_string).</summary>
public static partial class StringCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("get", Get);
        t.Bind("set", Set);
        t.Bind("setnx", SetNx);
        t.Bind("setex", SetEx);
        t.Bind("psetex", PSetEx);
        t.Bind("getset", GetSet);
        t.Bind("getex", GetEx);
        t.Bind("getdel", GetDel);
        t.Bind("mget", MGet);
        t.Bind("mset", MSet);
        t.Bind("msetnx", MSetNx);
        BindCounters(t);
        BindRanges(t);
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

    /// <summary>
    /// Redis's lookupKeyWrite: the live slot of <paramref name="key"/> (expiring it lazily) with its access
    /// time refreshed, or -1.
    /// </summary>
    internal static int FindForWrite(Client c, ReadOnlySpan<byte> key)
    {
        var db = c.Db;
        int slot = db.FindLive(key);
        if (slot >= 0) db.SetMetaAt(slot, c.Server.AccessStamp(db.MetaAt(slot)));
        return slot;
    }

    /// <summary>
    /// Redis's setKey for a string value: stores it (replacing a value of any type), drops the TTL unless
    /// <paramref name="keepTtl"/>, and signals the change for WATCH. <paramref name="slot"/> is the key's
    /// live slot or -1. A same-length string value is overwritten in place. Returns the slot.
    /// </summary>
    internal static int StoreString(Client c, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, int slot, bool keepTtl)
    {
        var db = c.Db;
        if (slot >= 0)
        {
            if (db.ObjectAt(slot) is byte[] old && StringRecord.ValueLength(old) == value.Length)
            {
                value.CopyTo(StringRecord.MutableValue(old));
                db.ReplaceAt(slot, old);
            }
            else db.ReplaceAt(slot, StringRecord.Create(key, value));
            if (!keepTtl) db.RemoveExpire(slot);
        }
        else slot = db.Add(StringRecord.Create(key, value));
        c.Server.SignalModifiedKey(db, key);
        return slot;
    }

    private static void Get(Client c)
    {
        var obj = c.Db.LookupRead(c.Arg(1), (c.Flags & ClientFlags.NoTouch) != 0);
        if (obj is null) c.Reply.Null();
        else if (obj is byte[] rec) c.Reply.Bulk(StringRecord.Value(rec));
        else c.WrongType();
    }

    /// <summary>Redis's getGenericCommand: replies the value (or null); false after a WRONGTYPE reply.</summary>
    private static bool ReplyValue(Client c)
    {
        if (!TryReadString(c, c.Arg(1), out var value, out bool found)) return false;
        if (found) c.Reply.Bulk(value);
        else c.Reply.Null();
        return true;
    }

    [Flags]
    private enum SetFlags
    {
        None = 0, NX = 1, XX = 2, Get = 4, KeepTtl = 8, EX = 16, PX = 32, EXAT = 64, PXAT = 128, Persist = 256,
        AnyExpire = EX | PX | EXAT | PXAT,
    }

    /// <summary>
    /// Parses SET's options (from argument 3) or GETEX's (from argument 2) with Redis's rules: each option
    /// may repeat but conflicting ones are a syntax error, and an expire keyword takes the next argument.
    /// </summary>
    private static bool ParseExtendedOptions(Client c, bool forSet, out SetFlags flags, out int expireIdx)
    {
        flags = SetFlags.None;
        expireIdx = 0;
        for (int j = forSet ? 3 : 2; j < c.Argc; j++)
        {
            bool hasNext = j + 1 < c.Argc;
            var opt = c.Arg(j);
            SetFlags expireKind = SetFlags.None;
            if (opt.Length == 2 || opt.Length == 4)
            {
                if (Ascii.EqualsIgnoreCase(opt, "ex"u8)) expireKind = SetFlags.EX;
                else if (Ascii.EqualsIgnoreCase(opt, "px"u8)) expireKind = SetFlags.PX;
                else if (Ascii.EqualsIgnoreCase(opt, "exat"u8)) expireKind = SetFlags.EXAT;
                else if (Ascii.EqualsIgnoreCase(opt, "pxat"u8)) expireKind = SetFlags.PXAT;
            }
            if (forSet && c.ArgIs(j, "nx"u8) && (flags & SetFlags.XX) == 0) flags |= SetFlags.NX;
            else if (forSet && c.ArgIs(j, "xx"u8) && (flags & SetFlags.NX) == 0) flags |= SetFlags.XX;
            else if (forSet && c.ArgIs(j, "get"u8)) flags |= SetFlags.Get;
            else if (forSet && c.ArgIs(j, "keepttl"u8) && (flags & (SetFlags.AnyExpire | SetFlags.Persist)) == 0) flags |= SetFlags.KeepTtl;
            else if (!forSet && c.ArgIs(j, "persist"u8) && (flags & (SetFlags.AnyExpire | SetFlags.KeepTtl)) == 0) flags |= SetFlags.Persist;
            else if (expireKind != SetFlags.None && hasNext &&
                     (flags & (SetFlags.KeepTtl | SetFlags.Persist | (SetFlags.AnyExpire & ~expireKind))) == 0)
            {
                flags |= expireKind;
                expireIdx = ++j;
            }
            else
            {
                c.SyntaxError();
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Reads an expire argument as an absolute unix time in ms. Replies Redis's errors: not an integer,
    /// or "invalid expire time in '&lt;cmd&gt;' command" when not positive or overflowing.
    /// </summary>
    private static bool TryGetExpireAt(Client c, int idx, bool seconds, bool relative, out long whenMs)
    {
        whenMs = 0;
        if (!c.TryGetLong(idx, out long v)) return false;
        if (ExpireMath.TryAbsoluteMs(v, seconds, relative, c.Server.NowMs, out whenMs)) return true;
        c.Reply.Error($"invalid expire time in '{c.Cmd!.FullName}' command");
        return false;
    }

    /// <summary>
    /// Redis's setGenericCommand, shared by SET, SETNX, SETEX and PSETEX. <paramref name="okReply"/> and
    /// <paramref name="abortReply"/> replace "+OK" and the null reply (SETNX answers 1 and 0).
    /// </summary>
    private static void SetGeneric(Client c, SetFlags flags, int valueIdx, int expireIdx, Action<Client>? okReply, Action<Client>? abortReply)
    {
        long whenMs = -1;
        if (expireIdx != 0 &&
            !TryGetExpireAt(c, expireIdx, (flags & (SetFlags.EX | SetFlags.EXAT)) != 0, (flags & (SetFlags.EX | SetFlags.PX)) != 0, out whenMs))
            return;
        if ((flags & SetFlags.Get) != 0 && !ReplyValue(c)) return;

        var key = c.Arg(1);
        int slot = FindForWrite(c, key);
        bool found = slot >= 0;
        if (((flags & SetFlags.NX) != 0 && found) || ((flags & SetFlags.XX) != 0 && !found))
        {
            if ((flags & SetFlags.Get) == 0)
            {
                if (abortReply != null) abortReply(c);
                else c.Reply.Null();
            }
            return;
        }

        var db = c.Db;
        slot = StoreString(c, key, c.Arg(valueIdx), slot, (flags & SetFlags.KeepTtl) != 0);
        c.Server.Dirty();
        c.Server.Notify(KeyspaceEventClass.String, "set", key, db.Id);
        if (expireIdx != 0)
        {
            db.SetExpire(slot, whenMs);
            // Relative or not, the expire propagates as an absolute time so replicas and the AOF agree.
            if (c.Propagating) c.PropagateAs(SetName, key.ToArray(), c.ArgBytes(valueIdx), PxAtName, Num(whenMs));
            c.Server.Notify(KeyspaceEventClass.Generic, "expire", key, db.Id);
        }
        else if ((flags & SetFlags.Get) != 0 && c.Propagating) PropagateSetWithoutGet(c);
        if ((flags & SetFlags.Get) == 0)
        {
            if (okReply != null) okReply(c);
            else c.Reply.Ok();
        }
    }

    internal static readonly byte[] SetName = "SET"u8.ToArray(), PxAtName = "PXAT"u8.ToArray(),
        PExpireAtName = "PEXPIREAT"u8.ToArray(), PersistName = "PERSIST"u8.ToArray(), KeepTtlName = "KEEPTTL"u8.ToArray();

    /// <summary>A number as the decimal argument of a propagated command.</summary>
    internal static byte[] Num(long v) => System.Text.Encoding.ASCII.GetBytes(v.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>SET ... GET propagates without its GET options (the reply is not part of the change).</summary>
    private static void PropagateSetWithoutGet(Client c)
    {
        var argv = new List<byte[]>(c.Argc);
        for (int j = 0; j < c.Argc; j++)
        {
            if (j >= 3 && c.ArgIs(j, "get"u8)) continue;
            argv.Add(c.ArgBytes(j));
        }
        c.PropagateAs(argv.ToArray());
    }

    /// <summary>SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT t|KEEPTTL].</summary>
    private static void Set(Client c)
    {
        if (!ParseExtendedOptions(c, forSet: true, out var flags, out int expireIdx)) return;
        SetGeneric(c, flags, 2, expireIdx, null, null);
    }

    private static readonly Action<Client> ReplyOne = c => c.Reply.Integer(1);
    private static readonly Action<Client> ReplyZero = c => c.Reply.Integer(0);

    private static void SetNx(Client c) => SetGeneric(c, SetFlags.NX, 2, 0, ReplyOne, ReplyZero);

    /// <summary>SETEX key seconds value.</summary>
    private static void SetEx(Client c) => SetGeneric(c, SetFlags.EX, 3, 2, null, null);

    /// <summary>PSETEX key milliseconds value.</summary>
    private static void PSetEx(Client c) => SetGeneric(c, SetFlags.PX, 3, 2, null, null);

    /// <summary>GETSET key value: SET that replies the old value (and drops the TTL like SET).</summary>
    private static void GetSet(Client c)
    {
        if (!ReplyValue(c)) return;
        var key = c.Arg(1);
        StoreString(c, key, c.Arg(2), FindForWrite(c, key), keepTtl: false);
        c.Server.Notify(KeyspaceEventClass.String, "set", key, c.Db.Id);
        c.Server.Dirty();
        if (c.Propagating) c.PropagateAs(SetName, c.ArgBytes(1), c.ArgBytes(2));
    }

    /// <summary>
    /// GETEX key [EX|PX|EXAT|PXAT t|PERSIST]: GET that also sets or removes the TTL. An absolute time
    /// already in the past deletes the key (on a master), as the expire it stands for would.
    /// </summary>
    private static void GetEx(Client c)
    {
        if (!ParseExtendedOptions(c, forSet: false, out var flags, out int expireIdx)) return;
        var key = c.Arg(1);
        var db = c.Db;
        var obj = db.LookupRead(key, (c.Flags & ClientFlags.NoTouch) != 0);
        if (obj is null)
        {
            c.Reply.Null();
            return;
        }
        if (obj is not byte[] rec)
        {
            c.WrongType();
            return;
        }
        long whenMs = 0;
        if (expireIdx != 0 &&
            !TryGetExpireAt(c, expireIdx, (flags & (SetFlags.EX | SetFlags.EXAT)) != 0, (flags & (SetFlags.EX | SetFlags.PX)) != 0, out whenMs))
            return;
        c.Reply.Bulk(StringRecord.Value(rec));

        if ((flags & (SetFlags.EXAT | SetFlags.PXAT)) != 0 && whenMs <= c.Server.NowMs && !c.Server.IsReplica)
        {
            db.Delete(key);
            if (c.Propagating) c.PropagateAs(RedisServer.DeletionName(c.Server.Config.LazyfreeLazyExpire), c.ArgBytes(1));
            c.Server.SignalModifiedKey(db, key);
            c.Server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
            c.Server.Dirty();
        }
        else if (expireIdx != 0)
        {
            db.SetExpire(db.FindLive(key), whenMs);
            if (c.Propagating) c.PropagateAs(PExpireAtName, c.ArgBytes(1), Num(whenMs));
            c.Server.SignalModifiedKey(db, key);
            c.Server.Notify(KeyspaceEventClass.Generic, "expire", key, db.Id);
            c.Server.Dirty();
        }
        else if ((flags & SetFlags.Persist) != 0 && db.RemoveExpire(db.FindLive(key)))
        {
            if (c.Propagating) c.PropagateAs(PersistName, c.ArgBytes(1));
            c.Server.SignalModifiedKey(db, key);
            c.Server.Notify(KeyspaceEventClass.Generic, "persist", key, db.Id);
            c.Server.Dirty();
        }
    }

    /// <summary>GETDEL key: replies the value and deletes the key.</summary>
    private static void GetDel(Client c)
    {
        if (!ReplyValue(c)) return;
        var key = c.Arg(1);
        var db = c.Db;
        if (db.Delete(key))
        {
            if (c.Propagating) c.PropagateAs(RedisServer.DeletionName(c.Server.Config.LazyfreeLazyUserDel), c.ArgBytes(1));
            c.Server.SignalModifiedKey(db, key);
            c.Server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
            c.Server.Dirty();
        }
    }

    /// <summary>MGET key...: null for missing keys and for keys of other types.</summary>
    private static void MGet(Client c)
    {
        var db = c.Db;
        bool noTouch = (c.Flags & ClientFlags.NoTouch) != 0;
        c.Reply.ArrayHeader(c.Argc - 1);
        for (int j = 1; j < c.Argc; j++)
        {
            if (db.LookupRead(c.Arg(j), noTouch) is byte[] rec) c.Reply.Bulk(StringRecord.Value(rec));
            else c.Reply.Null();
        }
    }

    private static void MSet(Client c) => MSetGeneric(c, nx: false);

    private static void MSetNx(Client c) => MSetGeneric(c, nx: true);

    /// <summary>MSET/MSETNX key value [key value ...]; MSETNX sets nothing if any key exists.</summary>
    private static void MSetGeneric(Client c, bool nx)
    {
        if (c.Argc % 2 == 0)
        {
            c.Reply.Error($"wrong number of arguments for '{c.Cmd!.FullName}' command");
            return;
        }
        if (nx)
        {
            for (int j = 1; j < c.Argc; j += 2)
            {
                if (FindForWrite(c, c.Arg(j)) >= 0)
                {
                    c.Reply.Integer(0);
                    return;
                }
            }
        }
        var db = c.Db;
        for (int j = 1; j < c.Argc; j += 2)
        {
            var key = c.Arg(j);
            StoreString(c, key, c.Arg(j + 1), FindForWrite(c, key), keepTtl: false);
            c.Server.Notify(KeyspaceEventClass.String, "set", key, db.Id);
        }
        c.Server.Dirty((c.Argc - 1) / 2);
        if (nx) c.Reply.Integer(1);
        else c.Reply.Ok();
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
