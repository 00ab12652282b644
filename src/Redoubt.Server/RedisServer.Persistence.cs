using Redoubt.Server.Persistence;

namespace Redoubt.Server;

public sealed partial class RedisServer
{
    /// <summary>
    /// Creates a sink that encodes a snapshot as an RDB file (set by the RDB layer). The snapshot machinery
    /// (SAVE, BGSAVE, save points, full resync) asks for one per snapshot.
    /// </summary>
    public Func<ISnapshotSink>? RdbSinkFactory;
}
