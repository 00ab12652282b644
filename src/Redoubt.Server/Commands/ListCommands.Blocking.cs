using Redoubt.Server.Blocking;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// BLPOP, BRPOP, BLMPOP, BLMOVE and BRPOPLPUSH. With data at hand they act like their non-blocking
/// forms; otherwise the client blocks on the keys until a push serves it, its timeout passes, or CLIENT
/// UNBLOCK releases it. Inside MULTI/EXEC (and scripts) they never block: they answer as on timeout.
/// </summary>
public static partial class ListCommands
{
    private static void BindBlocking(CommandTable t)
    {
        t.Bind("blpop", c => BlockingPop(c, firstKey: 1, c.Argc - 2, head: true, timeoutIdx: c.Argc - 1, count: -1));
        t.Bind("brpop", c => BlockingPop(c, firstKey: 1, c.Argc - 2, head: false, timeoutIdx: c.Argc - 1, count: -1));
        t.Bind("blmpop", c => MPopGeneric(c, numKeysIdx: 2, blocking: true));
        t.Bind("blmove", BLMove);
        t.Bind("brpoplpush", BRPopLPush);
    }

    /// <summary>What a client blocked in a list command waits to do.</summary>
    private sealed class ListRequest : BlockedRequest
    {
        public bool FromHead, ToHead;
        /// <summary>BLMOVE/BRPOPLPUSH: where the popped element goes.</summary>
        public byte[]? Target;
        /// <summary>BLMPOP: how many elements at most; -1 for BLPOP/BRPOP's single element.</summary>
        public long Count = -1;

        public override BlockType Type => BlockType.List;

        public override bool TryServe(Client receiver, byte[] key) => ServeBlocked(receiver, this, key);
    }

    /// <summary>
    /// Redis's blockingPopGenericCommand: pops from the first non-empty list among the keys (an array of
    /// key and element, or key and elements for BLMPOP's <paramref name="count"/>), else blocks.
    /// </summary>
    private static void BlockingPop(Client c, int firstKey, int numKeys, bool head, int timeoutIdx, long count)
    {
        if (!BlockTimeout.TryParseSeconds(c, timeoutIdx, out long deadline)) return;
        for (int j = 0; j < numKeys; j++)
        {
            var key = c.Arg(firstKey + j);
            if (!TryWrite(c, key, out var list, out _)) return;
            if (list is null || list.Count == 0) continue;
            if (count != -1)
            {
                PopRangeWithKey(c, list, key, head, count);
                return;
            }
            c.Reply.ArrayHeader(2);
            c.Reply.Bulk(key);
            c.Reply.Bulk(head ? list.First : list.Last);
            if (head) list.RemoveHead(1);
            else list.RemoveTail(1);
            if (c.Propagating) c.PropagateAs(PopArgv(head, key, -1));
            ElementsRemoved(c, key, head, list, 1);
            return;
        }
        if (c.DenyBlocking)
        {
            c.Reply.NullArray();
            return;
        }
        var req = new ListRequest { FromHead = head, Count = count, TimeoutMs = deadline };
        for (int j = 0; j < numKeys; j++) req.Keys.Add(c.ArgBytes(firstKey + j));
        c.Server.Blocking.Block(c, req);
    }

    /// <summary>BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout.</summary>
    private static void BLMove(Client c)
    {
        if (!TryGetSide(c, 3, out bool fromHead) || !TryGetSide(c, 4, out bool toHead)) return;
        if (!BlockTimeout.TryParseSeconds(c, 5, out long deadline)) return;
        BlockingMove(c, fromHead, toHead, deadline);
    }

    /// <summary>BRPOPLPUSH source destination timeout: BLMOVE source destination RIGHT LEFT.</summary>
    private static void BRPopLPush(Client c)
    {
        if (!BlockTimeout.TryParseSeconds(c, 3, out long deadline)) return;
        BlockingMove(c, fromHead: false, toHead: true, deadline);
    }

    private static void BlockingMove(Client c, bool fromHead, bool toHead, long deadline)
    {
        if (!TryWrite(c, c.Arg(1), out var src, out _)) return;
        if (src != null)
        {
            MoveGeneric(c, fromHead, toHead);
            // Served at once, it is the non-blocking move.
            if (c.Propagating)
            {
                c.PropagateAs(c.Argc == 4 ? [RPopLPushName, c.ArgBytes(1), c.ArgBytes(2)]
                    : [LMoveName, c.ArgBytes(1), c.ArgBytes(2), c.ArgBytes(3), c.ArgBytes(4)]);
            }
            return;
        }
        if (c.DenyBlocking)
        {
            c.Reply.Null();
            return;
        }
        var req = new ListRequest { FromHead = fromHead, ToHead = toHead, Target = c.ArgBytes(2), TimeoutMs = deadline };
        req.Keys.Add(c.ArgBytes(1));
        c.Server.Blocking.Block(c, req);
    }

    /// <summary>
    /// Redis's serveClientBlockedOnList: gives a blocked client its element(s) from the list now at
    /// <paramref name="key"/>, or for BLMOVE moves one to the destination (a destination of another type
    /// answers WRONGTYPE, leaving the element, and still releases the client). False when the key holds
    /// no list, leaving the client blocked.
    /// </summary>
    private static bool ServeBlocked(Client c, ListRequest req, byte[] key)
    {
        var db = c.Db;
        int slot = StringCommands.FindForWrite(c, key);
        if (slot < 0 || db.ObjectAt(slot) is not ListObject list || list.Count == 0) return false;
        var server = c.Server;
        if (req.Target is null)
        {
            if (req.Count != -1)
            {
                if (c.Propagating) server.Propagation.Add(db.Id, PopArgv(req.FromHead, key, Math.Min(req.Count, list.Count)));
                PopRangeWithKey(c, list, key, req.FromHead, req.Count);
                c.PropagateArgv = null;
                return true;
            }
            if (c.Propagating) server.Propagation.Add(db.Id, PopArgv(req.FromHead, key, -1));
            c.Reply.ArrayHeader(2);
            c.Reply.Bulk(key);
            c.Reply.Bulk(req.FromHead ? list.First : list.Last);
            if (req.FromHead) list.RemoveHead(1);
            else list.RemoveTail(1);
            server.Notify(KeyspaceEventClass.List, req.FromHead ? "lpop" : "rpop", key, db.Id);
        }
        else
        {
            if (!TryWrite(c, req.Target, out var dst, out _)) return true;
            var value = list.Pop(req.FromHead)!;
            HandlePush(c, req.Target, dst, value, req.ToHead);
            if (c.Propagating)
            {
                // A blocked BRPOPLPUSH or BLMOVE propagates as the move it performed.
                server.Propagation.Add(db.Id, req.Command.Name == "brpoplpush"
                    ? [RPopLPushName, key, req.Target]
                    : [LMoveName, key, req.Target, req.FromHead ? LeftName : RightName, req.ToHead ? LeftName : RightName]);
            }
            server.Notify(KeyspaceEventClass.List, req.FromHead ? "lpop" : "rpop", key, db.Id);
        }
        // The push that made the key ready already signaled it for WATCH.
        if (list.Count == 0)
        {
            db.Delete(key);
            server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
        }
        return true;
    }
}
