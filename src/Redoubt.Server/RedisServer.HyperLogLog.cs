using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>HyperLogLog state: the hll-sparse-max-bytes setting and the scratch space the HLL commands reuse.</summary>
public sealed partial class RedisServer
{
    private HllBuffer? _hllScratch;
    private byte[]? _hllRegisters;

    /// <summary>
    /// Working copy for HLL edits that change a value's length. Commands run one at a time under
    /// <see cref="Sync"/>, so one per server suffices.
    /// </summary>
    internal HllBuffer HllScratch => _hllScratch ??= new HllBuffer();

    /// <summary>One byte per register, for the unions PFCOUNT and PFMERGE compute (cleared by the caller).</summary>
    internal byte[] HllRegisters => _hllRegisters ??= new byte[HyperLogLog.Registers];

    /// <summary>hll-sparse-max-bytes: the size past which a sparse HLL is promoted to dense.</summary>
    public long HllSparseMaxBytes() => Config.HllSparseMaxBytes;
}
