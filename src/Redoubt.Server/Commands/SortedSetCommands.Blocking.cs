using Redoubt.Server.Blocking;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// BZPOPMIN, BZPOPMAX and BZMPOP. With a non-empty sorted set among the keys they act like ZPOPMIN,
/// ZPOPMAX and ZMPOP; otherwise the client blocks on the keys until a write gives one of them members,
/// its timeout passes, or CLIENT UNBLOCK releases it. Inside MULTI/EXEC (and scripts) they never block:
/// they answer a null array, as on timeout.
/// </summary>
public static partial class SortedSetCommands
{
    private static void BindBlocking(CommandTable t)
    {
        t.Bind("bzpopmin", c => BlockingPop(c, firstKey: 1, c.Argc - 2, max: false, timeoutIdx: c.Argc - 1, count: -1, nested: false));
        t.Bind("bzpopmax", c => BlockingPop(c, firstKey: 1, c.Argc - 2, max: true, timeoutIdx: c.Argc - 1, count: -1, nested: false));
        t.Bind("bzmpop", c => MPopGeneric(c, numKeysIdx: 2, blocking: true));
    }

    /// <summary>What a client blocked in a sorted set command waits to do.</summary>
    private sealed class ZSetRequest : BlockedRequest
    {
        public bool Max;
        /// <summary>BZMPOP's count; -1 for BZPOPMIN/BZPOPMAX's single element.</summary>
        public long Count = -1;
        /// <summary>BZMPOP's reply shape ([key, [[member, score] ...]]) rather than [key, member, score].</summary>
        public bool Nested;

        public override BlockType Type => BlockType.ZSet;

        /// <summary>
        /// Redis's serveClientsBlockedOnSortedSetKey for one waiter: pops from the sorted set now at
        /// <paramref name="key"/>; anything else there (a deleted key, another type) leaves it blocked.
        /// </summary>
        public override bool TryServe(Client receiver, byte[] key)
        {
            int slot = receiver.Db.FindForWrite(key);
            if (slot < 0 || receiver.Db.ObjectAt(slot) is not SortedSetObject z || z.Count == 0) return false;
            // Served outside a command: the pop reaches the AOF and replicas as ZPOPMIN/ZPOPMAX of this
            // key (with the count actually popped for BZMPOP).
            if (receiver.Propagating)
            {
                var name = Max ? "ZPOPMAX"u8.ToArray() : "ZPOPMIN"u8.ToArray();
                receiver.Server.Propagation.Add(receiver.Db.Id, Count == -1 ? [name, key] : [name, key, StringCommands.Num(Math.Min(Count, z.Count))]);
            }
            PopFrom(receiver, key, z, Max, emitKey: true, Count, Nested);
            receiver.PropagateArgv = null;
            return true;
        }
    }

    /// <summary>
    /// Redis's blockingGenericZpopCommand: pops from the first non-empty sorted set among the keys at
    /// arguments [<paramref name="firstKey"/>, +<paramref name="numKeys"/>), else blocks on them.
    /// </summary>
    private static void BlockingPop(Client c, int firstKey, int numKeys, bool max, int timeoutIdx, long count, bool nested)
    {
        if (!BlockTimeout.TryParseSeconds(c, timeoutIdx, out long deadline)) return;
        for (int j = 0; j < numKeys; j++)
        {
            var key = c.Arg(firstKey + j);
            if (!TryWrite(c, key, out var z, out _)) return;
            if (z is null || z.Count == 0) continue;
            PopFrom(c, key, z, max, emitKey: true, count, nested);
            return;
        }
        if (c.DenyBlocking)
        {
            c.Reply.NullArray();
            return;
        }
        var req = new ZSetRequest { Max = max, Count = count, Nested = nested, TimeoutMs = deadline };
        for (int j = 0; j < numKeys; j++) req.Keys.Add(c.ArgBytes(firstKey + j));
        c.Server.Blocking.Block(c, req);
    }
}
