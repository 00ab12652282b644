namespace Redoubt.Server.Storage;

/// <summary>
/// What a database's keys cost in memory, and the sampling that eviction does over them.
/// The key table counts its objects as they are stored, replaced and removed (see
/// <see cref="KeyTable.ValueBytes"/>); values edited in place are measured again after each command
/// through the <see cref="MemoryLedger"/>, and <see cref="AuditSizes"/> re-measures a few values per
/// cron tick so that an edit made outside any lookup is still counted, if late.
/// </summary>
public sealed partial class Database
{
    private int _auditCursor;

    /// <summary>Bytes of the stored keys and values.</summary>
    public long ValueBytes => _keys.ValueBytes;

    /// <summary>Bytes of the key table's arrays (entries and buckets, spare capacity included).</summary>
    public long MainTableBytes => _keys.StructureBytes;

    /// <summary>Bytes of the expire index's arrays.</summary>
    public long ExpiresTableBytes => _expires.StructureBytes;

    /// <summary>Everything this database holds: values plus its tables.</summary>
    public long MemoryBytes => _keys.ValueBytes + _keys.StructureBytes + _expires.StructureBytes;

    /// <summary>
    /// Measures up to <paramref name="maxSlots"/> stored values again, continuing where the previous
    /// call stopped and wrapping at the end of the table.
    /// </summary>
    public void AuditSizes(int maxSlots)
    {
        int limit = _keys.SlotLimit;
        if (limit == 0) return;
        if (_auditCursor >= limit) _auditCursor = 0;
        for (int n = 0; n < maxSlots && n < limit; n++)
        {
            int slot = _auditCursor;
            if (++_auditCursor >= limit) _auditCursor = 0;
            if (_keys.At(slot).Obj is RedisObject ro) _keys.Remeasure(ro);
        }
    }

    /// <summary>A random key with an expire as (slot, unix ms); the database must have one.</summary>
    public (int Slot, long When) SampleVolatile(Random rng) => _expires.Sample(rng);

    /// <summary>Slot of <paramref name="key"/> if it is present and has an expire; -1 otherwise.</summary>
    public int FindVolatile(ReadOnlySpan<byte> key)
    {
        int slot = _keys.Find(key);
        return slot >= 0 && (_keys.At(slot).Meta & KeyTable.HasExpireBit) != 0 ? slot : -1;
    }
}
