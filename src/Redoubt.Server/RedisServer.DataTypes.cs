namespace Redoubt.Server;

public sealed partial class RedisServer
{
    // Thresholds where small hashes and sets leave their compact encodings, read on every write so
    // CONFIG SET takes effect for the next one.

    /// <summary>hash-max-listpack-entries: most fields a listpack hash may hold.</summary>
    public long HashMaxListpackEntries => Config.HashMaxListpackEntries;

    /// <summary>hash-max-listpack-value: longest field or value a listpack hash may hold.</summary>
    public long HashMaxListpackValue => Config.HashMaxListpackValue;

    /// <summary>set-max-intset-entries: most members an intset may hold.</summary>
    public long SetMaxIntsetEntries => Config.SetMaxIntsetEntries;
}
