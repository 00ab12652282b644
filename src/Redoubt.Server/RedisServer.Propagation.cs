using Redoubt.Server.Commands;
using Redoubt.Server.Propagation;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

public sealed partial class RedisServer
{
    /// <summary>The ordered stream of executed writes that the AOF and replication consume.</summary>
    public readonly PropagationStream Propagation = new();

    private static readonly byte[] DelName = "DEL"u8.ToArray();
    private static readonly byte[] UnlinkName = "UNLINK"u8.ToArray();

    /// <summary>"DEL" or "UNLINK" as a deletion by the server propagates (lazyfree-lazy-expire / -eviction).</summary>
    public static byte[] DeletionName(bool lazy) => lazy ? UnlinkName : DelName;

    private void InitPropagation()
    {
        // Keys removed by the server itself reach the AOF and replicas as explicit deletions.
        KeyExpiredHooks += (db, key) => Propagation.Add(db.Id, [DeletionName(Config.LazyfreeLazyExpire), key]);
        KeyEvictedHooks += (db, key) => Propagation.Add(db.Id, [DeletionName(Config.LazyfreeLazyEviction), key]);
    }

    /// <summary>
    /// After a command ran (Redis's call()): a command that changed the dataset propagates as executed or
    /// as its rewrite, unless it prevented that; EXEC never propagates itself (its commands did).
    /// </summary>
    internal void PropagateCall(Client c, Command cmd, long dirty)
    {
        var flags = c.PropFlags;
        if ((flags & PropagationFlags.Prevent) != 0 || cmd.Handler == Transactions.ExecHandler) return;
        // A save resets the dirty counter: only an increase means the command changed something.
        var target = dirty > 0 ? PropagationTarget.All : PropagationTarget.None;
        if ((flags & PropagationFlags.ForceAof) != 0) target |= PropagationTarget.Aof;
        if ((flags & PropagationFlags.ForceReplication) != 0) target |= PropagationTarget.Replication;
        // A script's redis.set_repl chooses where its commands go.
        if ((c.Flags & ClientFlags.Script) != 0 && RunningScript is { } run) target &= run.ReplTarget;
        if (target == PropagationTarget.None) return;
        if (c.PropagateArgv is { } argv) Propagation.Add(c.DbIndex, argv, target);
        else Propagation.Add(c.DbIndex, c, target);
    }
}
