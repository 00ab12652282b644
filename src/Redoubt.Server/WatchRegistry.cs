using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>
/// WATCHed keys: per (db, key) the clients watching it. A modification or expiry of a watched key, or a
/// flush or swap that changes it, marks its watchers so their EXEC fails, as Redis's touchWatchedKey and
/// touchAllWatchedKeysInDb do. A key that was already logically expired when watched counts as absent:
/// its eventual deletion is no change, and only its re-creation is.
/// </summary>
public sealed class WatchRegistry
{
    private sealed class WatchedKey(Client client, Database db, string key, byte[] keyBytes, bool expired)
    {
        public readonly Client Client = client;
        public readonly Database Db = db;
        public readonly string Key = key;
        public readonly byte[] KeyBytes = keyBytes;
        /// <summary>The key was logically expired when WATCH ran.</summary>
        public bool Expired = expired;
    }

    private readonly Dictionary<(int Db, string Key), List<WatchedKey>> _watchers = new();
    private readonly Dictionary<Client, List<WatchedKey>> _byClient = new();

    /// <summary>Number of distinct (db, key) pairs watched by some client.</summary>
    public int Count => _watchers.Count;

    private static string KeyString(ReadOnlySpan<byte> key) => System.Text.Encoding.Latin1.GetString(key);

    public void Watch(Client c, Database db, ReadOnlySpan<byte> key)
    {
        string k = KeyString(key);
        if (!_byClient.TryGetValue(c, out var keys)) _byClient[c] = keys = new();
        foreach (var w in keys)
            if (w.Db == db && w.Key == k) return;
        var wk = new WatchedKey(c, db, k, key.ToArray(), db.KeyIsExpired(key));
        keys.Add(wk);
        if (!_watchers.TryGetValue((db.Id, k), out var list)) _watchers[(db.Id, k)] = list = new();
        list.Add(wk);
    }

    public void UnwatchAll(Client c)
    {
        if (!_byClient.Remove(c, out var keys)) return;
        foreach (var wk in keys)
        {
            var id = (wk.Db.Id, wk.Key);
            if (_watchers.TryGetValue(id, out var list))
            {
                list.Remove(wk);
                if (list.Count == 0) _watchers.Remove(id);
            }
        }
    }

    public bool IsWatching(Client c) => _byClient.ContainsKey(c);

    /// <summary>How many keys <paramref name="c"/> watches (client memory accounting).</summary>
    public int CountFor(Client c) => _byClient.TryGetValue(c, out var keys) ? keys.Count : 0;

    /// <summary>
    /// True when EXEC must fail: a watched key was touched, or one that was live when watched has since
    /// expired (even if nothing deleted it yet).
    /// </summary>
    public bool IsDirty(Client c)
    {
        if ((c.Flags & ClientFlags.DirtyCas) != 0) return true;
        if (!_byClient.TryGetValue(c, out var keys)) return false;
        foreach (var wk in keys)
            if (!wk.Expired && wk.Db.KeyIsExpired(wk.KeyBytes)) return true;
        return false;
    }

    /// <summary>Redis's touchWatchedKey: called after <paramref name="key"/> in <paramref name="db"/> changed.</summary>
    public void Touch(Database db, ReadOnlySpan<byte> key)
    {
        if (_watchers.Count == 0) return;
        if (!_watchers.TryGetValue((db.Id, KeyString(key)), out var list)) return;
        // Marking a client dirty unwatches all its keys, which removes its entry from this list.
        for (int i = list.Count - 1; i >= 0; i--)
        {
            if (i >= list.Count) continue;
            var wk = list[i];
            if (wk.Expired)
            {
                // An already-expired key being deleted is no logical change; from now on it is just absent.
                if (db.FindRaw(key) < 0) wk.Expired = false;
                continue;
            }
            wk.Client.Flags |= ClientFlags.DirtyCas;
            UnwatchAll(wk.Client);
        }
    }

    /// <summary>
    /// Redis's touchAllWatchedKeysInDb, before <paramref name="emptied"/> is flushed (replacedWith null) or
    /// swapped with <paramref name="replacedWith"/>: a watcher is dirtied when its key exists on either
    /// side, except when an expired key stays expired or an absent key becomes an expired one.
    /// </summary>
    public void TouchAllInDb(Database emptied, Database? replacedWith)
    {
        if (_watchers.Count == 0) return;
        foreach (var ((dbId, _), list) in _watchers)
        {
            if (dbId != emptied.Id || list.Count == 0) continue;
            var keyBytes = list[0].KeyBytes;
            bool inEmptied = emptied.FindRaw(keyBytes) >= 0;
            bool inReplacement = replacedWith != null && replacedWith.FindRaw(keyBytes) >= 0;
            if (!inEmptied && !inReplacement) continue;
            foreach (var wk in list)
            {
                if (wk.Expired)
                {
                    if (!inReplacement)
                    {
                        wk.Expired = false;
                        continue;
                    }
                    if (replacedWith!.KeyIsExpired(keyBytes)) continue;
                }
                else if (!inEmptied && replacedWith!.KeyIsExpired(keyBytes))
                {
                    wk.Expired = true;
                    continue;
                }
                wk.Client.Flags |= ClientFlags.DirtyCas;
            }
        }
    }
}
