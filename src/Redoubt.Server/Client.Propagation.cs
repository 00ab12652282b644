using Redoubt.Server.Propagation;

namespace Redoubt.Server;

/// <summary>What the current command asked of propagation (Redis's CLIENT_PREVENT_PROP / FORCE_* flags).</summary>
[Flags]
public enum PropagationFlags
{
    None = 0,
    Prevent = 1,
    ForceAof = 2,
    ForceReplication = 4,
}

public sealed partial class Client
{
    /// <summary>The form the current command propagates as, when it rewrote itself (null: as executed).</summary>
    internal byte[][]? PropagateArgv;
    internal PropagationFlags PropFlags;

    /// <summary>True when executed writes are consumed (AOF on or replicas attached): rewrites are worth building.</summary>
    public bool Propagating => Server.Propagation.Active;

    /// <summary>
    /// Propagates the current command as <paramref name="argv"/> instead of as executed (Redis's
    /// rewriteClientCommandVector). Callers check <see cref="Propagating"/> before building the vector.
    /// </summary>
    public void PropagateAs(params byte[][] argv) => PropagateArgv = argv;

    /// <summary>The command itself is not propagated; what it queued with <see cref="AlsoPropagate"/> still is.</summary>
    public void PreventPropagation() => PropFlags |= PropagationFlags.Prevent;

    /// <summary>Propagates the command even when it changed nothing (FLUSHALL of an empty server, PUBLISH).</summary>
    public void ForcePropagation(PropagationTarget target)
    {
        if ((target & PropagationTarget.Aof) != 0) PropFlags |= PropagationFlags.ForceAof;
        if ((target & PropagationTarget.Replication) != 0) PropFlags |= PropagationFlags.ForceReplication;
    }

    /// <summary>Queues one more command to propagate after this one, in the current database.</summary>
    public void AlsoPropagate(params byte[][] argv) => Server.Propagation.Add(DbIndex, argv);
}
