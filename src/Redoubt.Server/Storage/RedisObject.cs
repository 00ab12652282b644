namespace Redoubt.Server.Storage;

public enum RedisType : byte { String = 0, List = 1, Set = 2, ZSet = 3, Hash = 4, Stream = 6 }

/// <summary>
/// A stored value of a non-string type. Strings are not RedisObjects: they are packed with their key
/// into one byte array (see <see cref="StringRecord"/>) to keep per-key memory near Redis's.
/// </summary>
public abstract class RedisObject
{
    public byte[] Key;

    /// <summary>
    /// What the owning database's memory figure counts for this object (key and value), or -1 while
    /// it is in no database. Kept here so a change of size is found by comparing with
    /// <see cref="MemoryUsage"/> (see <see cref="Database"/>'s memory accounting).
    /// </summary>
    internal long AccountedBytes = -1;

    protected RedisObject(byte[] key) => Key = key;

    public abstract RedisType Type { get; }

    /// <summary>The OBJECT ENCODING name Redis would report for this value now.</summary>
    public abstract string Encoding { get; }

    /// <summary>A deep copy under a new key (COPY).</summary>
    public abstract RedisObject Clone(byte[] newKey);

    /// <summary>Approximate bytes of memory held (MEMORY USAGE, eviction accounting).</summary>
    public abstract long MemoryUsage { get; }

    public static string TypeName(RedisType t) => t switch
    {
        RedisType.String => "string",
        RedisType.List => "list",
        RedisType.Set => "set",
        RedisType.ZSet => "zset",
        RedisType.Hash => "hash",
        RedisType.Stream => "stream",
        _ => "none",
    };
}
