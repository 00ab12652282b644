using System.Runtime.CompilerServices;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Persistence;

/// <summary>
/// One key table's part of a running <see cref="Snapshot"/>: the table and expire index as they were
/// when the snapshot began, the slot limit then, and a bit per slot below it saying whether that slot
/// has been dealt with (recorded, or known to hold nothing from before the snapshot).
/// </summary>
/// <remarks>
/// A <see cref="Database"/> whose table is being saved points at this object; every path that reads
/// a slot for a command or changes one calls <see cref="Touch"/> first, which records the slot's key,
/// value and expire as they still are, so the change that follows cannot reach the snapshot. Slots
/// filled after the start are marked by <see cref="MarkNew"/> without recording. After FLUSHDB the
/// database lets go of the table; this object keeps it, and nothing changes it any more.
/// </remarks>
public sealed class SnapshotTable
{
    internal readonly Snapshot Owner;
    /// <summary>The database number the table had when the snapshot began (SWAPDB may move it since).</summary>
    public readonly int DbId;
    internal readonly KeyTable Table;
    internal readonly ExpireIndex Expires;
    internal readonly int Limit;
    private readonly ulong[] _done;
    internal readonly long KeyCount, ExpireCount;

    /// <summary>True once the sink has been told this database begins: touched entries go straight to it.</summary>
    internal bool Begun;
    /// <summary>Copies of entries touched before this database's turn (the sink takes one database at a time).</summary>
    internal List<(object Value, long Expire, int Meta)>? Pending;
    internal long PendingBytes;
    /// <summary>Next slot the iterator looks at.</summary>
    internal int Cursor;
    /// <summary>Set when FLUSHDB dropped the table from its database: only the snapshot still holds it.</summary>
    internal bool Released;

    internal SnapshotTable(Snapshot owner, int dbId, KeyTable table, ExpireIndex expires)
    {
        Owner = owner;
        DbId = dbId;
        Table = table;
        Expires = expires;
        Limit = table.SlotLimit;
        _done = new ulong[(Limit + 63) >> 6];
        KeyCount = table.Count;
        ExpireCount = expires.Count;
    }

    /// <summary>Bytes of the done bitmap.</summary>
    internal long BitmapBytes => _done.Length * 8L;

    /// <summary>Records the slot's entry unless that was done already; call before reading it for a command or changing it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Touch(int slot)
    {
        if ((uint)slot >= (uint)Limit) return;
        ref ulong word = ref _done[slot >> 6];
        ulong bit = 1UL << slot;
        if ((word & bit) != 0) return;
        word |= bit;
        Owner.Capture(this, slot);
    }

    /// <summary>A slot just filled by a key created after the start: nothing of it belongs to the snapshot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MarkNew(int slot)
    {
        if ((uint)slot < (uint)Limit) _done[slot >> 6] |= 1UL << slot;
    }

    /// <summary>Marks the slot done; true when it was not done before.</summary>
    internal bool TryClaim(int slot)
    {
        ref ulong word = ref _done[slot >> 6];
        ulong bit = 1UL << slot;
        if ((word & bit) != 0) return false;
        word |= bit;
        return true;
    }

    /// <summary>The slot's entry as (value, expire or -1, LRU/LFU stamp), or false when the slot is empty.</summary>
    internal bool TryRead(int slot, out object value, out long expire, out int meta)
    {
        value = null!;
        expire = -1;
        meta = 0;
        // The table may have been emptied (and its entry array reset) since: such a slot held nothing
        // from before, since removing a key touches it first.
        if (slot >= Table.SlotLimit) return false;
        ref var e = ref Table.At(slot);
        if (e.Obj is null) return false;
        value = e.Obj;
        meta = e.Meta & KeyTable.LruMask;
        if ((e.Meta & KeyTable.HasExpireBit) != 0 && Expires.TryGet(slot, out long when)) expire = when;
        return true;
    }
}
