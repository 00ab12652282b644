using System.Diagnostics;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Persistence;

/// <summary>What a load found besides the keys: the AUX fields the replication layer needs, and counts.</summary>
public sealed class RdbLoadResult
{
    public string? ReplId;
    public long ReplOffset = -1;
    public int ReplStreamDb = -1;
    public bool AofBase;
    public long KeysLoaded, KeysExpired, EmptyKeysSkipped;
    /// <summary>Keys dropped because they had expired (a master propagates their deletion after a restart).</summary>
    public readonly List<(int Db, byte[] Key)> ExpiredKeys = new();
    /// <summary>Bytes the RDB took (header to checksum): where what follows it starts.</summary>
    public long ConsumedBytes;
    public readonly List<(string Key, string Value)> Aux = new();
}

/// <summary>How a load treats what is already in memory and expired keys.</summary>
[Flags]
public enum RdbLoadFlags
{
    None = 0,
    /// <summary>A key already present is replaced (DEBUG RELOAD MERGE) instead of being a fatal duplicate.</summary>
    AllowDuplicates = 1,
    /// <summary>Keep already expired keys (an AOF's RDB preamble: the AOF tail decides).</summary>
    AofPreamble = 2,
}

/// <summary>A load that failed; <see cref="Offset"/> is where in the input it stopped.</summary>
public sealed class RdbLoadException(string message, long offset, bool shortRead, string where) : Exception(message)
{
    public long Offset { get; } = offset;
    public bool ShortRead { get; } = shortRead;
    public string Where { get; } = where;

    /// <summary>The log lines Redis prints for this failure.</summary>
    public IEnumerable<string> LogLines(string file)
    {
        if (ShortRead) yield return "Short read or OOM loading DB. Unrecoverable error, aborting now.";
        yield return $"Internal error in RDB reading offset {Offset}, function at {Where} -> {Message} (file {file})";
    }
}

/// <summary>
/// Loads RDB files and payloads into the server's databases (Redis's rdbLoad). The whole input is
/// parsed in chunks under the server lock, releasing it between chunks so that a listening server keeps
/// answering (with -LOADING) while a large file loads.
/// </summary>
public static class RdbLoader
{
    /// <summary>
    /// Keys parsed before they are added together. Adding a key waits on two cache misses (its
    /// bucket, and the chain's first entry) on a keyspace larger than the cache; asked for while the
    /// next keys are parsed, they arrive together instead of one after another.
    /// </summary>
    private const int InsertBatch = 16;

    /// <summary>A parsed key waiting for its batch to be added.</summary>
    private struct PendingKey
    {
        public object Value;
        public int Hash;
        public long ExpireAt, Idle;
        public int Freq;
    }

    /// <summary>At most this many expired keys are remembered for propagation (beyond, replicas resync fully anyway).</summary>
    private const int MaxExpiredKeysKept = 1_000_000;

    /// <summary>
    /// Loads the RDB file at <paramref name="path"/> (start-up, DEBUG RELOAD, an AOF's RDB base). Must be
    /// called without holding the server lock. Throws <see cref="RdbLoadException"/> on corruption.
    /// </summary>
    public static RdbLoadResult LoadFile(RedisServer server, string path, RdbLoadFlags flags = RdbLoadFlags.None)
    {
        using var file = File.OpenHandle(path);
        return Load(server, file, flags, lockHeld: false);
    }

    /// <summary>Loads the whole file open as <paramref name="file"/>, read through a window rather than into memory at once.</summary>
    public static RdbLoadResult Load(RedisServer server, SafeFileHandle file, RdbLoadFlags flags, bool lockHeld)
        => Load(server, new RdbReader(file, 0), RandomAccess.GetLength(file), flags, lockHeld);

    /// <summary>
    /// Loads an RDB from <paramref name="stream"/>'s current position (an AOF's RDB base or preamble),
    /// keeping keys already expired (the AOF decides), and leaves the stream just after it.
    /// </summary>
    public static RdbLoadResult LoadFromStream(RedisServer server, Stream stream)
    {
        long start = stream.Position;
        RdbLoadResult result;
        if (stream is FileStream fs)
        {
            result = Load(server, new RdbReader(fs.SafeFileHandle, start), fs.Length - start, RdbLoadFlags.AofPreamble, lockHeld: false);
        }
        else
        {
            var ms = new MemoryStream();
            stream.CopyTo(ms);
            result = Load(server, ms.GetBuffer(), 0, (int)ms.Length, RdbLoadFlags.AofPreamble, lockHeld: false);
        }
        stream.Position = start + result.ConsumedBytes;
        return result;
    }

    public static RdbLoadResult Load(RedisServer server, byte[] data, int start, int length, RdbLoadFlags flags, bool lockHeld)
        => Load(server, new RdbReader(data, start, length), length, flags, lockHeld);

    private static RdbLoadResult Load(RedisServer server, RdbReader r, long length, RdbLoadFlags flags, bool lockHeld)
    {
        var st = server.PersistenceStatus;
        var result = new RdbLoadResult();
        long interval = Math.Max(1024, server.Config.LoadingProcessEventsIntervalBytes);
        bool holding = lockHeld;
        bool wasLoading = st.Loading;
        bool noGc = SuspendCollections(length);
        try
        {
            if (!holding) { server.Sync.Enter(); holding = true; }
            st.Loading = true;
            st.LoadingStartTime = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            st.LoadingTotalBytes = length;
            st.LoadingLoadedBytes = 0;
            long nextYield = interval;

            var magic = r.ReadRawSpan(9);
            if (!magic[..5].SequenceEqual("REDIS"u8)) throw new RdbFormatException("Wrong signature trying to load DB from file");
            int version = int.Parse(Encoding.ASCII.GetString(magic[5..]));
            if (version < 1 || version > Rdb.Version) throw new RdbFormatException($"Can't handle RDB format version {version}");

            var db = server.Databases[0];
            long expireAt = -1, idle = -1;
            int freq = -1;
            long now = server.NowMs;
            bool deep = server.Config.SanitizeDumpPayload == "yes";
            long keyDelay = server.Config.KeyLoadDelay;
            var pending = new PendingKey[InsertBatch];
            int pendingCount = 0;
            while (true)
            {
                if (!lockHeld && r.Offset >= nextYield)
                {
                    AddPending(server, db, pending, ref pendingCount, flags, result);
                    // Let clients in (they get -LOADING) and report progress.
                    st.LoadingLoadedBytes = r.Offset;
                    server.Sync.Exit();
                    holding = false;
                    Thread.Yield();
                    server.Sync.Enter();
                    holding = true;
                    nextYield = r.Offset + interval;
                }
                byte type = r.ReadByte();
                // Anything but a key (a database switch, the end, a library) sees the keys before it added.
                if (!Rdb.IsObjectType(type) && type is not (Rdb.OpExpireTime or Rdb.OpExpireTimeMs or Rdb.OpFreq or Rdb.OpIdle))
                    AddPending(server, db, pending, ref pendingCount, flags, result);
                switch (type)
                {
                    case Rdb.OpExpireTime:
                        expireAt = r.ReadInt32LE() * 1000L;
                        continue;
                    case Rdb.OpExpireTimeMs:
                        expireAt = r.ReadInt64LE();
                        continue;
                    case Rdb.OpFreq:
                        freq = r.ReadByte();
                        continue;
                    case Rdb.OpIdle:
                        idle = (long)r.ReadLen();
                        continue;
                    case Rdb.OpEof:
                        goto done;
                    case Rdb.OpSelectDb:
                    {
                        ulong id = r.ReadLen();
                        if (id >= (ulong)server.Databases.Length)
                            throw new RdbFormatException($"FATAL: Data file was created with a Redis server configured to handle more than {server.Databases.Length} databases. Exiting");
                        db = server.Databases[(int)id];
                        continue;
                    }
                    case Rdb.OpResizeDb:
                    {
                        // The key count sizes the table up front: no rehash while a million keys arrive.
                        ulong dbSize = r.ReadLen();
                        r.ReadLen();
                        db.Reserve((long)Math.Min(dbSize, int.MaxValue));
                        continue;
                    }
                    case Rdb.OpAux:
                        ReadAux(server, r, result);
                        continue;
                    case Rdb.OpModuleAux:
                        throw new RdbFormatException("The RDB file contains AUX module data, which this server cannot load (modules are not supported)");
                    case Rdb.OpFunction2:
                    {
                        // A library: loaded at once (replacing one of the same name, as on DEBUG RELOAD).
                        var code = r.ReadStringBytes();
                        if (server.RestoreFunctionLibraries([code], replace: true) is string libraryError)
                            throw new RdbFormatException("Failed loading library: " + libraryError);
                        continue;
                    }
                    case Rdb.OpFunction:
                        throw new RdbFormatException("Pre-GA function format not supported");
                }
                if (!Rdb.IsObjectType(type)) throw new RdbFormatException($"Unknown RDB encoding type {type}");
                var keySpan = r.ReadStringSpan();
                object? value;
                byte[]? keyArray = null;
                // A string key and value become one record: one allocation per key on the common path.
                if (type == Rdb.TypeString && r.LastInPlace) value = StringRecord.Create(keySpan, r.ReadStringSpan());
                else
                {
                    keyArray = keySpan.ToArray();
                    try { value = RdbObjects.Read(r, type, keyArray, server, deep); }
                    catch (RdbFormatException e) { throw new RdbFormatException(RdbObjects.CorruptionMessage(e, type)); }
                }
                if (keyDelay > 0) Thread.Sleep(TimeSpan.FromMicroseconds(keyDelay));
                long thisExpire = expireAt;
                expireAt = -1;
                long thisIdle = idle; int thisFreq = freq;
                idle = -1; freq = -1;
                if (value == null)
                {
                    // Older Redis versions could write empty collections: skipped, and counted, as Redis does.
                    if (result.EmptyKeysSkipped++ < 10)
                        server.Log.Warning($"rdbLoadObject skipping empty key: {Encoding.Latin1.GetString(keyArray!)}");
                    continue;
                }
                if (!server.IsReplica && (flags & RdbLoadFlags.AofPreamble) == 0 && thisExpire != -1 && thisExpire < now)
                {
                    result.KeysExpired++;
                    if (result.ExpiredKeys.Count < MaxExpiredKeysKept) result.ExpiredKeys.Add((db.Id, keyArray ?? KeyTable.KeyOf(value).ToArray()));
                    continue;
                }
                var table = db.Table;
                int hash = table.PrefetchHash(KeyTable.KeyOf(value));
                table.PrefetchBucket(hash);
                pending[pendingCount++] = new PendingKey { Value = value, Hash = hash, ExpireAt = thisExpire, Idle = thisIdle, Freq = thisFreq };
                if (pendingCount == InsertBatch) AddPending(server, db, pending, ref pendingCount, flags, result);
            }
        done:
            if (version >= 5)
            {
                ulong actual = r.ChecksumOfConsumed();
                ulong expected = (ulong)r.ReadInt64LE();
                if (server.Config.RdbChecksum && !server.SkipChecksumValidation)
                {
                    if (expected == 0)
                        server.Log.Warning("RDB file was saved with checksum disabled: no check performed.");
                    else
                    {
                        if (actual != expected)
                        {
                            server.Log.Warning($"Wrong RDB checksum expected: ({expected:x}) but got ({actual:x}). Aborting now.");
                            throw new RdbFormatException("RDB CRC error");
                        }
                    }
                }
            }
            st.RdbLastLoadKeysLoaded = result.KeysLoaded;
            st.RdbLastLoadKeysExpired = result.KeysExpired;
            st.LoadingLoadedBytes = r.Offset;
            result.ConsumedBytes = r.Offset;
            if (result.EmptyKeysSkipped > 0)
                server.Log.Warning($"Done loading RDB, keys loaded: {result.KeysLoaded}, keys expired: {result.KeysExpired}, empty keys skipped: {result.EmptyKeysSkipped}.");
            else
                server.Log.Notice($"Done loading RDB, keys loaded: {result.KeysLoaded}, keys expired: {result.KeysExpired}.");
            return result;
        }
        catch (RdbShortReadException e)
        {
            throw new RdbLoadException(e.Message, e.Offset, true, "RdbLoader.Load");
        }
        catch (RdbFormatException e)
        {
            throw new RdbLoadException(e.Message, r.Offset, false, "RdbLoader.Load");
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException or FormatException)
        {
            throw new RdbLoadException("Corrupt RDB data: " + e.Message, r.Offset, false, "RdbLoader.Load");
        }
        finally
        {
            // An AOF load around this one keeps its own loading state.
            st.Loading = wasLoading;
            if (noGc) ResumeCollections();
            if (holding && !lockHeld) server.Sync.Exit();
        }
    }

    /// <summary>Adds the batch of parsed keys to <paramref name="db"/>, their chains' first entries asked for first.</summary>
    private static void AddPending(RedisServer server, Database db, PendingKey[] pending, ref int count, RdbLoadFlags flags, RdbLoadResult result)
    {
        var table = db.Table;
        for (int i = 0; i < count; i++) table.PrefetchChainHead(pending[i].Hash);
        for (int i = 0; i < count; i++)
        {
            ref var p = ref pending[i];
            var value = p.Value;
            p.Value = null!;
            int slot = db.AddIfAbsent(value, p.Hash);
            if (slot < 0)
            {
                if ((flags & RdbLoadFlags.AllowDuplicates) == 0)
                {
                    count = 0;
                    throw new RdbFormatException($"Duplicated key '{Encoding.Latin1.GetString(KeyTable.KeyOf(value))}' found in RDB file (DB {db.Id})");
                }
                db.RemoveSlot(~slot);
                slot = db.Add(value);
            }
            if (p.ExpireAt != -1) db.SetExpire(slot, p.ExpireAt);
            if (p.Idle >= 0 && !server.LfuPolicy)
            {
                long clock = server.LruClock;
                long stamp = clock - p.Idle;
                if (stamp < 0) stamp += KeyTable.LruMask;
                db.SetMetaAt(slot, (int)stamp);
            }
            else if (p.Freq >= 0 && server.LfuPolicy) db.SetMetaAt(slot, (server.LfuMinutes() << 8) | p.Freq);
            result.KeysLoaded++;
        }
        count = 0;
    }

    /// <summary>
    /// Nearly everything a load allocates survives it, so collections during the load only copy live
    /// objects from generation to generation (measured: a quarter of a 300k-hash load went to them).
    /// The runtime is asked for room for eight times the input without collecting (a mixed dataset of
    /// small values takes about that much in memory; the room is reserved, not touched); past that it
    /// collects as usual. False when it declined or the input is small.
    /// </summary>
    private static bool SuspendCollections(long inputBytes)
    {
        // Small inputs are not worth the full collection that starting the region costs.
        if (inputBytes < 8L << 20) return false;
        try { return GC.TryStartNoGCRegion(Math.Clamp(inputBytes * 8, 16L << 20, 1L << 30)); }
        catch (Exception e) when (e is ArgumentOutOfRangeException or InvalidOperationException or OutOfMemoryException) { return false; }
    }

    private static void ResumeCollections()
    {
        // The region has already ended by itself when the load allocated more than it asked for.
        if (System.Runtime.GCSettings.LatencyMode != System.Runtime.GCLatencyMode.NoGCRegion) return;
        try { GC.EndNoGCRegion(); }
        catch (InvalidOperationException) { }
    }

    private static void ReadAux(RedisServer server, RdbReader r, RdbLoadResult result)
    {
        string key = r.ReadStringText();
        string value = r.ReadStringText();
        result.Aux.Add((key, value));
        var log = server.Log;
        switch (key)
        {
            case "repl-stream-db":
                if (int.TryParse(value, out int sdb)) result.ReplStreamDb = sdb;
                break;
            case "repl-id":
                if (value.Length == 40) result.ReplId = value;
                break;
            case "repl-offset":
                if (long.TryParse(value, out long off)) result.ReplOffset = off;
                break;
            case "redis-ver":
                log.Notice($"Loading RDB produced by version {value}");
                break;
            case "ctime":
                if (long.TryParse(value, out long ctime))
                {
                    long age = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - ctime;
                    log.Notice($"RDB age {Math.Max(0, age)} seconds");
                }
                break;
            case "used-mem":
                if (long.TryParse(value, out long mem)) log.Notice($"RDB memory usage when created {mem / (1024.0 * 1024):F2} Mb");
                break;
            case "aof-preamble" or "aof-base":
                result.AofBase = value == "1";
                break;
            default:
                if (key.StartsWith('%')) log.Notice($"RDB '{key}': {value}");
                break;
        }
    }
}
