namespace Redoubt.Server.Storage;

/// <summary>
/// Expire times of the keys that have one, keyed by their <see cref="KeyTable"/> slot (slots only move
/// when the cron compacts the table, which re-keys them here). Open addressing with linear probing and
/// backward-shift deletion; the table doubles past 3/4 full and halves below 1/8 so that sampling and
/// the active-expiry sweep never walk long runs of empty positions.
/// </summary>
public sealed class ExpireIndex
{
    private const int MinSize = 16;

    private int[] _slots = Array.Empty<int>(); // stored slot + 1, 0 = empty
    private long[] _when = Array.Empty<long>();
    private int _count;

    /// <summary>Where the active-expiry sweep continues (a position, masked by the current size).</summary>
    public int SweepCursor;

    public int Count => _count;

    /// <summary>Bytes of the index's two arrays (0 while empty).</summary>
    public long StructureBytes => _slots.Length == 0 ? 0 : KeyTable.ArrayBytes(_slots.Length * 4L) + KeyTable.ArrayBytes(_when.Length * 8L);

    /// <summary>Number of positions (0 when empty): the sweep's unit of work.</summary>
    public int Capacity => _slots.Length;

    private static int Mix(int slot, int mask) => (int)((uint)(slot * -1640531535) >> 7) & mask;

    public bool TryGet(int slot, out long when)
    {
        when = 0;
        if (_count == 0) return false;
        int mask = _slots.Length - 1;
        int i = Mix(slot, mask);
        while (true)
        {
            int s = _slots[i];
            if (s == 0) return false;
            if (s == slot + 1) { when = _when[i]; return true; }
            i = (i + 1) & mask;
        }
    }

    public void Set(int slot, long when)
    {
        if ((_count + 1) * 4 > _slots.Length * 3) Resize(Math.Max(MinSize, _slots.Length * 2));
        int mask = _slots.Length - 1;
        int i = Mix(slot, mask);
        while (true)
        {
            int s = _slots[i];
            if (s == 0)
            {
                _slots[i] = slot + 1;
                _when[i] = when;
                _count++;
                return;
            }
            if (s == slot + 1) { _when[i] = when; return; }
            i = (i + 1) & mask;
        }
    }

    public bool Remove(int slot)
    {
        if (_count == 0) return false;
        int mask = _slots.Length - 1;
        int i = Mix(slot, mask);
        while (true)
        {
            int s = _slots[i];
            if (s == 0) return false;
            if (s == slot + 1) break;
            i = (i + 1) & mask;
        }
        RemoveAt(i);
        return true;
    }

    private void RemoveAt(int i)
    {
        int mask = _slots.Length - 1;
        // Backward-shift deletion keeps probe chains intact without tombstones.
        int hole = i;
        int j = i;
        while (true)
        {
            j = (j + 1) & mask;
            int s = _slots[j];
            if (s == 0) break;
            int home = Mix(s - 1, mask);
            bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
            if (movable)
            {
                _slots[hole] = s;
                _when[hole] = _when[j];
                hole = j;
            }
        }
        _slots[hole] = 0;
        _when[hole] = 0;
        _count--;
        if (_count == 0) Clear();
        else if (_slots.Length > MinSize && _count * 8 < _slots.Length) Resize(_slots.Length / 2);
    }

    public void Clear()
    {
        _slots = Array.Empty<int>();
        _when = Array.Empty<long>();
        _count = 0;
        SweepCursor = 0;
    }

    /// <summary>Picks a random key with an expire: (slot, when). Requires Count > 0.</summary>
    public (int Slot, long When) Sample(Random rng)
    {
        int mask = _slots.Length - 1;
        int i = rng.Next(_slots.Length);
        while (_slots[i] == 0) i = (i + 1) & mask;
        return (_slots[i] - 1, _when[i]);
    }

    /// <summary>The entry at position <paramref name="pos"/> (masked to the capacity), if occupied.</summary>
    public bool TryGetAt(int pos, out int slot, out long when)
    {
        int i = pos & (_slots.Length - 1);
        int s = _slots[i];
        slot = s - 1;
        when = _when[i];
        return s != 0;
    }

    private void Resize(int size)
    {
        var oldSlots = _slots;
        var oldWhen = _when;
        _slots = new int[size];
        _when = new long[size];
        _count = 0;
        for (int i = 0; i < oldSlots.Length; i++)
            if (oldSlots[i] != 0) Set(oldSlots[i] - 1, oldWhen[i]);
    }
}
