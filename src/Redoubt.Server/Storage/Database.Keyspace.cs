namespace Redoubt.Server.Storage;

/// <summary>
/// Whole-key operations of the generic commands (RENAME, MOVE, COPY, SCAN, RANDOMKEY), active expiry's
/// sweep over the expire index, and the cron's table maintenance.
/// </summary>
public sealed partial class Database
{
    /// <summary>Running average of the remaining TTL (ms) of keys seen by active expiry (INFO keyspace avg_ttl).</summary>
    public long AvgTtl;

    /// <summary>Slot of <paramref name="key"/> whether or not it is logically expired; -1 when absent.</summary>
    public int FindRaw(ReadOnlySpan<byte> key) => _keys.Find(key);

    /// <summary>True when the key is present but its time has passed (Redis's keyIsExpired: nothing is deleted).</summary>
    public bool KeyIsExpired(ReadOnlySpan<byte> key)
    {
        int slot = _keys.Find(key);
        return slot >= 0 && IsLogicallyExpired(slot, NowMs());
    }

    /// <summary>
    /// Slot of a live key for reading (Redis's lookupKeyRead): counts a hit or miss, stamps the access
    /// unless <paramref name="noTouch"/>, and reports a miss unless <paramref name="noNotify"/>.
    /// </summary>
    public int FindForRead(ReadOnlySpan<byte> key, bool noTouch = false, bool noNotify = false)
    {
        int slot = FindLive(key);
        _hooks.OnKeyMissOrHit(slot >= 0);
        if (slot < 0 && !noNotify) _hooks.OnKeyMiss(this, key);
        if (slot >= 0 && !noTouch) Stamp(slot);
        return slot;
    }

    /// <summary>Slot of a live key for writing (Redis's lookupKeyWrite): stamps the access, no statistics.</summary>
    public int FindForWrite(ReadOnlySpan<byte> key)
    {
        int slot = FindLive(key);
        if (slot >= 0) Stamp(slot);
        return slot;
    }

    private void Stamp(int slot)
    {
        ref var e = ref _keys.At(slot);
        e.Meta = (e.Meta & KeyTable.KeptOnRestamp) | (_hooks.AccessStamp(e.Meta & KeyTable.LruMask) & KeyTable.LruMask);
    }

    /// <summary>SWAPDB: exchanges contents and the expiry statistics that belong to them.</summary>
    public void SwapWith(Database other)
    {
        SwapContents(other);
        (AvgTtl, other.AvgTtl) = (other.AvgTtl, AvgTtl);
    }

    /// <summary>The stored object with its key replaced: a new record for strings, the same object re-keyed otherwise.</summary>
    private static object WithKey(object obj, ReadOnlySpan<byte> newKey)
    {
        if (obj is byte[] rec) return StringRecord.Create(newKey, StringRecord.Value(rec));
        var ro = (RedisObject)obj;
        ro.Key = newKey.ToArray();
        return ro;
    }

    /// <summary>An independent copy of a stored object under <paramref name="newKey"/> (COPY).</summary>
    public static object Duplicate(object obj, ReadOnlySpan<byte> newKey)
        => obj is byte[] rec ? StringRecord.Create(newKey, StringRecord.Value(rec)) : ((RedisObject)obj).Clone(newKey.ToArray());

    /// <summary>
    /// Gives the key at <paramref name="slot"/> the name <paramref name="newKey"/>, keeping its TTL and
    /// access data. The caller has removed any key already named <paramref name="newKey"/>.
    /// </summary>
    public void Rename(int slot, ReadOnlySpan<byte> newKey)
    {
        int meta = _keys.At(slot).Meta & KeyTable.LruMask;
        long expire = GetExpire(slot);
        // The table finds an entry's bucket through the key inside the object: unlink before re-keying.
        var obj = RemoveSlot(slot);
        AddDetached(WithKey(obj, newKey), meta, expire);
    }

    /// <summary>Moves the key at <paramref name="slot"/> to <paramref name="dst"/> with its TTL and access data (MOVE).</summary>
    public void MoveTo(int slot, Database dst)
    {
        int meta = _keys.At(slot).Meta & KeyTable.LruMask;
        long expire = GetExpire(slot);
        var obj = RemoveSlot(slot);
        dst.AddDetached(obj, meta, expire);
    }

    /// <summary>Adds a key known to be absent with the given access data and expire (-1 = none).</summary>
    private void AddDetached(object obj, int meta, long expire)
    {
        int slot = _keys.Add(obj, meta);
        Snap?.MarkNew(slot);
        if (expire >= 0) SetExpire(slot, expire);
        Version++;
        _hooks.OnKeyAdded(this, KeyTable.KeyOf(obj));
    }

    /// <summary>Appends the objects of one bucket to <paramref name="found"/>; returns the next SCAN cursor.</summary>
    public ulong ScanStep(ulong cursor, List<object> found) => _keys.ScanBucket(cursor, found);

    /// <summary>
    /// A random live key's slot, or -1 when the database is empty (Redis's dbRandomKey): expired keys met
    /// on the way are deleted on a master; on a replica whose keys all have a TTL it gives up after 100
    /// tries and may return one that is already logically expired.
    /// </summary>
    public int RandomLiveSlot(Random rng)
    {
        int maxTries = 100;
        bool allVolatile = _keys.Count == _expires.Count;
        long now = NowMs();
        while (true)
        {
            int slot = _keys.RandomSlot(rng);
            if (slot < 0) return -1;
            if ((_keys.At(slot).Meta & KeyTable.HasExpireBit) != 0)
            {
                if (allVolatile && _hooks.IsReplica && --maxTries == 0) return slot;
                if (IsLogicallyExpired(slot, now))
                {
                    if (!_hooks.IsReplica) ExpireSlot(slot);
                    continue;
                }
            }
            return slot;
        }
    }

    /// <summary>
    /// One pass of active expiry over this database (Redis's activeExpireCycle inner loop): walks the
    /// expire index from where the previous pass stopped, checking up to <paramref name="maxKeys"/> keys
    /// (and at most 20 positions per key, so sparse stretches cannot stall it), deleting expired ones.
    /// Returns how many keys were checked and expired; adds the remaining TTLs seen to the sums.
    /// </summary>
    public (int Sampled, int Expired) ActiveExpirePass(int maxKeys, long now, ref long ttlSum, ref int ttlSamples)
    {
        if (_hooks.IsReplica) return (0, 0);
        int num = _expires.Count;
        if (num == 0) return (0, 0);
        if (num > maxKeys) num = maxKeys;
        int maxPositions = num * 20, visited = 0, sampled = 0, expired = 0;
        while (sampled < num && visited < maxPositions && _expires.Count > 0)
        {
            visited++;
            if (_expires.TryGetAt(_expires.SweepCursor, out int slot, out long when))
            {
                sampled++;
                if (now > when)
                {
                    ExpireSlot(slot);
                    expired++;
                    // Deletion shifts the following entries back into this position: look at it again.
                    continue;
                }
                ttlSum += when - now;
                ttlSamples++;
            }
            _expires.SweepCursor++;
        }
        return (sampled, expired);
    }

    /// <summary>
    /// Cron maintenance (Redis's tryResizeHashTables): after many deletions, compacts the key table so
    /// its memory and random sampling track the live key count, re-keying moved slots' expires.
    /// </summary>
    public void Maintain()
    {
        // Compaction moves entries between slots, which a running snapshot's per-slot record cannot follow.
        if (Snap != null || !_keys.NeedsCompaction) return;
        _keys.Compact(MoveExpire);
    }

    private void MoveExpire(int from, int to)
    {
        if ((_keys.At(to).Meta & KeyTable.HasExpireBit) == 0) return;
        if (_expires.TryGet(from, out long when))
        {
            _expires.Remove(from);
            _expires.Set(to, when);
        }
    }
}
