namespace Redoubt.Server.Config;

/// <summary>Encoding thresholds of the data types (when a compact encoding converts to a full one).</summary>
public sealed partial class ServerConfig
{
    public long HashMaxListpackEntries, HashMaxListpackValue;
    public long SetMaxIntsetEntries;
    public long ZsetMaxListpackEntries, ZsetMaxListpackValue;
    /// <summary>Positive: entries per quicklist node; -1..-5: node size limit of 4, 8, 16, 32, 64 KB.</summary>
    public long ListMaxListpackSize;
    public long ListCompressDepth;
    public long StreamNodeMaxBytes, StreamNodeMaxEntries;
    public long HllSparseMaxBytes;

    partial void DeclareDataTypes()
    {
        Add(new NumberConfig("hash-max-listpack-entries", () => HashMaxListpackEntries, v => HashMaxListpackEntries = v, 512, 0, long.MaxValue)
        {
            Aliases = ["hash-max-ziplist-entries"], IsUnsigned = true,
        });
        Add(new NumberConfig("hash-max-listpack-value", () => HashMaxListpackValue, v => HashMaxListpackValue = v, 64, 0, long.MaxValue)
        {
            Aliases = ["hash-max-ziplist-value"], IsMemory = true, IsUnsigned = true,
        });
        Add(new NumberConfig("set-max-intset-entries", () => SetMaxIntsetEntries, v => SetMaxIntsetEntries = v, 512, 0, long.MaxValue) { IsUnsigned = true });
        Add(new NumberConfig("zset-max-listpack-entries", () => ZsetMaxListpackEntries, v => ZsetMaxListpackEntries = v, 128, 0, long.MaxValue)
        {
            Aliases = ["zset-max-ziplist-entries"], IsUnsigned = true,
        });
        Add(new NumberConfig("zset-max-listpack-value", () => ZsetMaxListpackValue, v => ZsetMaxListpackValue = v, 64, 0, long.MaxValue)
        {
            Aliases = ["zset-max-ziplist-value"], IsMemory = true, IsUnsigned = true,
        });
        Add(new NumberConfig("list-max-listpack-size", () => ListMaxListpackSize, v => ListMaxListpackSize = v, -2, int.MinValue, int.MaxValue)
        {
            Aliases = ["list-max-ziplist-size"],
        });
        Add(new NumberConfig("list-compress-depth", () => ListCompressDepth, v => ListCompressDepth = v, 0, 0, int.MaxValue) { Flags = ConfigFlags.Debug });
        Add(new NumberConfig("stream-node-max-bytes", () => StreamNodeMaxBytes, v => StreamNodeMaxBytes = v, 4096, 0, long.MaxValue)
        {
            IsMemory = true, IsUnsigned = true,
        });
        Add(new NumberConfig("stream-node-max-entries", () => StreamNodeMaxEntries, v => StreamNodeMaxEntries = v, 100, 0, long.MaxValue));
        Add(new NumberConfig("hll-sparse-max-bytes", () => HllSparseMaxBytes, v => HllSparseMaxBytes = v, 3000, 0, long.MaxValue)
        {
            IsMemory = true, IsUnsigned = true,
        });
    }
}
