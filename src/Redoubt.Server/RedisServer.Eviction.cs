using System.Diagnostics;
using Redoubt.Server.Commands;
using Redoubt.Server.Config;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>Outcome of an eviction attempt (Redis's EVICT_OK / EVICT_RUNNING / EVICT_FAIL).</summary>
public enum EvictResult { Ok, Running, Fail }

/// <summary>
/// maxmemory enforcement (Redis's evict.c): before each command, keys are evicted by the configured
/// policy until used memory is back under maxmemory, within a time budget set by
/// maxmemory-eviction-tenacity; past it, eviction continues in small steps between commands until done.
/// LRU, LFU and volatile-ttl keep a pool of the 16 best candidates across calls, refilled by sampling
/// maxmemory-samples keys from every database, which approximates the exact order well (Redis's
/// approximated LRU). Also client eviction for maxmemory-clients, and the OOM check of the gate.
/// </summary>
public sealed partial class RedisServer
{
    /// <summary>Replication subscribes here to propagate a DEL for each evicted key.</summary>
    public event Action<Database, byte[]>? KeyEvictedHooks;

    /// <summary>
    /// Whether memory was over the limit with nothing left to evict when the current command started:
    /// scripts consult it at their first write instead of measuring again with their own stack counted.
    /// </summary>
    public bool PreCommandOomState;

    public const string OomError = "-OOM command not allowed when used memory > 'maxmemory'.";

    private const int PoolSize = 16;
    private const int PoolCachedKeyBytes = 255;

    /// <summary>One eviction candidate: a key name (in a reused buffer when short), its database and score.</summary>
    private struct PoolEntry
    {
        public ulong Idle;
        public byte[]? Key;
        public int KeyLength;
        public byte[] Cached;
        public int Db;
    }

    private PoolEntry[]? _pool;
    private int _nextRandomDb;
    private volatile bool _evictionProcRunning;
    // When memory went over the limit without being resolved (Stopwatch ticks), 0 when under it.
    private long _evictionExceededSince;
    private long _evictionExceededTotalTicks;

    // ---- state --------------------------------------------------------------

    /// <summary>
    /// Redis's getMaxmemoryState: false when used memory (less what is not counted for eviction) is
    /// over maxmemory, with how much to free.
    /// </summary>
    public bool WithinMaxMemory(out long toFree)
    {
        toFree = 0;
        ulong max = (ulong)Config.MaxMemory;
        if (max == 0) return true;
        long reported = UsedMemory();
        if ((ulong)reported <= max) return true;
        long used = Math.Max(0, reported - NotCountedForEviction);
        if ((ulong)used <= max) return true;
        toFree = (long)((ulong)used - max);
        return false;
    }

    /// <summary>
    /// Redis's overMaxmemoryAfterAlloc, inverted: whether allocating <paramref name="moreBytes"/> keeps
    /// used memory (less what is not counted for eviction) within maxmemory.
    /// </summary>
    public bool ExpandAllowed(long moreBytes)
    {
        ulong max = (ulong)Config.MaxMemory;
        if (max == 0) return true;
        long used = CountedMemory();
        if ((ulong)(used + moreBytes) <= max) return true;
        used = Math.Max(0, used - NotCountedForEviction);
        return (ulong)(used + moreBytes) <= max;
    }

    /// <summary>Whether keys may be evicted now: not while loading, on a replica that ignores maxmemory, or during a pause.</summary>
    private bool SafeToEvict()
    {
        if (PersistenceStatus.Loading) return false;
        if (IsReplica && Config.ReplicaIgnoreMaxmemory) return false;
        // A paused server keeps its data set still: no expiry and no eviction.
        if (ExpiryPaused) return false;
        return true;
    }

    /// <summary>maxmemory-eviction-tenacity as a time budget: 0..500 us linearly up to 10, then +15% a step, none at 100.</summary>
    private long EvictionTimeLimitUs()
    {
        long tenacity = Config.MaxMemoryEvictionTenacity;
        if (tenacity <= 10) return 50 * tenacity;
        if (tenacity < 100) return (long)(500.0 * Math.Pow(1.15, tenacity - 10.0));
        return long.MaxValue;
    }

    // ---- eviction -------------------------------------------------------------

    /// <summary>
    /// Redis's performEvictions: evicts keys until memory is within maxmemory, the policy forbids it
    /// (Fail), nothing is left to evict (Fail), or the time budget ran out (Running: the rest is done
    /// between commands).
    /// </summary>
    public EvictResult PerformEvictions()
    {
        // Not safe: as if nothing were needed (and the exceeded-time clock is left alone).
        if (!SafeToEvict()) return EvictResult.Ok;
        var result = EvictResult.Fail;
        if (WithinMaxMemory(out long toFree))
        {
            result = EvictResult.Ok;
        }
        else if (Policy != EvictionPolicy.NoEviction)
        {
            result = EvictKeys(toFree);
        }
        UpdateEvictionExceededTime(result);
        return result;
    }

    private EvictResult EvictKeys(long toFree)
    {
        long limitUs = EvictionTimeLimitUs();
        long start = Stopwatch.GetTimestamp();
        long freed = 0;
        int keysFreed = 0;
        var policy = Policy;
        bool pooled = policy is EvictionPolicy.AllKeysLru or EvictionPolicy.VolatileLru
            or EvictionPolicy.AllKeysLfu or EvictionPolicy.VolatileLfu or EvictionPolicy.VolatileTtl;
        bool allKeys = AllKeysPolicy;
        var result = EvictResult.Ok;
        while (freed < toFree)
        {
            var (db, slot) = pooled ? BestFromPool(allKeys) : RandomCandidate(allKeys);
            if (db is null)
            {
                // Nothing (left) to evict.
                result = EvictResult.Fail;
                break;
            }
            freed += EvictKey(db, slot);
            keysFreed++;
            if (keysFreed % 16 == 0 && ElapsedUs(start) > limitUs)
            {
                // Going on would stall clients: continue in steps between commands.
                StartEvictionProc();
                break;
            }
        }
        if (result != EvictResult.Fail) result = _evictionProcRunning ? EvictResult.Running : EvictResult.Ok;
        AddLatencySample("eviction-cycle", ElapsedUs(start) / 1000);
        return result;
    }

    private static long ElapsedUs(long startTicks) => (Stopwatch.GetTimestamp() - startTicks) * 1_000_000 / Stopwatch.Frequency;

    /// <summary>
    /// Deletes an evicted key and tells everyone (WATCH, keyspace events, replication); returns the
    /// bytes its removal freed. Only the deletion is measured: the notifications it causes use memory
    /// too (client buffers), but counting that would keep the loop from ever finishing.
    /// </summary>
    private long EvictKey(Database db, int slot)
    {
        var key = KeyTable.KeyOf(db.ObjectAt(slot)).ToArray();
        long before = db.MemoryBytes;
        long t0 = Stopwatch.GetTimestamp();
        db.RemoveSlot(slot);
        AddLatencySample("eviction-del", ElapsedUs(t0) / 1000);
        long freed = before - db.MemoryBytes;
        Stats.EvictedKeys++;
        SignalModifiedKey(db, key);
        Notify(KeyspaceEventClass.Evicted, "evicted", key, db.Id);
        KeyEvictedHooks?.Invoke(db, key);
        return freed;
    }

    /// <summary>volatile-random / allkeys-random: a random key of the next database that has one.</summary>
    private (Database?, int) RandomCandidate(bool allKeys)
    {
        var dbs = Databases;
        for (int i = 0; i < dbs.Length; i++)
        {
            _nextRandomDb = (_nextRandomDb + 1) % dbs.Length;
            var db = dbs[_nextRandomDb];
            if (allKeys)
            {
                if (db.Count == 0) continue;
                return (db, db.Table.RandomSlot(Rng));
            }
            if (db.ExpiresCount == 0) continue;
            return (db, db.SampleVolatile(Rng).Slot);
        }
        return (null, -1);
    }

    /// <summary>
    /// The best candidate of the pool, refilling it from every database as needed. Entries whose key
    /// is gone (deleted, or no longer volatile) are dropped on the way. (null, -1) when no key qualifies.
    /// </summary>
    private (Database?, int) BestFromPool(bool allKeys)
    {
        var pool = _pool ??= NewPool();
        var dbs = Databases;
        while (true)
        {
            long totalKeys = 0;
            for (int i = 0; i < dbs.Length; i++)
            {
                var db = dbs[i];
                long keys = allKeys ? db.Count : db.ExpiresCount;
                if (keys == 0) continue;
                PopulatePool(pool, i, db, allKeys);
                totalKeys += keys;
            }
            if (totalKeys == 0) return (null, -1);
            for (int k = PoolSize - 1; k >= 0; k--)
            {
                ref var e = ref pool[k];
                if (e.Key is null) continue;
                if (e.Db >= dbs.Length)
                {
                    e.Key = null;
                    continue;
                }
                var db = dbs[e.Db];
                var key = new ReadOnlySpan<byte>(e.Key, 0, e.KeyLength);
                int slot = allKeys ? db.FindRaw(key) : db.FindVolatile(key);
                e.Key = null;
                e.Idle = 0;
                if (slot >= 0) return (db, slot);
            }
        }
    }

    private static PoolEntry[] NewPool()
    {
        var pool = new PoolEntry[PoolSize];
        for (int i = 0; i < PoolSize; i++) pool[i].Cached = new byte[PoolCachedKeyBytes];
        return pool;
    }

    /// <summary>
    /// Redis's evictionPoolPopulate: samples maxmemory-samples keys of one database (all keys or those
    /// with an expire) and inserts each into the pool, kept in ascending order of score, if it scores
    /// better than the worst entry or there is room. The score is the idle time (LRU), 255 minus the
    /// decayed counter (LFU), or the inverse of the expire time (volatile-ttl).
    /// </summary>
    private void PopulatePool(PoolEntry[] pool, int dbId, Database db, bool allKeys)
    {
        long available = allKeys ? db.Count : db.ExpiresCount;
        long samples = Math.Min(Math.Max(1, Config.MaxMemorySamples), available);
        var policy = Policy;
        var table = db.Table;
        for (long j = 0; j < samples; j++)
        {
            int slot;
            long when = 0;
            if (allKeys) slot = table.RandomSlot(Rng);
            else (slot, when) = db.SampleVolatile(Rng);
            if (slot < 0) return;
            ulong idle;
            int meta = db.MetaAt(slot);
            if (policy is EvictionPolicy.AllKeysLru or EvictionPolicy.VolatileLru) idle = (ulong)EstimateIdleMs(meta);
            else if (policy is EvictionPolicy.AllKeysLfu or EvictionPolicy.VolatileLfu) idle = 255 - (ulong)LfuDecrAndReturn(meta);
            else idle = ulong.MaxValue - (ulong)when;

            // The first entry that is empty or scores at least as well as this one.
            int k = 0;
            while (k < PoolSize && pool[k].Key != null && pool[k].Idle < idle) k++;
            if (k == 0 && pool[PoolSize - 1].Key != null)
            {
                // Worse than everything in a full pool.
                continue;
            }
            if (k < PoolSize && pool[k].Key == null)
            {
                // An empty place: no shifting.
            }
            else if (pool[PoolSize - 1].Key == null)
            {
                // Room on the right: shift [k, end) right by one, reusing the last entry's buffer.
                var cached = pool[PoolSize - 1].Cached;
                Array.Copy(pool, k, pool, k + 1, PoolSize - k - 1);
                pool[k].Cached = cached;
            }
            else
            {
                // Full: drop the worst (leftmost) and shift [1, k) left, inserting at k - 1.
                k--;
                var cached = pool[0].Cached;
                Array.Copy(pool, 1, pool, 0, k);
                pool[k].Cached = cached;
            }
            var key = KeyTable.KeyOf(db.ObjectAt(slot));
            ref var e = ref pool[k];
            if (key.Length > PoolCachedKeyBytes) e.Key = key.ToArray();
            else
            {
                key.CopyTo(e.Cached);
                e.Key = e.Cached;
            }
            e.KeyLength = key.Length;
            e.Idle = idle;
            e.Db = dbId;
        }
    }

    /// <summary>
    /// Continues evicting between commands after a call ran out of time (Redis's evictionTimeProc):
    /// a background loop takes the lock for one bounded eviction step at a time until memory is within
    /// the limit or nothing is left to evict.
    /// </summary>
    private void StartEvictionProc()
    {
        if (_evictionProcRunning) return;
        _evictionProcRunning = true;
        ThreadPool.UnsafeQueueUserWorkItem(static server => server.EvictionProcLoop(), this, preferLocal: false);
    }

    private void EvictionProcLoop()
    {
        while (true)
        {
            lock (Sync)
            {
                if (ShuttingDown || PerformEvictions() != EvictResult.Running)
                {
                    _evictionProcRunning = false;
                    return;
                }
            }
            // Let clients in between steps, as the event loop would.
            Thread.Yield();
        }
    }

    /// <summary>CONFIG SET maxmemory: warns when already over it and starts evicting between commands.</summary>
    private void OnMaxMemoryChanged()
    {
        long used = Math.Max(0, UsedMemory() - NotCountedForEviction);
        ulong max = (ulong)Config.MaxMemory;
        if (max < (ulong)used)
            Log.Warning($"WARNING: the new maxmemory value set via CONFIG SET ({max}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.");
        StartEvictionProc();
    }

    // ---- statistics ---------------------------------------------------------

    private void UpdateEvictionExceededTime(EvictResult result)
    {
        if (result != EvictResult.Ok)
        {
            if (_evictionExceededSince == 0) _evictionExceededSince = Stopwatch.GetTimestamp();
        }
        else if (_evictionExceededSince != 0)
        {
            _evictionExceededTotalTicks += Stopwatch.GetTimestamp() - _evictionExceededSince;
            _evictionExceededSince = 0;
        }
    }

    /// <summary>INFO current_eviction_exceeded_time: ms since memory went over the limit unresolved (0 when under).</summary>
    public long CurrentEvictionExceededMs
        => _evictionExceededSince == 0 ? 0 : (Stopwatch.GetTimestamp() - _evictionExceededSince) * 1000 / Stopwatch.Frequency;

    /// <summary>INFO total_eviction_exceeded_time: ms spent over the limit, the current stretch included.</summary>
    public long TotalEvictionExceededMs
    {
        get
        {
            long ticks = _evictionExceededTotalTicks;
            if (_evictionExceededSince != 0) ticks += Stopwatch.GetTimestamp() - _evictionExceededSince;
            return ticks * 1000 / Stopwatch.Frequency;
        }
    }

    private void ResetEvictionStats()
    {
        _evictionExceededTotalTicks = 0;
        _evictionExceededSince = 0;
    }

    // ---- the gate -------------------------------------------------------------

    /// <summary>
    /// Redis's memory checks in processCommand, run before every command: clients over
    /// maxmemory-clients are evicted (when the running client is among them, <paramref name="selfEvicted"/>
    /// is set and the command must not run); then with maxmemory set, keys are evicted and, if memory is
    /// still over the limit, commands that may use more memory (flagged denyoom, EXEC of such commands,
    /// scripts that do not declare allow-oom) and anything queued in MULTI are refused with -OOM.
    /// </summary>
    internal string? CheckMemoryBeforeCommand(Client c, Command cmd, out bool selfEvicted)
    {
        selfEvicted = false;
        if (Config.MaxMemoryClients != 0)
        {
            EvictClients();
            if (c.MemoryUncounted && c.Connection != null)
            {
                selfEvicted = true;
                return null;
            }
        }
        if (Config.MaxMemory == 0) return null;
        bool outOfMemory = PerformEvictions() == EvictResult.Fail;
        var flags = Pause.FlagsOf(c, cmd);
        bool isExec = cmd.Name == "exec";
        if (isExec && c.MultiQueue is { Count: > 0 }) flags |= c.MultiCommandFlags;
        bool reject = (flags & CommandFlags.DenyOom) != 0;
        // Queuing in MULTI takes memory without limit: refused too, but never DISCARD or the like.
        if (c.InMulti && !isExec && cmd.Name is not ("discard" or "quit" or "reset")) reject = true;
        if (outOfMemory && reject) return OomError;
        PreCommandOomState = outOfMemory;
        return null;
    }

    // ---- client eviction (maxmemory-clients) ------------------------------------

    /// <summary>The client memory limit in bytes (a percentage applies to maxmemory), at least 128 KB; 0 for none.</summary>
    public long ClientEvictionLimit()
    {
        long setting = Config.MaxMemoryClients;
        ulong limit;
        if (setting < 0 && Config.MaxMemory != 0)
        {
            double bytes = (double)(ulong)Config.MaxMemory * -(double)setting / 100;
            limit = bytes >= long.MaxValue ? long.MaxValue : (ulong)bytes;
        }
        else if (setting > 0) limit = (ulong)setting;
        else return 0;
        // Too small a limit would leave no way to talk to the server at all.
        return (long)Math.Max(limit, 128 * 1024);
    }

    private static bool ClientEvictionAllowed(Client c)
    {
        if ((c.Flags & ClientFlags.NoEvict) != 0 || c.Connection is null || c.MemoryUncounted) return false;
        var type = GetClientType(c);
        return type is ClientType.Normal or ClientType.PubSub;
    }

    /// <summary>
    /// Redis's evictClients: while normal and pub/sub clients together hold more than the limit, the
    /// largest evictable clients (not CLIENT NO-EVICT) are disconnected, largest first.
    /// </summary>
    public void EvictClients()
    {
        long limit = ClientEvictionLimit();
        if (limit == 0 || EvictableClientsMemory < limit) return;
        var candidates = new List<Client>();
        foreach (var c in Clients.Values)
            if (ClientEvictionAllowed(c)) candidates.Add(c);
        candidates.Sort(static (a, b) => b.MemoryCounted.CompareTo(a.MemoryCounted));
        foreach (var c in candidates)
        {
            if (EvictableClientsMemory < limit) return;
            Log.Notice("Evicting client: " + ClientInfoString(c));
            Stats.EvictedClients++;
            FreeEvictedClient(c);
        }
        if (EvictableClientsMemory >= limit) Log.Warning("Over client maxmemory after evicting all evictable clients");
    }

    /// <summary>
    /// Disconnects an evicted client at once, dropping its pending output. The running client is only
    /// marked (its connection closes it after the current batch); its memory leaves the totals now.
    /// </summary>
    private void FreeEvictedClient(Client c)
    {
        UncountClient(c);
        c.Flags |= ClientFlags.CloseAsap;
        if (c == CurrentClient) return;
        c.Connection!.Close();
    }
}
