namespace Redoubt.Server;

/// <summary>
/// WATCHed keys: per (db, key) the clients watching it. Any modification, expiry, flush or swap of a
/// watched key marks its watchers so their EXEC fails, as Redis's touchWatchedKey does.
/// </summary>
public sealed class WatchRegistry
{
    private readonly Dictionary<(int Db, string Key), List<Client>> _watchers = new();
    private readonly Dictionary<Client, List<(int Db, string Key)>> _byClient = new();

    public int Count => _watchers.Count;

    private static string KeyString(ReadOnlySpan<byte> key) => System.Text.Encoding.Latin1.GetString(key);

    public void Watch(Client c, int db, ReadOnlySpan<byte> key)
    {
        var k = (db, KeyString(key));
        if (!_byClient.TryGetValue(c, out var keys)) _byClient[c] = keys = new();
        if (keys.Contains(k)) return;
        keys.Add(k);
        if (!_watchers.TryGetValue(k, out var list)) _watchers[k] = list = new();
        list.Add(c);
    }

    public void UnwatchAll(Client c)
    {
        if (!_byClient.Remove(c, out var keys)) return;
        foreach (var k in keys)
        {
            if (_watchers.TryGetValue(k, out var list))
            {
                list.Remove(c);
                if (list.Count == 0) _watchers.Remove(k);
            }
        }
    }

    public bool IsWatching(Client c) => _byClient.ContainsKey(c);

    public bool IsDirty(Client c) => (c.Flags & ClientFlags.DirtyCas) != 0;

    public void Touch(int db, ReadOnlySpan<byte> key)
    {
        if (_watchers.Count == 0) return;
        if (_watchers.TryGetValue((db, KeyString(key)), out var list))
            foreach (var c in list) c.Flags |= ClientFlags.DirtyCas;
    }

    /// <summary>FLUSHDB/FLUSHALL/SWAPDB: every watcher of the database (-1 = all) is dirtied.</summary>
    public void TouchDatabase(int db)
    {
        foreach (var (k, list) in _watchers)
            if (db < 0 || k.Db == db)
                foreach (var c in list) c.Flags |= ClientFlags.DirtyCas;
    }

    /// <summary>Keys watched in a database (SWAPDB dirties watchers whose key exists on either side).</summary>
    public IEnumerable<(int Db, string Key, List<Client> Clients)> All()
    {
        foreach (var (k, list) in _watchers) yield return (k.Db, k.Key, list);
    }
}
