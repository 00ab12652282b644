using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// The list family (t_list): pushes and pops at both ends, ranges and indexes, LINSERT/LREM/LTRIM/LPOS,
/// the moves between lists, and (in ListCommands.Blocking.cs) the blocking variants. Lists left empty
/// are deleted, as Redis never keeps an empty list.
/// </summary>
public static partial class ListCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("lpush", c => Push(c, head: true, onlyIfExists: false));
        t.Bind("rpush", c => Push(c, head: false, onlyIfExists: false));
        t.Bind("lpushx", c => Push(c, head: true, onlyIfExists: true));
        t.Bind("rpushx", c => Push(c, head: false, onlyIfExists: true));
        t.Bind("lpop", c => Pop(c, head: true));
        t.Bind("rpop", c => Pop(c, head: false));
        t.Bind("llen", LLen);
        t.Bind("lindex", LIndex);
        t.Bind("lset", LSet);
        t.Bind("lrange", LRange);
        t.Bind("ltrim", LTrim);
        t.Bind("linsert", LInsert);
        t.Bind("lrem", LRem);
        t.Bind("lpos", LPos);
        BindMoves(t);
        BindBlocking(t);
    }

    // ---- lookups with Redis's replies ------------------------------------------------------------

    /// <summary>
    /// Redis's lookupKeyRead + checkType: false after a WRONGTYPE reply; <paramref name="list"/> is null
    /// when the key is missing.
    /// </summary>
    private static bool TryRead(Client c, ReadOnlySpan<byte> key, out ListObject? list)
    {
        var obj = c.Db.LookupRead(key, (c.Flags & ClientFlags.NoTouch) != 0);
        list = obj as ListObject;
        if (obj is null || list != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>
    /// Redis's lookupKeyWrite + checkType: false after a WRONGTYPE reply; <paramref name="list"/> is null
    /// (and <paramref name="slot"/> -1) when the key is missing.
    /// </summary>
    internal static bool TryWrite(Client c, ReadOnlySpan<byte> key, out ListObject? list, out int slot)
    {
        slot = StringCommands.FindForWrite(c, key);
        list = null;
        if (slot < 0) return true;
        list = c.Db.ObjectAt(slot) as ListObject;
        if (list != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>Adds a new empty list under <paramref name="key"/> (known to be absent), with the server's node size.</summary>
    internal static ListObject Create(Client c, ReadOnlySpan<byte> key)
    {
        var list = new ListObject(key.ToArray(), c.Server.ListMaxListpackSize);
        c.Db.Add(list);
        return list;
    }

    /// <summary>
    /// Redis's listElementsRemoved after popping <paramref name="count"/> elements from one end: the
    /// pop event, deletion of a list left empty (with "del"), WATCH and the dirty counter.
    /// </summary>
    internal static void ElementsRemoved(Client c, ReadOnlySpan<byte> key, bool head, ListObject list, long count)
    {
        var server = c.Server;
        server.Notify(KeyspaceEventClass.List, head ? "lpop" : "rpop", key, c.Db.Id);
        if (list.Count == 0)
        {
            c.Db.Delete(key);
            server.Notify(KeyspaceEventClass.Generic, "del", key, c.Db.Id);
        }
        server.SignalModifiedKey(c.Db, key);
        server.Dirty(count);
    }

    /// <summary>Redis's getRangeLongFromObjectOrReply: one message for "not a number" and "out of range" when given.</summary>
    internal static bool TryGetRange(Client c, int idx, long min, long max, string? message, out long value)
    {
        if (!NumberParser.TryParseInt64(c.Arg(idx), out value))
        {
            c.Reply.Error(message ?? "value is not an integer or out of range");
            return false;
        }
        if (value < min || value > max)
        {
            c.Reply.Error(message ?? $"value is out of range, value must between {min} and {max}");
            return false;
        }
        return true;
    }

    /// <summary>Redis's getListPositionFromObjectOrReply: LEFT means the head, RIGHT the tail.</summary>
    internal static bool TryGetSide(Client c, int idx, out bool head)
    {
        head = c.ArgIs(idx, "left"u8);
        if (head || c.ArgIs(idx, "right"u8)) return true;
        c.SyntaxError();
        return false;
    }

    // ---- replies ---------------------------------------------------------------------------------

    /// <summary>
    /// Redis's addListRangeReply: elements start..end (inclusive, negative from the tail), tail to head
    /// when <paramref name="reverse"/>; an empty array when the range is empty.
    /// </summary>
    internal static void ReplyRange(Client c, ListObject list, long start, long end, bool reverse)
    {
        long len = list.Count;
        if (start < 0) start += len;
        if (end < 0) end += len;
        if (start < 0) start = 0;
        if (start > end || start >= len)
        {
            c.Reply.EmptyArray();
            return;
        }
        if (end >= len) end = len - 1;
        long n = end - start + 1;
        var r = c.Reply;
        r.ArrayHeader(n);
        list.TrySeek(reverse ? end : start, out var cur);
        while (true)
        {
            r.Bulk(ListObject.Current(cur));
            if (--n == 0) break;
            if (reverse) ListObject.MovePrev(ref cur);
            else ListObject.MoveNext(ref cur);
        }
    }

    /// <summary>
    /// Redis's listPopRangeAndReplyWithKey (LMPOP/BLMPOP): replies [key, [elements]] with up to
    /// <paramref name="count"/> elements from one end, then removes them.
    /// </summary>
    private static readonly byte[] LPopName = "LPOP"u8.ToArray(), RPopName = "RPOP"u8.ToArray(),
        LMoveName = "LMOVE"u8.ToArray(), RPopLPushName = "RPOPLPUSH"u8.ToArray(),
        LeftName = "LEFT"u8.ToArray(), RightName = "RIGHT"u8.ToArray();

    /// <summary>LPOP/RPOP key [count]: how pops done by other commands propagate (count -1: none).</summary>
    private static byte[][] PopArgv(bool head, ReadOnlySpan<byte> key, long count)
        => count < 0 ? [head ? LPopName : RPopName, key.ToArray()]
            : [head ? LPopName : RPopName, key.ToArray(), StringCommands.Num(count)];

    internal static void PopRangeWithKey(Client c, ListObject list, ReadOnlySpan<byte> key, bool head, long count)
    {
        long n = Math.Min(count, list.Count);
        // [B]LMPOP propagates as the plain pop with the number of elements actually taken.
        if (c.Propagating) c.PropagateAs(PopArgv(head, key, n));
        c.Reply.ArrayHeader(2);
        c.Reply.Bulk(key);
        PopRange(c, list, head, n);
        ElementsRemoved(c, key, head, list, n);
    }

    /// <summary>Replies the <paramref name="n"/> elements nearest one end (in pop order) and removes them.</summary>
    private static void PopRange(Client c, ListObject list, bool head, long n)
    {
        if (head)
        {
            ReplyRange(c, list, 0, n - 1, reverse: false);
            list.RemoveHead(n);
        }
        else
        {
            ReplyRange(c, list, -n, -1, reverse: true);
            list.RemoveTail(n);
        }
    }

    // ---- commands --------------------------------------------------------------------------------

    /// <summary>LPUSH/RPUSH/LPUSHX/RPUSHX key element [element ...]: replies the new length.</summary>
    private static void Push(Client c, bool head, bool onlyIfExists)
    {
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var list, out _)) return;
        if (list is null)
        {
            if (onlyIfExists)
            {
                c.Reply.Integer(0);
                return;
            }
            list = Create(c, key);
        }
        for (int j = 2; j < c.Argc; j++) list.Push(c.Arg(j), head);
        c.Server.Dirty(c.Argc - 2);
        c.Reply.Integer(list.Count);
        c.Server.SignalModifiedKey(c.Db, key);
        c.Server.Notify(KeyspaceEventClass.List, head ? "lpush" : "rpush", key, c.Db.Id);
    }

    /// <summary>LPOP/RPOP key [count]: one bulk without a count, an array with one (null array when missing).</summary>
    private static void Pop(Client c, bool head)
    {
        if (c.Argc > 3)
        {
            c.Reply.Error($"wrong number of arguments for '{c.Cmd!.FullName}' command");
            return;
        }
        bool hasCount = c.Argc == 3;
        long count = 0;
        if (hasCount && !TryGetRange(c, 2, 0, long.MaxValue, "value is out of range, must be positive", out count)) return;
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var list, out _)) return;
        if (list is null)
        {
            if (hasCount) c.Reply.NullArray();
            else c.Reply.Null();
            return;
        }
        if (hasCount && count == 0)
        {
            c.Reply.EmptyArray();
            return;
        }
        if (!hasCount)
        {
            c.Reply.Bulk(head ? list.First : list.Last);
            if (head) list.RemoveHead(1);
            else list.RemoveTail(1);
            ElementsRemoved(c, key, head, list, 1);
            return;
        }
        long n = Math.Min(count, list.Count);
        PopRange(c, list, head, n);
        ElementsRemoved(c, key, head, list, n);
    }

    private static void LLen(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var list)) return;
        c.Reply.Integer(list?.Count ?? 0);
    }

    /// <summary>LINDEX key index: the key is looked up before the index is parsed, as in Redis.</summary>
    private static void LIndex(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var list)) return;
        if (list is null)
        {
            c.Reply.Null();
            return;
        }
        if (!c.TryGetLong(2, out long index)) return;
        if (list.TryGet(index, out var value)) c.Reply.Bulk(value);
        else c.Reply.Null();
    }

    private static void LSet(Client c)
    {
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var list, out _)) return;
        if (list is null)
        {
            c.Reply.Error("no such key");
            return;
        }
        if (!c.TryGetLong(2, out long index)) return;
        if (!list.Set(index, c.Arg(3)))
        {
            c.Reply.Error("index out of range");
            return;
        }
        c.Reply.Ok();
        c.Server.SignalModifiedKey(c.Db, key);
        c.Server.Notify(KeyspaceEventClass.List, "lset", key, c.Db.Id);
        c.Server.Dirty();
    }

    private static void LRange(Client c)
    {
        if (!c.TryGetLong(2, out long start) || !c.TryGetLong(3, out long end)) return;
        if (!TryRead(c, c.Arg(1), out var list)) return;
        if (list is null) c.Reply.EmptyArray();
        else ReplyRange(c, list, start, end, reverse: false);
    }

    private static void LTrim(Client c)
    {
        if (!c.TryGetLong(2, out long start) || !c.TryGetLong(3, out long end)) return;
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var list, out _)) return;
        if (list is null)
        {
            c.Reply.Ok();
            return;
        }
        long len = list.Count, ltrim, rtrim;
        if (start < 0) start += len;
        if (end < 0) end += len;
        if (start < 0) start = 0;
        if (start > end || start >= len)
        {
            ltrim = len;
            rtrim = 0;
        }
        else
        {
            if (end >= len) end = len - 1;
            ltrim = start;
            rtrim = len - end - 1;
        }
        list.RemoveHead(ltrim);
        list.RemoveTail(rtrim);
        var server = c.Server;
        server.Notify(KeyspaceEventClass.List, "ltrim", key, c.Db.Id);
        if (list.Count == 0)
        {
            c.Db.Delete(key);
            server.Notify(KeyspaceEventClass.Generic, "del", key, c.Db.Id);
        }
        server.SignalModifiedKey(c.Db, key);
        server.Dirty(ltrim + rtrim);
        c.Reply.Ok();
    }

    /// <summary>LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0 without the key.</summary>
    private static void LInsert(Client c)
    {
        bool after;
        if (c.ArgIs(2, "after"u8)) after = true;
        else if (c.ArgIs(2, "before"u8)) after = false;
        else
        {
            c.SyntaxError();
            return;
        }
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var list, out _)) return;
        if (list is null)
        {
            c.Reply.Integer(0);
            return;
        }
        var pivot = list.Find(c.Arg(3), fromTail: false);
        if (!pivot.IsValid)
        {
            c.Reply.Integer(-1);
            return;
        }
        list.InsertAt(pivot, c.Arg(4), after);
        c.Server.SignalModifiedKey(c.Db, key);
        c.Server.Notify(KeyspaceEventClass.List, "linsert", key, c.Db.Id);
        c.Server.Dirty();
        c.Reply.Integer(list.Count);
    }

    /// <summary>LREM key count element: count &gt; 0 from the head, &lt; 0 from the tail, 0 all.</summary>
    private static void LRem(Client c)
    {
        if (!c.TryGetLong(2, out long toRemove)) return;
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var list, out _)) return;
        if (list is null)
        {
            c.Reply.Integer(0);
            return;
        }
        // The magnitude of long.MinValue does not fit: it means "all of them from the tail" in effect.
        long max = toRemove == long.MinValue ? long.MaxValue : Math.Abs(toRemove);
        long removed = list.RemoveMatching(c.Arg(3), max, fromTail: toRemove < 0);
        var server = c.Server;
        if (removed > 0)
        {
            server.Dirty(removed);
            server.SignalModifiedKey(c.Db, key);
            server.Notify(KeyspaceEventClass.List, "lrem", key, c.Db.Id);
        }
        if (list.Count == 0)
        {
            c.Db.Delete(key);
            server.Notify(KeyspaceEventClass.Generic, "del", key, c.Db.Id);
        }
        c.Reply.Integer(removed);
    }

    /// <summary>LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].</summary>
    private static void LPos(Client c)
    {
        long rank = 1, count = -1, maxLen = 0;
        for (int j = 3; j < c.Argc; j++)
        {
            bool more = j + 1 < c.Argc;
            if (more && c.ArgIs(j, "rank"u8))
            {
                if (!c.TryGetLong(++j, out rank)) return;
                if (rank == 0)
                {
                    c.Reply.Error("RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
                    return;
                }
            }
            else if (more && c.ArgIs(j, "count"u8))
            {
                if (!TryGetRange(c, ++j, 0, long.MaxValue, "COUNT can't be negative", out count)) return;
            }
            else if (more && c.ArgIs(j, "maxlen"u8))
            {
                if (!TryGetRange(c, ++j, 0, long.MaxValue, "MAXLEN can't be negative", out maxLen)) return;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        bool fromTail = rank < 0;
        // Negating long.MinValue wraps back to itself, as it does in Redis: such a rank then accepts
        // every match, and the COUNT test below wraps the same way too.
        if (fromTail) rank = unchecked(-rank);
        if (!TryRead(c, c.Arg(1), out var list)) return;
        if (list is null)
        {
            if (count != -1) c.Reply.EmptyArray();
            else c.Reply.Null();
            return;
        }
        var r = c.Reply;
        int mark = count != -1 ? r.BeginDeferred() : 0;
        long len = list.Count, index = 0, matchIndex = -1, arrayLen = 0, matches = 0;
        var element = c.Arg(2);
        list.TrySeek(fromTail ? -1 : 0, out var cur);
        bool valid = cur.IsValid;
        while (valid && (maxLen == 0 || index < maxLen))
        {
            if (ListObject.Current(cur).SequenceEqual(element))
            {
                matches++;
                matchIndex = fromTail ? len - index - 1 : index;
                if (matches >= rank)
                {
                    if (count == -1) break;
                    arrayLen++;
                    r.Integer(matchIndex);
                    if (count != 0 && unchecked(matches - rank + 1) >= count) break;
                }
            }
            index++;
            matchIndex = -1;
            valid = fromTail ? ListObject.MovePrev(ref cur) : ListObject.MoveNext(ref cur);
        }
        if (count != -1) r.EndDeferred(mark, arrayLen);
        else if (matchIndex != -1) r.Integer(matchIndex);
        else r.Null();
    }
}
