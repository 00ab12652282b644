using Redoubt.Server.Commands;
using Redoubt.Server.Protocol;
using Redoubt.Server.PubSub;

namespace Redoubt.Server.Tracking;

/// <summary>
/// Server-assisted client-side caching (CLIENT TRACKING). Like Redis:
/// <list type="bullet">
/// <item>the table maps each key a tracking client read to the IDs of the clients that read it; keys are
/// global, not per database. A change to the key sends each of them one invalidation and forgets the key;
/// IDs of clients gone or no longer tracking are dropped lazily, then;</item>
/// <item>BCAST clients are not in the table: keys changed under their prefixes are collected per prefix
/// and sent once, in byte order, after the batch of commands that changed them;</item>
/// <item>an invalidation for the client whose command is running is held until its reply is written;</item>
/// <item>the table is held to tracking-table-max-keys by forgetting random keys, with an invalidation.</item>
/// </list>
/// Everything here runs under the server lock.
/// </summary>
public sealed class TrackingTable
{
    private static readonly byte[] ChannelName = "__redis__:invalidate"u8.ToArray();

    private readonly RedisServer _server;
    private readonly Dictionary<byte[], KeyEntry> _keys = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], KeyEntry>.AlternateLookup<ReadOnlySpan<byte>> _keysBySpan;
    // The same keys in a list, so a random one can be picked in constant time.
    private readonly List<byte[]> _keyList = new();
    private readonly SortedDictionary<byte[], PrefixState> _prefixes = new(ByteOrder.Instance);
    // Invalidations held until the running command's reply is written: the target and key (null: flush).
    private readonly List<(Client Target, byte[]? Key)> _pending = new();
    private readonly List<int> _positions = new();
    private int _limitRounds;

    internal TrackingTable(RedisServer server)
    {
        _server = server;
        _keysBySpan = _keys.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    private sealed class KeyEntry
    {
        public readonly HashSet<long> Ids = new();
        public int Index;
    }

    private sealed class PrefixState
    {
        // Keys changed since the last broadcast, each with the client that changed it last (null: the server).
        public readonly SortedDictionary<byte[], Client?> Keys = new(ByteOrder.Instance);
        public readonly List<Client> Clients = new();
    }

    /// <summary>Clients with tracking on (INFO tracking_clients).</summary>
    public int Clients { get; private set; }

    /// <summary>Keys in the table (INFO tracking_total_keys).</summary>
    public long TotalKeys => _keys.Count;

    // Memory the table holds, counted in used_memory as Redis counts its tracking radix tree: per key its
    // copy, entry, id set and list slot (estimated object and dictionary overheads), per id 16 bytes.
    private long _keyBytes;
    private static long KeyEntryBytes(byte[] key) => 24 + ((key.Length + 7) & ~7) + 160;
    public long MemoryBytes => _keyBytes + TotalItems * 16;

    /// <summary>Client IDs across all keys (INFO tracking_total_items).</summary>
    public long TotalItems { get; private set; }

    /// <summary>BCAST prefixes with subscribers (INFO tracking_total_prefixes).</summary>
    public long TotalPrefixes => _prefixes.Count;

    public bool HasPending => _pending.Count > 0;

    private void UpdateGauges()
    {
        var st = _server.Stats;
        st.TrackingTotalKeys = _keys.Count;
        st.TrackingTotalItems = TotalItems;
        st.TrackingTotalPrefixes = _prefixes.Count;
    }

    // ---- enabling --------------------------------------------------------------------------------

    /// <summary>
    /// The first prefix that overlaps another one (of the client's or of the new ones), as Redis checks it:
    /// null when there is none. Redis only refuses the command when the overlap involves the first new
    /// prefix; <paramref name="refuse"/> says whether it does.
    /// </summary>
    public static string? FindPrefixCollision(Client c, List<byte[]> prefixes, out bool refuse)
    {
        refuse = false;
        for (int i = 0; i < prefixes.Count; i++)
        {
            if (c.TrackingPrefixes != null)
            {
                foreach (var existing in c.TrackingPrefixes)
                {
                    if (!Overlap(existing, prefixes[i])) continue;
                    refuse = true;
                    return $"Prefix '{Text(prefixes[i])}' overlaps with an existing prefix '{Text(existing)}'. Prefixes for a single client must not overlap.";
                }
            }
            for (int j = i + 1; j < prefixes.Count; j++)
            {
                if (!Overlap(prefixes[i], prefixes[j])) continue;
                refuse = i == 0;
                return $"Prefix '{Text(prefixes[i])}' overlaps with another provided prefix '{Text(prefixes[j])}'. Prefixes for a single client must not overlap.";
            }
        }
        return null;
    }

    private static bool Overlap(byte[] a, byte[] b)
    {
        int n = Math.Min(a.Length, b.Length);
        return a.AsSpan(0, n).SequenceEqual(b.AsSpan(0, n));
    }

    // Redis formats the prefixes as C strings: they end at a NUL byte.
    private static string Text(byte[] s)
    {
        int nul = Array.IndexOf(s, (byte)0);
        return System.Text.Encoding.Latin1.GetString(s, 0, nul < 0 ? s.Length : nul);
    }

    /// <summary>CLIENT TRACKING on: the options replace the previous ones; BCAST prefixes add up.</summary>
    public void Enable(Client c, long redirect, TrackingMode options, List<byte[]> prefixes)
    {
        if ((c.Flags & ClientFlags.TrackingOn) == 0) Clients++;
        c.Flags |= ClientFlags.TrackingOn;
        c.TrackingMode &= TrackingMode.Caching;
        c.TrackingRedirect = redirect;
        if ((options & TrackingMode.Bcast) != 0)
        {
            c.TrackingMode |= TrackingMode.Bcast;
            if (prefixes.Count == 0) AddPrefix(c, []);
            foreach (var p in prefixes) AddPrefix(c, p);
        }
        c.TrackingMode |= options & (TrackingMode.OptIn | TrackingMode.OptOut | TrackingMode.NoLoop);
        _server.TrackingClients = Clients;
        UpdateGauges();
    }

    private void AddPrefix(Client c, byte[] prefix)
    {
        if (!_prefixes.TryGetValue(prefix, out var state)) _prefixes[prefix] = state = new PrefixState();
        if (state.Clients.Contains(c)) return;
        state.Clients.Add(c);
        (c.TrackingPrefixes ??= new SortedSet<byte[]>(ByteOrder.Instance)).Add(prefix);
    }

    /// <summary>
    /// CLIENT TRACKING off, RESET, disconnection. The client's IDs stay in the table until their keys
    /// change, when they are skipped.
    /// </summary>
    public void Disable(Client c)
    {
        if (c.TrackingPrefixes != null)
        {
            foreach (var prefix in c.TrackingPrefixes)
            {
                if (!_prefixes.TryGetValue(prefix, out var state)) continue;
                state.Clients.Remove(c);
                if (state.Clients.Count == 0) _prefixes.Remove(prefix);
            }
            c.TrackingPrefixes = null;
        }
        if ((c.Flags & ClientFlags.TrackingOn) != 0)
        {
            Clients--;
            c.Flags &= ~ClientFlags.TrackingOn;
            c.TrackingMode = TrackingMode.None;
        }
        _server.TrackingClients = Clients;
        UpdateGauges();
    }

    // ---- reads -----------------------------------------------------------------------------------

    /// <summary>
    /// Redis's trackingRememberKeys, after a read-only command of a tracking client not in BCAST mode:
    /// remembers that the client may now cache the command's keys.
    /// </summary>
    public void RememberKeys(Client c, Command cmd)
    {
        var mode = c.TrackingMode;
        bool caching = (mode & TrackingMode.Caching) != 0;
        if (((mode & TrackingMode.OptIn) != 0 && !caching) || ((mode & TrackingMode.OptOut) != 0 && caching)) return;
        // Shard channels are declared as keys but are not cached data.
        if (cmd.Has(CommandFlags.PubSub)) return;
        var positions = _positions;
        positions.Clear();
        if (!KeyExtraction.Extract(cmd, c.Argc, c.ArgBytes, positions) || positions.Count == 0) return;
        foreach (int pos in positions)
        {
            var key = c.Arg(pos);
            if (!_keysBySpan.TryGetValue(key, out var entry))
            {
                var stored = key.ToArray();
                entry = new KeyEntry { Index = _keyList.Count };
                _keys[stored] = entry;
                _keyList.Add(stored);
                _keyBytes += KeyEntryBytes(stored);
            }
            if (entry.Ids.Add(c.Id)) TotalItems++;
        }
        long max = _server.Config.TrackingTableMaxKeys;
        if (max != 0 && _keys.Count > max) LimitUsedSlots();
        UpdateGauges();
    }

    // ---- invalidation ----------------------------------------------------------------------------

    /// <summary>
    /// Redis's trackingInvalidateKey: <paramref name="key"/> changed (by <paramref name="modifier"/>, null
    /// for the server itself: expiry, eviction). Queues it for BCAST prefixes when <paramref name="bcast"/>,
    /// and tells every client that may cache it, then forgets it.
    /// </summary>
    public void InvalidateKey(ReadOnlySpan<byte> key, Client? modifier, bool bcast)
    {
        if (bcast && _prefixes.Count > 0) RememberKeyToBroadcast(key, modifier);
        if (!_keysBySpan.TryGetValue(key, out var stored, out var entry)) return;
        var current = _server.CurrentClient;
        foreach (long id in entry.Ids)
        {
            var target = _server.LookupClient(id);
            // A client that switched to BCAST is not told about keys it read before.
            if (target is null || (target.Flags & ClientFlags.TrackingOn) == 0 || (target.TrackingMode & TrackingMode.Bcast) != 0) continue;
            if ((target.TrackingMode & TrackingMode.NoLoop) != 0 && target == current) continue;
            // The running command's own reply comes first.
            if (target == current && _server.CallDepth > 0) _pending.Add((target, stored));
            else SendKey(target, stored);
        }
        TotalItems -= entry.Ids.Count;
        RemoveEntry(stored, entry);
        UpdateGauges();
    }

    private void RemoveEntry(byte[] key, KeyEntry entry)
    {
        _keys.Remove(key);
        _keyBytes -= KeyEntryBytes(key);
        int last = _keyList.Count - 1;
        if (entry.Index != last)
        {
            var moved = _keyList[last];
            _keyList[entry.Index] = moved;
            _keys[moved].Index = entry.Index;
        }
        _keyList.RemoveAt(last);
    }

    private void RememberKeyToBroadcast(ReadOnlySpan<byte> key, Client? modifier)
    {
        byte[]? copy = null;
        foreach (var (prefix, state) in _prefixes)
        {
            if (prefix.Length > key.Length || !key.StartsWith(prefix)) continue;
            copy ??= key.ToArray();
            state.Keys[copy] = modifier;
        }
    }

    /// <summary>
    /// FLUSHDB/FLUSHALL: every tracking client is told that all its keys are invalid (a null instead of
    /// a list of keys) and the table is emptied.
    /// </summary>
    public void InvalidateAllOnFlush()
    {
        if (Clients > 0)
        {
            var current = _server.CurrentClient;
            foreach (var c in _server.Clients.Values)
            {
                if ((c.Flags & ClientFlags.TrackingOn) == 0) continue;
                if (c == current) _pending.Add((c, null));
                else SendNull(c);
            }
        }
        _keys.Clear();
        _keyList.Clear();
        _keyBytes = 0;
        TotalItems = 0;
        UpdateGauges();
    }

    /// <summary>After the running command (or a served blocked client): sends the invalidations held for it.</summary>
    public void FlushPending()
    {
        if (_pending.Count == 0) return;
        // Sending can add nothing here (no key changes), but copy defensively against re-entry.
        var items = _pending.ToArray();
        _pending.Clear();
        foreach (var (target, key) in items)
        {
            if (key is null) SendNull(target);
            else SendKey(target, key);
        }
    }

    /// <summary>
    /// Redis's trackingLimitUsedSlots: forgets random keys (telling their clients, as if they changed)
    /// until the table is within tracking-table-max-keys, trying harder each time it cannot get there.
    /// </summary>
    public void LimitUsedSlots()
    {
        long max = _server.Config.TrackingTableMaxKeys;
        if (max == 0) return;
        if (_keys.Count <= max)
        {
            _limitRounds = 0;
            return;
        }
        int effort = 100 * (_limitRounds + 1);
        var rng = _server.Rng;
        while (effort-- > 0 && _keyList.Count > 0)
        {
            var key = _keyList[rng.Next(_keyList.Count)];
            InvalidateKey(key, null, bcast: false);
            if (_keys.Count <= max)
            {
                _limitRounds = 0;
                return;
            }
        }
        _limitRounds++;
    }

    /// <summary>
    /// Redis's trackingBroadcastInvalidationMessages, once per batch of commands: sends each prefix's
    /// changed keys to its clients (NOLOOP ones without the keys they changed last themselves).
    /// </summary>
    public void BroadcastPending()
    {
        if (Clients == 0 || _prefixes.Count == 0) return;
        foreach (var state in _prefixes.Values)
        {
            if (state.Keys.Count == 0) continue;
            byte[]? all = null;
            foreach (var c in state.Clients.ToArray())
            {
                if ((c.TrackingMode & TrackingMode.NoLoop) != 0)
                {
                    var own = BuildKeyList(state.Keys, c);
                    if (own != null) SendProto(c, own);
                }
                else SendProto(c, all ??= BuildKeyList(state.Keys, null)!);
            }
            state.Keys.Clear();
        }
    }

    /// <summary>The keys as a RESP array, leaving out those <paramref name="except"/> changed last; null if none is left.</summary>
    private static byte[]? BuildKeyList(SortedDictionary<byte[], Client?> keys, Client? except)
    {
        int count = 0;
        foreach (var (_, by) in keys)
            if (except is null || by != except) count++;
        if (count == 0) return null;
        var w = new ReplyWriter();
        w.ArrayHeader(count);
        foreach (var (key, by) in keys)
            if (except is null || by != except) w.Bulk(key);
        return w.Buffer.AsSpan(0, w.Length).ToArray();
    }

    // ---- sending ---------------------------------------------------------------------------------

    private void SendKey(Client c, byte[] key) => Send(c, key, default, isNull: false);

    private void SendProto(Client c, byte[] proto) => Send(c, null, proto, isNull: false);

    private void SendNull(Client c) => Send(c, null, default, isNull: true);

    /// <summary>
    /// Redis's sendTrackingMessage: an "invalidate" push (RESP3) or a message on __redis__:invalidate to
    /// a subscribed redirect target (RESP2). The payload is a one-key array, a prepared array, or a null
    /// in the protocol of the tracking client (not of its redirect target).
    /// </summary>
    private void Send(Client c, byte[]? key, ReadOnlySpan<byte> proto, bool isNull)
    {
        var target = c;
        bool redirected = false;
        if (c.TrackingRedirect != 0)
        {
            var redir = _server.LookupClient(c.TrackingRedirect);
            if (redir is null)
            {
                c.TrackingMode |= TrackingMode.BrokenRedirect;
                if (c.Reply.IsResp3)
                {
                    int at = c.Reply.BeginPush();
                    c.Reply.PushHeader(2);
                    c.Reply.Bulk("tracking-redir-broken"u8);
                    c.Reply.Integer(c.TrackingRedirect);
                    c.Reply.EndPush(at);
                    Flush(c);
                }
                return;
            }
            target = redir;
            redirected = true;
        }
        if ((target.Flags & ClientFlags.CloseAsap) != 0) return;
        var r = target.Reply;
        int start = r.BeginPush();
        if (r.IsResp3)
        {
            r.PushHeader(2);
            r.Bulk("invalidate"u8);
        }
        else if (redirected && (target.Flags & ClientFlags.PubSub) != 0)
        {
            r.PushHeader(3);
            r.Bulk("message"u8);
            r.Bulk(ChannelName);
        }
        else return; // RESP2 without a subscribed redirect target has no way to be told
        if (isNull) r.Raw(c.Reply.IsResp3 ? "_\r\n"u8 : "$-1\r\n"u8);
        else if (key != null)
        {
            r.ArrayHeader(1);
            r.Bulk(key);
        }
        else r.Raw(proto);
        r.EndPush(start);
        Flush(target);
    }

    /// <summary>Starts the send once the lock is released (the client's own loop may send it first).</summary>
    private void Flush(Client c) => _server.PubSub.ScheduleFlush(c);

    /// <summary>Byte-wise lexicographic order, as Redis's radix trees iterate.</summary>
    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
