namespace Redoubt.Server.Propagation;

/// <summary>Where a propagated command goes: the AOF, replicas, or both (PUBLISH reaches replicas only).</summary>
[Flags]
public enum PropagationTarget
{
    None = 0,
    Aof = 1,
    Replication = 2,
    All = Aof | Replication,
}

/// <summary>
/// A reader of the stream of executed writes (the AOF writer, the replication backlog). Called under the
/// server lock, in execution order, with RESP-encoded commands; a SELECT is fed first whenever the
/// database differs from the last one this consumer's target was given. The bytes belong to the stream
/// and are shared by every consumer: copy what must outlive the call.
/// </summary>
public interface IPropagationConsumer
{
    /// <summary>Which commands this consumer receives.</summary>
    PropagationTarget Target { get; }

    /// <summary>One encoded command (or SELECT), in order.</summary>
    void Feed(ReadOnlySpan<byte> resp);
}
