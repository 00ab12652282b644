using Redoubt.Server.Storage;

namespace Redoubt.Server;

public sealed partial class RedisServer
{
    /// <summary>zset-max-listpack-entries and zset-max-listpack-value, read on every write that may grow a compact set.</summary>
    public ZSetLimits ZSetLimits => new(Config.ZsetMaxListpackEntries, Config.ZsetMaxListpackValue);

    /// <summary>Positions collected by ZSCAN before replying (reused under the lock, so a call allocates no list).</summary>
    internal readonly List<int> ZSetScanScratch = new();
}
