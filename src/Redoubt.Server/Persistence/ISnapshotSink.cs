namespace Redoubt.Server.Persistence;

/// <summary>
/// Receives a point-in-time copy of the keyspace, database by database: the RDB writer (files, full
/// resync, DEBUG RELOAD) and the AOF rewriter implement it; the snapshot iterator drives it.
/// </summary>
/// <remarks>
/// <see cref="Begin"/>, <see cref="BeginDatabase"/>, <see cref="WriteEntry"/> and <see cref="End"/> are
/// called under the server lock (by the snapshot's iterating thread in chunks, or by a command's thread
/// that must record a value before changing it), so they only encode into memory. <see cref="FlushTo"/>
/// is called by the snapshot's writer thread without the lock, possibly while another thread is in
/// <see cref="WriteEntry"/>: implementations synchronize the hand-over of their buffered bytes.
/// Entries of one database may arrive in any slot order, but never interleaved with another database's.
/// </remarks>
public interface ISnapshotSink
{
    /// <summary>Writes what precedes the first database (the RDB header and AUX fields).</summary>
    void Begin(RedisServer server);

    /// <summary>Starts database <paramref name="dbId"/> (RDB: SELECTDB and RESIZEDB with these sizes).</summary>
    void BeginDatabase(int dbId, long keyCount, long expireCount);

    /// <summary>
    /// Records one key and its value as they were when the snapshot began. <paramref name="value"/> is what
    /// the key table stores: a string record (<c>byte[]</c>, see <c>StringRecord</c>) or a
    /// <see cref="Storage.RedisObject"/>, each carrying its key. <paramref name="expireAtMs"/> is -1 when the
    /// key has no expire; <paramref name="meta"/> is the entry's 24-bit LRU/LFU stamp.
    /// </summary>
    void WriteEntry(object value, long expireAtMs, int meta);

    /// <summary>Writes what follows the last database (the RDB EOF opcode and checksum).</summary>
    void End();

    /// <summary>Bytes encoded and not yet handed to <see cref="FlushTo"/>.</summary>
    long BufferedBytes { get; }

    /// <summary>Moves the bytes encoded so far to <paramref name="destination"/> (a file or a replica's socket).</summary>
    void FlushTo(Stream destination);
}
