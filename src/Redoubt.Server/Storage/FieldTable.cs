using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Redoubt.Server.Storage;

/// <summary>
/// The hash table behind large hashes and sets ("hashtable" encoding): byte-string keys, optionally
/// with a byte-string value each.
///
/// Chained hashing over a power-of-two bucket array, like Redis's dict: the table doubles when it holds
/// as many entries as buckets and halves down when less than a tenth of the buckets are used, which is
/// what lets SSCAN/HSCAN use Redis's reverse-binary cursor and still return every element present for
/// the whole scan across resizes. An entry is a 16-byte struct (key, chain link, cached hash) plus a
/// 4-byte bucket; values live in a parallel array that sets do not allocate.
/// </summary>
public sealed class FieldTable
{
    private struct Entry
    {
        public byte[]? Key;
        /// <summary>Next slot in the chain (-1 = end); for free slots, the next free slot.</summary>
        public int Next;
        public int Hash;
    }

    private const int MinBuckets = 4;

    private int[] _buckets;     // slot + 1, 0 = empty
    private Entry[] _entries;   // same length as _buckets
    private byte[]?[]? _values;
    private int _used;          // slots handed out since the last resize
    private int _freeList = -1;
    private int _freeCount;
    private long _payloadBytes; // bytes held by key and value arrays, for MEMORY USAGE

    public FieldTable(bool withValues, int capacity = 0)
    {
        int size = MinBuckets;
        while (size < capacity) size <<= 1;
        _buckets = new int[size];
        _entries = new Entry[size];
        if (withValues) _values = new byte[size][];
    }

    public int Count => _used - _freeCount;
    public bool HasValues => _values != null;
    public int BucketCount => _buckets.Length;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long ArrayBytes(int length) => 24 + ((length + 7) & ~7);

    public long MemoryUsage
        => 48 + _buckets.Length * 4L + _entries.Length * 16L + (_values == null ? 0 : _values.Length * 8L) + _payloadBytes;

    // Prefetch stages for pipelined commands on one big hash or set (see LookupPrefetcher): the
    // bucket, then the chain's first entry, each only a hint.

    /// <summary>Stage 1: asks for the bucket of the field whose <see cref="ByteArrayComparer.Hash"/> is <paramref name="hash"/>.</summary>
    public unsafe void PrefetchBucket(int hash)
    {
        if (Sse.IsSupported) Sse.Prefetch0(Unsafe.AsPointer(ref _buckets[hash & (_buckets.Length - 1)]));
    }

    /// <summary>Stage 2: asks for the first entry of that bucket's chain.</summary>
    public unsafe void PrefetchChainHead(int hash)
    {
        int i = _buckets[hash & (_buckets.Length - 1)] - 1;
        if (Sse.IsSupported && (uint)i < (uint)_entries.Length) Sse.Prefetch0(Unsafe.AsPointer(ref _entries[i]));
    }

    /// <summary>Slot holding <paramref name="key"/>, or -1.</summary>
    public int Find(ReadOnlySpan<byte> key)
    {
        int hash = ByteArrayComparer.Hash(key);
        var entries = _entries;
        int i = _buckets[hash & (_buckets.Length - 1)] - 1;
        while (i >= 0)
        {
            ref var e = ref entries[i];
            if (e.Hash == hash && key.SequenceEqual(e.Key)) return i;
            i = e.Next;
        }
        return -1;
    }

    public bool Contains(ReadOnlySpan<byte> key) => Find(key) >= 0;

    public byte[] KeyAt(int slot) => _entries[slot].Key!;
    public byte[] ValueAt(int slot) => _values![slot]!;

    /// <summary>Replaces the value in <paramref name="slot"/> (the table keeps the array).</summary>
    public void SetValueAt(int slot, byte[] value)
    {
        _payloadBytes += ArrayBytes(value.Length) - ArrayBytes(_values![slot]!.Length);
        _values[slot] = value;
    }

    /// <summary>Adds a key known to be absent; the table keeps the arrays. Returns its slot.</summary>
    public int Insert(byte[] key, byte[]? value = null)
    {
        if (Count >= _buckets.Length) Resize(_buckets.Length * 2);
        int hash = ByteArrayComparer.Hash(key);
        int slot;
        if (_freeCount > 0)
        {
            slot = _freeList;
            _freeList = _entries[slot].Next;
            _freeCount--;
        }
        else slot = _used++;
        ref int bucket = ref _buckets[hash & (_buckets.Length - 1)];
        ref var e = ref _entries[slot];
        e.Key = key;
        e.Hash = hash;
        e.Next = bucket - 1;
        bucket = slot + 1;
        _payloadBytes += ArrayBytes(key.Length);
        if (_values != null)
        {
            _values[slot] = value;
            _payloadBytes += ArrayBytes(value!.Length);
        }
        return slot;
    }

    /// <summary>Adds <paramref name="key"/> (copied) unless present; true when added. For key-only tables.</summary>
    public bool TryAdd(ReadOnlySpan<byte> key)
    {
        if (Find(key) >= 0) return false;
        Insert(key.ToArray());
        return true;
    }

    /// <summary>
    /// Sets <paramref name="key"/> to <paramref name="value"/> (both copied); true when the key existed and
    /// only its value changed. A value of the same length is overwritten in place.
    /// </summary>
    public bool Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        int slot = Find(key);
        if (slot >= 0)
        {
            var old = _values![slot]!;
            if (old.Length == value.Length) value.CopyTo(old);
            else SetValueAt(slot, value.ToArray());
            return true;
        }
        Insert(key.ToArray(), value.ToArray());
        return false;
    }

    public bool Remove(ReadOnlySpan<byte> key)
    {
        int slot = Find(key);
        if (slot < 0) return false;
        RemoveAt(slot);
        return true;
    }

    /// <summary>Removes the entry in <paramref name="slot"/>; may shrink the table (slots are renumbered then).</summary>
    public void RemoveAt(int slot)
    {
        ref var e = ref _entries[slot];
        ref int bucket = ref _buckets[e.Hash & (_buckets.Length - 1)];
        int i = bucket - 1, prev = -1;
        while (i != slot)
        {
            prev = i;
            i = _entries[i].Next;
        }
        if (prev < 0) bucket = e.Next + 1;
        else _entries[prev].Next = e.Next;
        _payloadBytes -= ArrayBytes(e.Key!.Length);
        e.Key = null;
        e.Next = _freeList;
        _freeList = slot;
        _freeCount++;
        if (_values != null)
        {
            _payloadBytes -= ArrayBytes(_values[slot]!.Length);
            _values[slot] = null;
        }
        // Redis shrinks a dict once under 10% of its buckets are in use.
        if (_buckets.Length > MinBuckets && Count * 10L < _buckets.Length) Resize(Math.Max(MinBuckets, (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(Count, 1))));
    }

    /// <summary>Rebuilds the table with <paramref name="size"/> buckets, compacting the entries into the first slots.</summary>
    private void Resize(int size)
    {
        var buckets = new int[size];
        var entries = new Entry[size];
        byte[]?[]? values = _values == null ? null : new byte[size][];
        int mask = size - 1, n = 0;
        for (int i = 0; i < _used; i++)
        {
            ref var old = ref _entries[i];
            if (old.Key is null) continue;
            ref var e = ref entries[n];
            e.Key = old.Key;
            e.Hash = old.Hash;
            ref int b = ref buckets[old.Hash & mask];
            e.Next = b - 1;
            b = n + 1;
            if (values != null) values[n] = _values![i];
            n++;
        }
        _buckets = buckets;
        _entries = entries;
        _values = values;
        _used = n;
        _freeList = -1;
        _freeCount = 0;
    }

    /// <summary>The first occupied slot at or after <paramref name="slot"/>, or -1 (iteration in slot order).</summary>
    public int NextSlot(int slot)
    {
        var entries = _entries;
        for (; slot < _used; slot++)
            if (entries[slot].Key != null) return slot;
        return -1;
    }

    /// <summary>A uniformly random occupied slot; the table must not be empty.</summary>
    public int RandomSlot(Random rng)
    {
        // At least a tenth of the slots below _used are occupied (the table shrinks below that), so
        // rejection sampling ends quickly and every entry is equally likely.
        for (int tries = 0; tries < 1000; tries++)
        {
            int slot = rng.Next(_used);
            if (_entries[slot].Key != null) return slot;
        }
        int s = NextSlot(rng.Next(_used));
        return s >= 0 ? s : NextSlot(0);
    }

    /// <summary>
    /// Adds to <paramref name="slots"/> the slots of the bucket at <paramref name="cursor"/> and returns the
    /// next cursor (0 when done), with Redis's reverse-binary increment over the masked bits.
    /// </summary>
    public ulong Scan(ulong cursor, List<int> slots)
    {
        if (Count == 0) return 0;
        ulong mask = (ulong)(_buckets.Length - 1);
        for (int i = _buckets[(int)(cursor & mask)] - 1; i >= 0; i = _entries[i].Next) slots.Add(i);
        cursor |= ~mask;
        cursor = ReverseBits(cursor);
        cursor++;
        return ReverseBits(cursor);
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

    /// <summary>A deep copy (COPY): the same keys and values in fresh arrays.</summary>
    public FieldTable Clone()
    {
        var copy = new FieldTable(_values != null, Count);
        for (int s = NextSlot(0); s >= 0; s = NextSlot(s + 1))
            copy.Insert((byte[])_entries[s].Key!.Clone(), _values == null ? null : (byte[])_values[s]!.Clone());
        return copy;
    }
}
