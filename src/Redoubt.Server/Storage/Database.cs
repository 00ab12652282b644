using Redoubt.Server.Persistence;

namespace Redoubt.Server.Storage;

/// <summary>What a database tells the server about: expirations (to propagate DEL and notify) and writes (WATCH).</summary>
public interface IKeyspaceHooks
{
    /// <summary>True on a replica: expired keys are hidden but only the master deletes them.</summary>
    bool IsReplica { get; }
    /// <summary>True while a dataset loads (an AOF replays): nothing expires until the load is over, as in Redis.</summary>
    bool LoadingDataset => false;
    /// <summary>True while the master's stream is applied: its commands see keys whether or not they expired.</summary>
    bool ApplyingMasterStream => false;
    /// <summary>True while a write runs on a writable replica: an expired key it finds is deleted first (Redis's force-delete rule).</summary>
    bool DeleteExpiredOnReplica => false;
    /// <summary>An expire was set on a key (a writable replica tracks the keys its own clients gave a TTL).</summary>
    void OnExpireSet(Database db, int slot) { }
    /// <summary>Current LRU/LFU stamp for a key just accessed.</summary>
    int AccessStamp(int previousMeta);
    /// <summary>LRU/LFU stamp of a key just created (under LFU a new key starts with a small count).</summary>
    int NewKeyStamp() => AccessStamp(0);
    /// <summary>Where lookups note values that may be edited in place, for memory accounting (null: not tracked).</summary>
    MemoryLedger? Ledger => null;
    /// <summary>Whether a key table may allocate this many more bytes (false when it would pass maxmemory).</summary>
    bool ExpandAllowed(long moreBytes) => true;
    void OnKeyExpired(Database db, byte[] key);
    void OnKeyMissOrHit(bool hit);
    /// <summary>A read lookup found nothing (the "keymiss" keyspace event).</summary>
    void OnKeyMiss(Database db, ReadOnlySpan<byte> key) { }
    /// <summary>True while clients are paused (CLIENT PAUSE): expired keys look absent but are not deleted.</summary>
    bool ExpiryPaused => false;
    /// <summary>A key was created, including by RENAME, MOVE and COPY (the "new" keyspace event).</summary>
    void OnKeyAdded(Database db, ReadOnlySpan<byte> key) { }
}

/// <summary>
/// One of the numbered databases: the key table, the expire index, and the rules for lazy expiry
/// and access tracking that every lookup goes through.
/// </summary>
public sealed partial class Database
{
    public readonly int Id;
    private KeyTable _keys;
    private ExpireIndex _expires = new();
    private readonly IKeyspaceHooks _hooks;
    private readonly MemoryLedger? _ledger;
    private readonly Func<long, bool> _expandAllowed;

    /// <summary>Incremented on every modification of a key in this db (WATCH compares per-key versions later).</summary>
    public long Version;

    /// <summary>
    /// The running snapshot's record of this table, or null (nearly always): every slot read for a
    /// command or changed goes through <see cref="SnapshotTable.Touch"/> first while it is set, and new
    /// slots through <see cref="SnapshotTable.MarkNew"/>. A single null test when no snapshot runs.
    /// </summary>
    internal SnapshotTable? Snap;

    /// <summary>Starts following this table's changes for <paramref name="snapshot"/> (under the lock).</summary>
    internal SnapshotTable AttachSnapshot(Snapshot snapshot) => Snap = new SnapshotTable(snapshot, Id, _keys, _expires);

    /// <summary>Stops following changes for <paramref name="table"/> if this database holds it.</summary>
    internal void DetachSnapshot(SnapshotTable table)
    {
        if (Snap == table) Snap = null;
    }

    public Database(int id, IKeyspaceHooks hooks)
    {
        Id = id;
        _hooks = hooks;
        _ledger = hooks.Ledger;
        _expandAllowed = hooks.ExpandAllowed;
        _keys = new KeyTable(Random.Shared.Next()) { ExpandAllowed = _expandAllowed };
    }

    public int Count => _keys.Count;
    public int ExpiresCount => _expires.Count;
    public KeyTable Table => _keys;
    public int BucketCount => _keys.BucketCount;

    public static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>
    /// Finds a live key's slot, expiring it first if its time has passed (on a master it is deleted;
    /// on a replica it only looks absent, unless <paramref name="seeExpired"/> as for the master link).
    /// </summary>
    public int FindLive(ReadOnlySpan<byte> key, bool seeExpired = false)
    {
        int slot = _keys.Find(key);
        if (slot < 0) return -1;
        // Whoever looks a key up may change it: a running snapshot records it first.
        Snap?.Touch(slot);
        ref var e = ref _keys.At(slot);
        if ((e.Meta & KeyTable.HasExpireBit) != 0 && _expires.TryGet(slot, out long when) && when < NowMs())
        {
            if (_hooks.LoadingDataset) return slot;
            if (_hooks.IsReplica)
            {
                if (seeExpired || _hooks.ApplyingMasterStream) return slot;
                if (!_hooks.DeleteExpiredOnReplica) return -1;
            }
            if (_hooks.ExpiryPaused) return -1;
            ExpireSlot(slot);
            return -1;
        }
        // Whoever found a hash, set or sorted set may now edit it in place: have its size measured again.
        if (e.Obj is RedisObject ro) _ledger?.Touch(_keys, ro);
        return slot;
    }

    /// <summary>Lookup for reading: counts a hit or miss and updates the access stamp unless <paramref name="noTouch"/>.</summary>
    public object? LookupRead(ReadOnlySpan<byte> key, bool noTouch = false)
    {
        int slot = FindLive(key);
        if (slot < 0)
        {
            _hooks.OnKeyMissOrHit(false);
            _hooks.OnKeyMiss(this, key);
            return null;
        }
        _hooks.OnKeyMissOrHit(true);
        ref var e = ref _keys.At(slot);
        if (!noTouch) e.Meta = (e.Meta & KeyTable.KeptOnRestamp) | (_hooks.AccessStamp(e.Meta & KeyTable.LruMask) & KeyTable.LruMask);
        return e.Obj;
    }

    /// <summary>Lookup for writing: no hit/miss statistics.</summary>
    public object? LookupWrite(ReadOnlySpan<byte> key)
    {
        int slot = FindLive(key);
        if (slot < 0) return null;
        ref var e = ref _keys.At(slot);
        e.Meta = (e.Meta & KeyTable.KeptOnRestamp) | (_hooks.AccessStamp(e.Meta & KeyTable.LruMask) & KeyTable.LruMask);
        return e.Obj;
    }

    /// <summary>Lookup without side effects other than lazy expiry (TYPE with no-touch, EXISTS...).</summary>
    public object? Peek(ReadOnlySpan<byte> key)
    {
        int slot = FindLive(key);
        return slot < 0 ? null : _keys.At(slot).Obj;
    }

    /// <summary>
    /// Stores <paramref name="obj"/> under its key, replacing any value. Like Redis's setKey, an existing
    /// TTL is dropped unless <paramref name="keepTtl"/>.
    /// </summary>
    public void Set(object obj, bool keepTtl = false)
    {
        var key = KeyTable.KeyOf(obj);
        int slot = _keys.Find(key);
        if (slot >= 0)
        {
            Snap?.Touch(slot);
            _keys.Replace(slot, obj);
            ref var e = ref _keys.At(slot);
            if (!keepTtl && (e.Meta & KeyTable.HasExpireBit) != 0)
            {
                _expires.Remove(slot);
                e.Meta &= ~KeyTable.HasExpireBit;
            }
        }
        else
        {
            int added = _keys.Add(obj, _hooks.NewKeyStamp() & KeyTable.LruMask);
            Snap?.MarkNew(added);
            _hooks.OnKeyAdded(this, key);
        }
        if (obj is RedisObject ro) _ledger?.Touch(_keys, ro);
        Version++;
    }

    /// <summary>Adds a key known to be absent (after a failed lookup); returns its slot.</summary>
    /// <summary>Room for <paramref name="count"/> keys before a load fills an empty database (RESIZEDB).</summary>
    public void Reserve(long count)
    {
        if (_keys.Count == 0 && Snap is null && count > 0) _keys.Reserve((int)Math.Min(count, int.MaxValue));
    }

    public int Add(object obj)
    {
        int slot = _keys.Add(obj, _hooks.NewKeyStamp() & KeyTable.LruMask);
        Added(obj, slot);
        return slot;
    }

    /// <summary>
    /// Adds <paramref name="obj"/> unless its key is present: the new slot, or ~slot (negative) of the key
    /// already there. <paramref name="hash"/> is the key's <see cref="KeyTable.PrefetchHash"/>.
    /// </summary>
    public int AddIfAbsent(object obj, int hash)
    {
        int slot = _keys.AddIfAbsent(obj, _hooks.NewKeyStamp() & KeyTable.LruMask, hash);
        if (slot >= 0) Added(obj, slot);
        return slot;
    }

    private void Added(object obj, int slot)
    {
        Version++;
        Snap?.MarkNew(slot);
        // A new hash, set or sorted set is usually filled after it is added.
        if (obj is RedisObject ro) _ledger?.Touch(_keys, ro);
        _hooks.OnKeyAdded(this, KeyTable.KeyOf(obj));
    }

    /// <summary>Replaces the object at a slot with one carrying the same key, keeping TTL and access data.</summary>
    public void ReplaceAt(int slot, object obj)
    {
        Snap?.Touch(slot);
        _keys.Replace(slot, obj);
        Version++;
    }

    /// <summary>The object at a slot; the caller may edit it, so a running snapshot records it first.</summary>
    public object ObjectAt(int slot)
    {
        Snap?.Touch(slot);
        return _keys.At(slot).Obj!;
    }
    public int MetaAt(int slot) => _keys.At(slot).Meta & KeyTable.LruMask;
    public void SetMetaAt(int slot, int meta) { Snap?.Touch(slot); ref var e = ref _keys.At(slot); e.Meta = (e.Meta & KeyTable.KeptOnRestamp) | (meta & KeyTable.LruMask); }

    public bool Delete(ReadOnlySpan<byte> key)
    {
        int slot = FindLive(key);
        if (slot < 0) return false;
        RemoveSlot(slot);
        return true;
    }

    public object RemoveSlot(int slot)
    {
        Snap?.Touch(slot);
        ref var e = ref _keys.At(slot);
        if ((e.Meta & KeyTable.HasExpireBit) != 0) _expires.Remove(slot);
        Version++;
        return _keys.Remove(slot);
    }

    /// <summary>Expire time in unix ms of the key at <paramref name="slot"/>, or -1.</summary>
    public long GetExpire(int slot)
    {
        if ((_keys.At(slot).Meta & KeyTable.HasExpireBit) == 0) return -1;
        return _expires.TryGet(slot, out long when) ? when : -1;
    }

    public void SetExpire(int slot, long whenMs)
    {
        Snap?.Touch(slot);
        _expires.Set(slot, whenMs);
        _keys.At(slot).Meta |= KeyTable.HasExpireBit;
        Version++;
        _hooks.OnExpireSet(this, slot);
    }

    /// <summary>
    /// Deletes <paramref name="key"/> if its time has passed, whatever the role (a writable replica's own
    /// keys). Returns false when the key is gone or has no expire any more (nothing left to watch).
    /// </summary>
    public bool ExpireOwnKeyIfDue(ReadOnlySpan<byte> key)
    {
        int slot = _keys.Find(key);
        if (slot < 0 || (_keys.At(slot).Meta & KeyTable.HasExpireBit) == 0 || !_expires.TryGet(slot, out long when)) return false;
        if (when >= NowMs()) return true;
        Snap?.Touch(slot);
        ExpireSlot(slot);
        return false;
    }

    public bool RemoveExpire(int slot)
    {
        Snap?.Touch(slot);
        ref var e = ref _keys.At(slot);
        if ((e.Meta & KeyTable.HasExpireBit) == 0) return false;
        _expires.Remove(slot);
        e.Meta &= ~KeyTable.HasExpireBit;
        Version++;
        return true;
    }

    private void ExpireSlot(int slot)
    {
        var obj = RemoveSlot(slot);
        _hooks.OnKeyExpired(this, KeyTable.KeyOf(obj).ToArray());
    }

    /// <summary>Empties the database (FLUSHDB); returns how many keys were removed.</summary>
    public long Clear()
    {
        long n = _keys.Count;
        // A running snapshot keeps the old table (nothing changes it any more) and reads it in its turn.
        if (Snap != null) Snap.Released = true;
        Snap = null;
        _keys = new KeyTable(Random.Shared.Next()) { ExpandAllowed = _expandAllowed };
        _expires = new ExpireIndex();
        Version++;
        return n;
    }

    /// <summary>Exchanges contents with another database (SWAPDB).</summary>
    public void SwapContents(Database other)
    {
        (_keys, other._keys) = (other._keys, _keys);
        (_expires, other._expires) = (other._expires, _expires);
        // A snapshot's record follows its table: it writes it under the number the table had at the start.
        (Snap, other.Snap) = (other.Snap, Snap);
        Version++;
        other.Version++;
    }

    /// <summary>True when the key at <paramref name="slot"/> has a TTL that has already passed.</summary>
    public bool IsLogicallyExpired(int slot, long now)
        => (_keys.At(slot).Meta & KeyTable.HasExpireBit) != 0 && _expires.TryGet(slot, out long w) && w < now;
}
