using Redoubt.Server.Protocol;

namespace Redoubt.Server.Storage;

/// <summary>
/// A set value. While every member is an integer (in Redis's strict string2ll form) and there are at
/// most set-max-intset-entries of them, the set is an <see cref="IntSet"/> (OBJECT ENCODING "intset",
/// iterated in ascending order); otherwise a key-only <see cref="FieldTable"/> ("hashtable"), for good.
/// Redis 7.0 has no listpack encoding for sets.
///
/// Members are addressed by a position for iteration and random picks: the index in the intset or the
/// slot in the table.
/// </summary>
public sealed class SetObject : RedisObject
{
    private IntSet _ints;
    private FieldTable? _table;

    /// <summary>Redis caps the intset at 2^30 members whatever the configuration says.</summary>
    private const long IntSetHardLimit = 1L << 30;

    /// <summary>Digits of the longest 64-bit integer: the scratch size for <see cref="MemberAt"/>.</summary>
    public const int ScratchSize = 20;

    /// <summary>A new empty set, which starts as an intset (Redis's createIntsetObject).</summary>
    public SetObject(byte[] key) : base(key) { }

    private SetObject(byte[] key, IntSet ints, FieldTable? table) : base(key)
    {
        _ints = ints;
        _table = table;
    }

    public override RedisType Type => RedisType.Set;
    public override string Encoding => _table == null ? "intset" : "hashtable";
    public bool IsIntSet => _table == null;
    public int Count => _table?.Count ?? _ints.Count;
    /// <summary>The intset's member width in bytes (RDB encoding).</summary>
    public int IntSetWidth => _ints.Width;

    // The object itself: header 16, key reference and accounted size 16, the intset struct 16, the table reference 8.
    public override long MemoryUsage => 56 + (_table?.MemoryUsage ?? _ints.MemoryUsage);

    public override RedisObject Clone(byte[] newKey) => new SetObject(newKey, _ints.Clone(), _table?.Clone());

    /// <summary>The underlying table, or null while an intset (SSCAN walks its buckets).</summary>
    public FieldTable? Table => _table;

    public bool Contains(ReadOnlySpan<byte> member)
    {
        if (_table != null) return _table.Contains(member);
        return NumberParser.TryParseInt64(member, out long v) && _ints.Contains(v);
    }

    /// <summary>True when the intset holds <paramref name="v"/> or the table holds its decimal form.</summary>
    public bool ContainsInteger(long v)
    {
        if (_table == null) return _ints.Contains(v);
        Span<byte> text = stackalloc byte[ScratchSize];
        return _table.Contains(text[..NumberFormat.WriteInt64(text, v)]);
    }

    /// <summary>Redis's setTypeAdd: adds <paramref name="member"/> (copied); false when already present.</summary>
    public bool Add(ReadOnlySpan<byte> member, long maxIntsetEntries)
    {
        if (_table != null) return _table.TryAdd(member);
        if (NumberParser.TryParseInt64(member, out long v))
        {
            if (!_ints.Add(v)) return false;
            if (_ints.Count > Math.Min(maxIntsetEntries, IntSetHardLimit)) ConvertToTable();
            return true;
        }
        ConvertToTable();
        _table!.Insert(member.ToArray());
        return true;
    }

    /// <summary>Removes <paramref name="member"/>; false when absent.</summary>
    public bool Remove(ReadOnlySpan<byte> member)
    {
        if (_table != null) return _table.Remove(member);
        return NumberParser.TryParseInt64(member, out long v) && _ints.Remove(v);
    }

    public void ConvertToTable()
    {
        if (_table != null) return;
        var table = new FieldTable(withValues: false, _ints.Count);
        Span<byte> text = stackalloc byte[ScratchSize];
        for (int i = 0; i < _ints.Count; i++)
            table.Insert(text[..NumberFormat.WriteInt64(text, _ints.Get(i))].ToArray());
        _table = table;
        _ints = default;
    }

    // ---- positions ----------------------------------------------------------------------------

    /// <summary>The first member's position, or -1 when empty.</summary>
    public int First() => _table != null ? _table.NextSlot(0) : (_ints.Count > 0 ? 0 : -1);

    /// <summary>The position after <paramref name="pos"/>, or -1.</summary>
    public int NextPosition(int pos) => _table != null ? _table.NextSlot(pos + 1) : (pos + 1 < _ints.Count ? pos + 1 : -1);

    /// <summary>
    /// The member at <paramref name="pos"/>; an intset member is formatted into <paramref name="scratch"/>
    /// (at least <see cref="ScratchSize"/> bytes).
    /// </summary>
    public ReadOnlySpan<byte> MemberAt(int pos, Span<byte> scratch)
    {
        if (_table != null) return _table.KeyAt(pos);
        return scratch[..NumberFormat.WriteInt64(scratch, _ints.Get(pos))];
    }

    /// <summary>The integer at <paramref name="pos"/> of an intset.</summary>
    public long IntegerAt(int pos) => _ints.Get(pos);

    /// <summary>A uniformly random member's position; the set must not be empty.</summary>
    public int RandomPosition(Random rng) => _table != null ? _table.RandomSlot(rng) : rng.Next(_ints.Count);

    /// <summary>Removes the member at <paramref name="pos"/> (other positions may change).</summary>
    public void RemoveAt(int pos)
    {
        if (_table != null) _table.RemoveAt(pos);
        else _ints.RemoveAt(pos);
    }
}
