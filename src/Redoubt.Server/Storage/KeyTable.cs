using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Redoubt.Server.Storage;

/// <summary>
/// The main dictionary of one database: key -> stored object (a packed string record or a RedisObject).
///
/// Chained hashing over a power-of-two bucket array, with entries in one struct array so a key costs
/// one 16-byte entry plus a 4-byte bucket. The key lives inside the stored object, so no hash or key
/// reference is kept per entry. Entry slots stay put while commands run (growth copies them in
/// place), which lets the expire index refer to keys by slot; only the cron's <see cref="Compact"/>
/// moves them, after mass deletions, reporting each move. SCAN uses Redis's reverse-binary cursor over
/// buckets, so every key present for the whole scan is returned even if the table grows or shrinks
/// between calls.
/// </summary>
public sealed class KeyTable
{
    public struct Entry
    {
        public object? Obj;
        /// <summary>Next slot in the bucket chain (-1 = end); for free slots, encodes the next free slot.</summary>
        public int Next;
        /// <summary>LRU clock or LFU data (24 bits) and <see cref="HasExpireBit"/>.</summary>
        public int Meta;
    }

    public const int HasExpireBit = 1 << 24;
    public const int LruMask = (1 << 24) - 1;
    /// <summary>
    /// The top 7 bits of each entry's <see cref="Entry.Meta"/> hold the same bits of its key's hash, so a
    /// chain walk skips entries of other keys without loading their objects (a cache miss each on a
    /// large keyspace: skipping them made an RDB load of 1M keys 20% faster). The bucket index takes
    /// the low bits, so the two are independent below 2^25 buckets.
    /// </summary>
    public const int TagMask = unchecked((int)0xFE000000);
    /// <summary>What a new LRU/LFU stamp must leave in <see cref="Entry.Meta"/>.</summary>
    public const int KeptOnRestamp = HasExpireBit | TagMask;
    private const int MinBuckets = 16;
    private const int StartOfFreeList = -3;

    private int[] _buckets;   // slot + 1, 0 = empty bucket
    private Entry[] _entries;
    private int _used;        // slots ever handed out (high-water mark)
    private int _freeList = -1;
    private int _freeCount;
    private readonly int _seed;

    public KeyTable(int seed)
    {
        _seed = seed;
        _buckets = new int[MinBuckets];
        _entries = new Entry[MinBuckets];
    }

    public int Count => _used - _freeCount;
    public int BucketCount => _buckets.Length;

    /// <summary>
    /// Asked before the table allocates more room, with the bytes it would add: false when that would
    /// take memory over maxmemory (Redis's dictExpandAllowed). Then the buckets stay as they are until
    /// chains average 1.618 keys, and the entry array grows by a sixteenth instead of doubling, so
    /// reaching a table's doubling point at the memory limit does not evict thousands of keys at once.
    /// </summary>
    public Func<long, bool>? ExpandAllowed;

    private const double MaxLoadFactor = 1.618;

    /// <summary>
    /// Bytes of the stored objects (string records; keys and values of other types), as counted when
    /// they were stored or last measured. Kept by <see cref="Database"/>; it lives here so that it
    /// travels with the contents (SWAPDB) and goes with them (FLUSHDB).
    /// </summary>
    public long ValueBytes;

    /// <summary>Memory a stored object takes: the record for a string, the key array plus the value's estimate otherwise.</summary>
    public static long SizeOf(object obj)
    {
        if (obj is byte[] rec) return ArrayBytes(rec.Length);
        var ro = (RedisObject)obj;
        return ArrayBytes(ro.Key.Length) + ro.MemoryUsage;
    }

    /// <summary>Counts an object that was just stored.</summary>
    private void CountIn(object obj)
    {
        long size = SizeOf(obj);
        if (obj is RedisObject ro) ro.AccountedBytes = size;
        ValueBytes += size;
    }

    /// <summary>Stops counting an object that was just removed.</summary>
    private void CountOut(object obj)
    {
        if (obj is RedisObject ro)
        {
            if (ro.AccountedBytes > 0) ValueBytes -= ro.AccountedBytes;
            ro.AccountedBytes = -1;
        }
        else ValueBytes -= SizeOf(obj);
    }

    /// <summary>Moves the figure by how much a stored object grew or shrank since it was last counted.</summary>
    public void Remeasure(RedisObject ro)
    {
        long before = ro.AccountedBytes;
        // Removed since it was noted: nothing of it is counted any more.
        if (before < 0) return;
        long now = SizeOf(ro);
        ValueBytes += now - before;
        ro.AccountedBytes = now;
    }

    /// <summary>Bytes of the table's own arrays (entries and buckets, with their spare capacity).</summary>
    public long StructureBytes => ArrayBytes(_entries.Length * 16L) + ArrayBytes(_buckets.Length * 4L);

    /// <summary>A managed array's size: 24 bytes of header and length, the data rounded up to 8.</summary>
    internal static long ArrayBytes(long dataBytes) => 24 + ((dataBytes + 7) & ~7L);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ReadOnlySpan<byte> KeyOf(object obj)
        => obj is byte[] rec ? StringRecord.Key(rec) : ((RedisObject)obj).Key;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Hash(ReadOnlySpan<byte> key)
    {
        var h = new HashCode();
        h.Add(_seed);
        h.AddBytes(key);
        return h.ToHashCode();
    }

    /// <summary>The hash of <paramref name="key"/> for the prefetch stages below (its low bits pick the bucket, its top bits are the tag).</summary>
    public int PrefetchHash(ReadOnlySpan<byte> key) => Hash(key);

    // Prefetch stages for a batch of pipelined lookups. A lookup is three dependent loads (bucket, entry,
    // stored object), each usually a cache miss in a big keyspace; issuing one stage for every key of a
    // batch before the next stage lets the misses overlap instead of queueing one after another. Each
    // stage is only a hint: a hash from before the table was resized just picks another bucket.

    /// <summary>Stage 1: asks for the bucket's cache line.</summary>
    public unsafe void PrefetchBucket(int hash)
    {
        if (Sse.IsSupported) Sse.Prefetch0(Unsafe.AsPointer(ref _buckets[hash & (_buckets.Length - 1)]));
    }

    /// <summary>Stage 2: asks for the first entry of the bucket's chain (the bucket is cached by now).</summary>
    public unsafe void PrefetchChainHead(int hash)
    {
        int i = _buckets[hash & (_buckets.Length - 1)] - 1;
        if (Sse.IsSupported && (uint)i < (uint)_entries.Length) Sse.Prefetch0(Unsafe.AsPointer(ref _entries[i]));
    }

    /// <summary>
    /// Stage 3: when the chain head carries the key's tag, asks for the start of its stored object (where
    /// a string record keeps its key); otherwise for the next entry of the chain, where the key may be.
    /// </summary>
    public unsafe void PrefetchChainHeadObject(int hash)
    {
        int i = _buckets[hash & (_buckets.Length - 1)] - 1;
        if (!Sse.IsSupported || (uint)i >= (uint)_entries.Length) return;
        ref var head = ref _entries[i];
        if ((head.Meta & TagMask) != (hash & TagMask))
        {
            if ((uint)head.Next < (uint)_entries.Length) Sse.Prefetch0(Unsafe.AsPointer(ref _entries[head.Next]));
            return;
        }
        object? obj = head.Obj;
        if (obj != null) Sse.Prefetch0((void*)Unsafe.As<object, nint>(ref obj));
    }

    /// <summary>The object stored under <paramref name="key"/> (whose <see cref="PrefetchHash"/> is given), or null: for prefetching only.</summary>
    public object? PeekForPrefetch(ReadOnlySpan<byte> key, int hash)
    {
        int slot = FindHashed(key, hash);
        return slot >= 0 ? _entries[slot].Obj : null;
    }

    /// <summary>Slot of <paramref name="key"/>, or -1.</summary>
    public int Find(ReadOnlySpan<byte> key) => FindHashed(key, Hash(key));

    /// <summary>Slot of <paramref name="key"/> whose <see cref="Hash"/> is <paramref name="hash"/>, or -1: entries of other tags are skipped unread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int FindHashed(ReadOnlySpan<byte> key, int hash)
    {
        var entries = _entries;
        int tag = hash & TagMask;
        int i = _buckets[hash & (_buckets.Length - 1)] - 1;
        while ((uint)i < (uint)entries.Length)
        {
            ref var e = ref entries[i];
            if ((e.Meta & TagMask) == tag && KeyOf(e.Obj!).SequenceEqual(key)) return i;
            i = e.Next;
        }
        return -1;
    }

    public ref Entry At(int slot) => ref _entries[slot];

    /// <summary>Adds a new key (the caller knows it is absent); returns its slot.</summary>
    public int Add(object obj, int meta)
    {
        if (Count >= _buckets.Length && BucketGrowthAllowed()) Resize(_buckets.Length * 2);
        return Insert(obj, meta, Hash(KeyOf(obj)));
    }

    /// <summary>
    /// Adds <paramref name="obj"/> unless its key is present, hashing the key once for both (an RDB
    /// load checks every key for a duplicate). Returns the new slot, or the complement (~slot, negative)
    /// of the slot already holding the key.
    /// </summary>
    public int AddIfAbsent(object obj, int meta) => AddIfAbsent(obj, meta, Hash(KeyOf(obj)));

    /// <summary><see cref="AddIfAbsent(object, int)"/> with the key's <see cref="PrefetchHash"/> already taken.</summary>
    public int AddIfAbsent(object obj, int meta, int hash)
    {
        if (Count >= _buckets.Length && BucketGrowthAllowed()) Resize(_buckets.Length * 2);
        int existing = FindHashed(KeyOf(obj), hash);
        return existing >= 0 ? ~existing : Insert(obj, meta, hash);
    }

    private int Insert(object obj, int meta, int hash)
    {
        int slot;
        if (_freeCount > 0)
        {
            slot = _freeList;
            _freeList = StartOfFreeList - _entries[slot].Next;
            _freeCount--;
        }
        else
        {
            if (_used == _entries.Length) GrowEntries();
            slot = _used++;
        }
        ref int bucket = ref _buckets[hash & (_buckets.Length - 1)];
        ref var e = ref _entries[slot];
        e.Obj = obj;
        e.Meta = (meta & ~TagMask) | (hash & TagMask);
        e.Next = bucket - 1;
        bucket = slot + 1;
        CountIn(obj);
        return slot;
    }

    /// <summary>
    /// Sizes the table for <paramref name="count"/> keys at once (an RDB's RESIZEDB hint), so that
    /// adding them rehashes nothing; skipped when maxmemory would not allow the room.
    /// </summary>
    public void Reserve(int count)
    {
        if (count <= _buckets.Length || count > 1 << 28) return;
        int buckets = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)count);
        if (ExpandAllowed != null && !ExpandAllowed(buckets * 4L + (long)(count - _entries.Length) * 16)) return;
        if (_entries.Length < count) Array.Resize(ref _entries, count);
        Resize(buckets);
    }

    private bool BucketGrowthAllowed()
        => ExpandAllowed is null || Count >= _buckets.Length * MaxLoadFactor || ExpandAllowed(_buckets.Length * 4L);

    private void GrowEntries()
    {
        int length = _entries.Length;
        int size = length * 2;
        if (ExpandAllowed != null && !ExpandAllowed(length * 16L)) size = length + Math.Max(MinBuckets, length / 16);
        Array.Resize(ref _entries, size);
    }

    /// <summary>
    /// Replaces the object stored in <paramref name="slot"/>; the new object must carry the same key.
    /// Storing the same object again means it was edited in place: its size is measured again.
    /// </summary>
    public void Replace(int slot, object obj)
    {
        ref var e = ref _entries[slot];
        var old = e.Obj!;
        if (ReferenceEquals(old, obj))
        {
            if (obj is RedisObject ro) Remeasure(ro);
            return;
        }
        CountOut(old);
        e.Obj = obj;
        CountIn(obj);
    }

    /// <summary>Removes the key at <paramref name="slot"/>; returns the object that was there.</summary>
    public object Remove(int slot)
    {
        ref var e = ref _entries[slot];
        var obj = e.Obj!;
        ref int bucket = ref _buckets[Hash(KeyOf(obj)) & (_buckets.Length - 1)];
        int i = bucket - 1, prev = -1;
        while (i != slot)
        {
            prev = i;
            i = _entries[i].Next;
        }
        if (prev < 0) bucket = e.Next + 1;
        else _entries[prev].Next = e.Next;
        e.Obj = null;
        e.Meta = 0;
        e.Next = StartOfFreeList - _freeList;
        _freeList = slot;
        _freeCount++;
        CountOut(obj);
        if (Count == 0) Clear();
        else if (_buckets.Length > MinBuckets && Count < _buckets.Length / 8) Resize(_buckets.Length / 2);
        return obj;
    }

    public void Clear()
    {
        ValueBytes = 0;
        _buckets = new int[MinBuckets];
        _entries = new Entry[MinBuckets];
        _used = 0;
        _freeList = -1;
        _freeCount = 0;
    }

    private void Resize(int newSize)
    {
        if (newSize < MinBuckets) newSize = MinBuckets;
        var buckets = new int[newSize];
        int mask = newSize - 1;
        var entries = _entries;
        for (int i = 0; i < _used; i++)
        {
            ref var e = ref entries[i];
            if (e.Obj is null) continue;
            ref int b = ref buckets[Hash(KeyOf(e.Obj)) & mask];
            e.Next = b - 1;
            b = i + 1;
        }
        _buckets = buckets;
    }

    /// <summary>
    /// Appends the objects in the bucket at <paramref name="cursor"/> to <paramref name="found"/> and
    /// returns the next cursor (0 = done). The cursor's low bits select the bucket and it advances by
    /// incrementing its bits reversed (Redis's dictScan): growing the table splits a bucket into ones
    /// the cursor has yet to reach, and shrinking merges it into one it has reached or will reach, so
    /// a key present for the whole scan is returned at least once whatever resizes happen between calls.
    /// </summary>
    public ulong ScanBucket(ulong cursor, List<object> found)
    {
        if (Count == 0) return 0;
        ulong mask = (ulong)(_buckets.Length - 1);
        int i = _buckets[(int)(cursor & mask)] - 1;
        while (i >= 0)
        {
            ref var e = ref _entries[i];
            found.Add(e.Obj!);
            i = e.Next;
        }
        cursor |= ~mask;
        cursor = ReverseBits(cursor);
        cursor++;
        cursor = ReverseBits(cursor);
        return cursor;
    }

    private static ulong ReverseBits(ulong v)
    {
        v = ((v >> 1) & 0x5555555555555555UL) | ((v & 0x5555555555555555UL) << 1);
        v = ((v >> 2) & 0x3333333333333333UL) | ((v & 0x3333333333333333UL) << 2);
        v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FUL) | ((v & 0x0F0F0F0F0F0F0F0FUL) << 4);
        v = ((v >> 8) & 0x00FF00FF00FF00FFUL) | ((v & 0x00FF00FF00FF00FFUL) << 8);
        v = ((v >> 16) & 0x0000FFFF0000FFFFUL) | ((v & 0x0000FFFF0000FFFFUL) << 16);
        return (v >> 32) | (v << 32);
    }

    /// <summary>A uniformly chosen occupied slot (RANDOMKEY, eviction sampling); -1 when empty.</summary>
    public int RandomSlot(Random rng)
    {
        if (Count == 0) return -1;
        // Slots are at least a quarter occupied once the cron has compacted the table, so a few
        // random probes almost always hit; after a burst of deletions a forward walk bounds the cost.
        for (int tries = 0; tries < 64; tries++)
        {
            int slot = rng.Next(_used);
            if (_entries[slot].Obj != null) return slot;
        }
        int start = rng.Next(_used);
        for (int n = 0; n < _used; n++)
        {
            int slot = start + n < _used ? start + n : start + n - _used;
            if (_entries[slot].Obj != null) return slot;
        }
        return -1;
    }

    /// <summary>True when so few of the handed-out slots are still used that <see cref="Compact"/> is worth its O(n).</summary>
    public bool NeedsCompaction => _used > MinBuckets && Count < _used / 4;

    /// <summary>
    /// Moves entries down into free slots so the slots in use are [0, Count), shrinks the entry array and
    /// rebuilds the buckets. Slots are stable between calls of this, so callers that index by slot (the
    /// expire index) are told of every move. Called from the cron, never while a command holds a slot.
    /// </summary>
    public void Compact(Action<int, int> moved)
    {
        int count = Count;
        if (count == 0)
        {
            Clear();
            return;
        }
        var entries = _entries;
        int lo = 0, hi = _used - 1;
        while (true)
        {
            while (lo < hi && entries[lo].Obj != null) lo++;
            while (hi > lo && entries[hi].Obj == null) hi--;
            if (lo >= hi) break;
            entries[lo] = entries[hi];
            entries[hi] = default;
            moved(hi, lo);
        }
        int size = MinBuckets;
        while (size < count) size *= 2;
        if (size < entries.Length)
        {
            var smaller = new Entry[size];
            Array.Copy(entries, smaller, count);
            _entries = smaller;
        }
        else
        {
            Array.Clear(entries, count, _used - count);
        }
        _used = count;
        _freeList = -1;
        _freeCount = 0;
        Resize(_buckets.Length);
    }

    /// <summary>All occupied slots, in slot order (KEYS, FLUSH, SAVE). Callers must not mutate while enumerating.</summary>
    public IEnumerable<int> Slots()
    {
        for (int i = 0; i < _used; i++)
            if (_entries[i].Obj != null) yield return i;
    }

    public int SlotLimit => _used;
    public bool IsOccupied(int slot) => _entries[slot].Obj != null;
}
