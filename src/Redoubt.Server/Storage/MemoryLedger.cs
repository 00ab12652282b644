namespace Redoubt.Server.Storage;

/// <summary>
/// Values that may have changed size in place since their size was last counted. Hashes, sets and
/// sorted sets are edited where they lie after a lookup, so every lookup that finds one notes it here
/// (with the key table that counts it), and the server settles the notes after each command: each
/// noted object is measured again (its MemoryUsage is O(1)) and its table's figure moves by the
/// difference. Strings need no note: a string record is never resized in place.
/// </summary>
public sealed class MemoryLedger
{
    private KeyTable[] _tables = new KeyTable[16];
    private RedisObject[] _objects = new RedisObject[16];
    private int _count;

    public int PendingCount => _count;

    public void Touch(KeyTable table, RedisObject obj)
    {
        int n = _count;
        // A command usually looks the same key up more than once in a row.
        if (n > 0 && ReferenceEquals(_objects[n - 1], obj)) return;
        if (n == _objects.Length)
        {
            Array.Resize(ref _objects, n * 2);
            Array.Resize(ref _tables, n * 2);
        }
        _tables[n] = table;
        _objects[n] = obj;
        _count = n + 1;
    }

    /// <summary>Measures every noted object again and forgets the notes.</summary>
    public void Settle()
    {
        int n = _count;
        if (n == 0) return;
        for (int i = 0; i < n; i++) _tables[i].Remeasure(_objects[i]);
        Array.Clear(_tables, 0, n);
        Array.Clear(_objects, 0, n);
        _count = 0;
    }
}
