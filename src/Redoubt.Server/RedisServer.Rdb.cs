using Redoubt.Server.Persistence;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>RDB state: the stream conversion hooks and what the last load learned.</summary>
public sealed partial class RedisServer
{
    /// <summary>Builds a stream value from a decoded RDB stream (set by the stream type).</summary>
    public Func<byte[], RdbStreamData, RedisObject>? StreamFromRdb;

    /// <summary>Describes a stream value for RDB encoding (set by the stream type).</summary>
    public Func<RedisObject, RdbStreamData>? StreamToRdb;

    /// <summary>
    /// Run by <see cref="Start"/> once the listeners are open, before "Ready to accept connections": loads
    /// the dataset; false aborts start-up.
    /// </summary>
    public Func<bool>? LoadDataAtStartup;

    /// <summary>The replication facts of the last RDB loaded at start-up (repl-id, repl-offset), or null.</summary>
    public RdbLoadResult? LastRdbLoad;
}
