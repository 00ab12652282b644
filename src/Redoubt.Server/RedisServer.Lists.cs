using Redoubt.Server.Storage;

namespace Redoubt.Server;

public sealed partial class RedisServer
{
    /// <summary>
    /// list-max-listpack-size for lists created from now on: positive, elements per node; -1..-5, nodes
    /// of at most 4, 8, 16, 32 or 64 KB. Redis 7.0's default is -2. The config directive writes it.
    /// </summary>
    public int ListMaxListpackSize { get; set; } = ListObject.DefaultFill;
}
