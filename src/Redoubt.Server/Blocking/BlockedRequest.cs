using Redoubt.Server.Commands;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Blocking;

/// <summary>What a client can block on (BLOCKED_LIST, BLOCKED_ZSET, BLOCKED_STREAM, and WAIT for replicas without keys).</summary>
public enum BlockType : byte { Wait = 0, List = 1, ZSet = 2, Stream = 3, Shutdown = 4 }

/// <summary>
/// What a client blocked on keys is waiting for. Each blocking command family subclasses it with its
/// own arguments (which end to pop, the destination of BLMOVE, a stream ID...) and says how to serve
/// the client once one of its keys is signaled ready. The registry owns the bookkeeping fields.
/// </summary>
public abstract class BlockedRequest
{
    public abstract BlockType Type { get; }

    /// <summary>The database the client blocked in (it cannot change while blocked).</summary>
    public Database Db { get; internal set; } = null!;

    /// <summary>The keys waited on, each once, in the order given.</summary>
    public List<byte[]> Keys { get; } = new();

    /// <summary>Absolute unix time in ms after which the client times out; 0 waits forever.</summary>
    public long TimeoutMs { get; init; }

    /// <summary>The blocked command and its arguments (kept for statistics and for CLIENT LIST while blocked).</summary>
    public Command Command { get; internal set; } = null!;
    public byte[][] Argv { get; internal set; } = [];

    // The client's place in each key's queue of waiters, by index in Keys.
    internal LinkedListNode<Client>[] Places = [];
    internal long TimeoutSeq;
    internal bool InTimeoutTable;

    /// <summary>
    /// Called, in blocking order, for each client waiting on <paramref name="key"/> after the key was
    /// signaled ready (also when the key has since been deleted or changed type). Replies to
    /// <paramref name="receiver"/> and returns true when it has been served (an error reply counts:
    /// the client is released either way); false leaves it blocked.
    /// </summary>
    public abstract bool TryServe(Client receiver, byte[] key);

    /// <summary>The reply when the timeout passes (or CLIENT UNBLOCK ... TIMEOUT): a null array, as Redis sends for keys.</summary>
    public virtual void ReplyTimeout(Client c) => c.Reply.NullArray();
}
