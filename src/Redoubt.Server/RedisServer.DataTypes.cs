namespace Redoubt.Server;

public sealed partial class RedisServer
{
    // Thresholds where small hashes and sets leave their compact encodings. They start at Redis 7.0's
    // defaults; the hash-max-listpack-entries, hash-max-listpack-value and set-max-intset-entries
    // directives are to be wired to these once they are declared in the config registry (CONFIG SET
    // then writes them, and the hash and set commands read them on every write).

    /// <summary>hash-max-listpack-entries: most fields a listpack hash may hold.</summary>
    public long HashMaxListpackEntries { get; set; } = 512;

    /// <summary>hash-max-listpack-value: longest field or value a listpack hash may hold.</summary>
    public long HashMaxListpackValue { get; set; } = 64;

    /// <summary>set-max-intset-entries: most members an intset may hold.</summary>
    public long SetMaxIntsetEntries { get; set; } = 512;
}
