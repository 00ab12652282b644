namespace Redoubt.Server.Storage;

/// <summary>
/// A hash value. Small hashes are an <see cref="EntryPack"/> of alternating fields and values in
/// insertion order (OBJECT ENCODING "listpack"); once a hash holds more fields than
/// hash-max-listpack-entries, or a field or value longer than hash-max-listpack-value, it becomes a
/// <see cref="FieldTable"/> ("hashtable") for good, as in Redis.
///
/// Elements are addressed by a position for iteration: the byte offset of the field in the pack, or
/// the slot in the table. <see cref="First"/>/<see cref="NextPosition"/> walk them.
/// </summary>
public sealed class HashObject : RedisObject
{
    private EntryPack _pack;
    private FieldTable? _table;

    /// <summary>Listpacks are limited to 1 GB in Redis; past that even a short hash uses a table.</summary>
    private const long PackSafetyLimit = 1L << 30;

    public HashObject(byte[] key) : base(key) { }

    private HashObject(byte[] key, EntryPack pack, FieldTable? table) : base(key)
    {
        _pack = pack;
        _table = table;
    }

    public override RedisType Type => RedisType.Hash;
    public override string Encoding => _table == null ? "listpack" : "hashtable";
    public bool IsPacked => _table == null;
    public int Count => _table?.Count ?? _pack.Count / 2;

    // The object itself: header 16, key reference and accounted size 16, the pack struct 16, the table reference 8.
    public override long MemoryUsage => 56 + (_table?.MemoryUsage ?? _pack.MemoryUsage);

    public override RedisObject Clone(byte[] newKey) => new HashObject(newKey, _pack.Clone(), _table?.Clone());

    /// <summary>The underlying table, or null while packed (HSCAN walks its buckets).</summary>
    public FieldTable? Table => _table;

    public bool TryGet(ReadOnlySpan<byte> field, out ReadOnlySpan<byte> value)
    {
        if (_table != null)
        {
            int slot = _table.Find(field);
            value = slot >= 0 ? _table.ValueAt(slot) : default;
            return slot >= 0;
        }
        int offset = _pack.Find(field, 2);
        if (offset < 0)
        {
            value = default;
            return false;
        }
        _pack.Read(offset, out int next);
        value = _pack.Read(next, out _);
        return true;
    }

    public bool Exists(ReadOnlySpan<byte> field) => _table != null ? _table.Find(field) >= 0 : _pack.Find(field, 2) >= 0;

    /// <summary>
    /// Redis's hashTypeTryConversion for one argument about to be written: converts to a table when it is
    /// longer than <paramref name="maxValue"/> or would push the pack past its size limit.
    /// </summary>
    public void ConvertIfTooLong(int length, long pendingBytes, long maxValue)
    {
        if (_table != null) return;
        if (length > maxValue || _pack.ByteLength + pendingBytes > PackSafetyLimit) ConvertToTable();
    }

    /// <summary>
    /// Redis's hashTypeSet: sets <paramref name="field"/> (copied) to <paramref name="value"/>, converting
    /// to a table when a limit is crossed. Returns true when the field existed (an update).
    /// </summary>
    public bool Set(ReadOnlySpan<byte> field, ReadOnlySpan<byte> value, long maxEntries, long maxValue)
    {
        if (_table == null && (field.Length > maxValue || value.Length > maxValue)) ConvertToTable();
        if (_table != null) return _table.Set(field, value);

        int offset = _pack.Find(field, 2);
        if (offset >= 0)
        {
            _pack.Read(offset, out int valueOffset);
            _pack.Replace(valueOffset, value);
            return true;
        }
        _pack.Append(field);
        _pack.Append(value);
        if (Count > maxEntries) ConvertToTable();
        return false;
    }

    /// <summary>
    /// Loading a small hash from a file whose fields are trusted to be distinct (no sanitization asked):
    /// appends without looking for the field, converting to a table past the limits as Set would.
    /// Returns true when the field turned out to be present already (seen only once in table form).
    /// </summary>
    public bool AppendLoaded(ReadOnlySpan<byte> field, ReadOnlySpan<byte> value, long maxEntries, long maxValue)
    {
        if (_table == null && (field.Length > maxValue || value.Length > maxValue || Count >= maxEntries)) ConvertToTable();
        if (_table != null) return _table.Set(field, value);
        _pack.Append(field);
        _pack.Append(value);
        return false;
    }

    /// <summary>Sizes the compact form for about <paramref name="bytes"/> of fields and values.</summary>
    public void ReservePacked(int bytes)
    {
        if (_table == null) _pack.Reserve(bytes);
    }

    /// <summary>Removes <paramref name="field"/>; false when absent.</summary>
    public bool Delete(ReadOnlySpan<byte> field)
    {
        if (_table != null) return _table.Remove(field);
        int offset = _pack.Find(field, 2);
        if (offset < 0) return false;
        _pack.Remove(offset, 2);
        return true;
    }

    public void ConvertToTable()
    {
        if (_table != null) return;
        var table = new FieldTable(withValues: true, Count);
        int offset = 0;
        while (_pack.Next(ref offset, out var field))
        {
            _pack.Next(ref offset, out var value);
            // Set, not a blind insert: a pack loaded without sanitization may repeat a field, and the
            // table must still hold each field once (the last value wins).
            table.Set(field, value);
        }
        _table = table;
        _pack = default;
    }

    // ---- positions ----------------------------------------------------------------------------

    /// <summary>The first element's position, or -1 when empty.</summary>
    public int First() => _table != null ? _table.NextSlot(0) : (_pack.Count > 0 ? 0 : -1);

    /// <summary>The position after <paramref name="pos"/>, or -1.</summary>
    public int NextPosition(int pos)
    {
        if (_table != null) return _table.NextSlot(pos + 1);
        _pack.Read(pos, out int valueOffset);
        _pack.Read(valueOffset, out int next);
        return next < _pack.ByteLength ? next : -1;
    }

    public ReadOnlySpan<byte> FieldAt(int pos) => _table != null ? _table.KeyAt(pos) : _pack.Read(pos, out _);

    public ReadOnlySpan<byte> ValueAt(int pos)
    {
        if (_table != null) return _table.ValueAt(pos);
        _pack.Read(pos, out int valueOffset);
        return _pack.Read(valueOffset, out _);
    }

    /// <summary>
    /// Fills <paramref name="positions"/> with the position of every element (packed hashes only), so
    /// random picks among them cost O(1) after one pass.
    /// </summary>
    public void CollectPackedPositions(Span<int> positions) => _pack.CollectOffsets(positions, 2);

    /// <summary>A uniformly random element's position; the hash must not be empty.</summary>
    public int RandomPosition(Random rng)
    {
        if (_table != null) return _table.RandomSlot(rng);
        return _pack.OffsetOf(rng.Next(Count) * 2);
    }
}
