using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>LMOVE, RPOPLPUSH and LMPOP: popping from one end of a list into another list or from the first non-empty list.</summary>
public static partial class ListCommands
{
    private static void BindMoves(CommandTable t)
    {
        t.Bind("lmove", LMove);
        t.Bind("rpoplpush", c => MoveGeneric(c, fromHead: false, toHead: true));
        t.Bind("lmpop", c => MPopGeneric(c, numKeysIdx: 1, blocking: false));
    }

    private static void LMove(Client c)
    {
        if (!TryGetSide(c, 3, out bool fromHead) || !TryGetSide(c, 4, out bool toHead)) return;
        MoveGeneric(c, fromHead, toHead);
    }

    /// <summary>
    /// Redis's lmoveHandlePush: pushes <paramref name="value"/> onto the destination (creating it),
    /// signals it for WATCH and blocked clients, sends the push event, and replies the value.
    /// </summary>
    internal static void HandlePush(Client c, ReadOnlySpan<byte> dstKey, ListObject? dst, ReadOnlySpan<byte> value, bool toHead)
    {
        dst ??= Create(c, dstKey);
        c.Server.SignalModifiedKey(c.Db, dstKey);
        dst.Push(value, toHead);
        c.Server.Notify(KeyspaceEventClass.List, toHead ? "lpush" : "rpush", dstKey, c.Db.Id);
        c.Reply.Bulk(value);
    }

    /// <summary>
    /// Redis's lmoveGenericCommand (LMOVE, RPOPLPUSH, and BLMOVE/BRPOPLPUSH when the source has data):
    /// source key in argument 1, destination in argument 2.
    /// </summary>
    internal static void MoveGeneric(Client c, bool fromHead, bool toHead)
    {
        var srcKey = c.Arg(1);
        if (!TryWrite(c, srcKey, out var src, out _)) return;
        if (src is null || src.Count == 0)
        {
            c.Reply.Null();
            return;
        }
        var dstKey = c.Arg(2);
        if (!TryWrite(c, dstKey, out var dst, out _)) return;
        // Copied out: the destination may be the same list.
        var value = src.Pop(fromHead)!;
        HandlePush(c, dstKey, dst, value, toHead);
        MoveSourceDone(c, srcKey, src, fromHead);
        c.Server.Dirty();
    }

    /// <summary>The source side of a move: its pop event, deletion when emptied, and WATCH.</summary>
    private static void MoveSourceDone(Client c, ReadOnlySpan<byte> srcKey, ListObject src, bool fromHead)
    {
        var server = c.Server;
        server.Notify(KeyspaceEventClass.List, fromHead ? "lpop" : "rpop", srcKey, c.Db.Id);
        if (src.Count == 0)
        {
            c.Db.Delete(srcKey);
            server.Notify(KeyspaceEventClass.Generic, "del", srcKey, c.Db.Id);
        }
        server.SignalModifiedKey(c.Db, srcKey);
    }

    /// <summary>
    /// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] and BLMPOP timeout numkeys ...: parses the
    /// arguments (numkeys at <paramref name="numKeysIdx"/>), then pops from the first non-empty list.
    /// </summary>
    private static void MPopGeneric(Client c, int numKeysIdx, bool blocking)
    {
        if (!TryGetRange(c, numKeysIdx, 1, long.MaxValue, "numkeys should be greater than 0", out long numKeys)) return;
        if (numKeys >= c.Argc - numKeysIdx - 1)
        {
            c.SyntaxError();
            return;
        }
        int whereIdx = numKeysIdx + (int)numKeys + 1;
        if (!TryGetSide(c, whereIdx, out bool head)) return;
        long count = -1;
        for (int j = whereIdx + 1; j < c.Argc; j++)
        {
            if (count == -1 && c.ArgIs(j, "count"u8) && j + 1 < c.Argc)
            {
                if (!TryGetRange(c, ++j, 1, long.MaxValue, "count should be greater than 0", out count)) return;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        if (count == -1) count = 1;
        if (blocking)
        {
            BlockingPop(c, numKeysIdx + 1, (int)numKeys, head, timeoutIdx: 1, count);
            return;
        }
        for (int j = 0; j < numKeys; j++)
        {
            var key = c.Arg(numKeysIdx + 1 + j);
            if (!TryWrite(c, key, out var list, out _)) return;
            if (list is null || list.Count == 0) continue;
            PopRangeWithKey(c, list, key, head, count);
            return;
        }
        c.Reply.NullArray();
    }
}
