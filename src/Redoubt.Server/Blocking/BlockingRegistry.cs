using System.Diagnostics;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Blocking;

/// <summary>
/// Clients blocked on keys (BLPOP and the other blocking list commands; sorted sets and streams use the
/// same machinery). Like Redis:
/// <list type="bullet">
/// <item>each database maps a key to the queue of clients waiting on it, first blocked first;</item>
/// <item>a write to a key somebody waits on marks it ready (<see cref="SignalKeyAsReady"/>), and after
/// the command (or the whole MULTI/EXEC) <see cref="HandleReadyKeys"/> serves the waiters in order,
/// looping while serving produces new ready keys (BLMOVE pushing to a list another client waits on);</item>
/// <item>released clients are queued and their pending input is run once the current client's batch is
/// done (<see cref="ProcessUnblockedClients"/>), as Redis does before sleeping;</item>
/// <item>timeouts are kept ordered by deadline and fired by a timer at the earliest one, so they are
/// accurate to a millisecond or two rather than to a cron tick.</item>
/// </list>
/// Everything here runs under the server lock.
/// </summary>
public sealed class BlockingRegistry
{
    private readonly RedisServer _server;
    // Per database id: key -> clients waiting on it, in blocking order.
    private Dictionary<byte[], LinkedList<Client>>?[] _waiters = [];
    // Keys signaled since the last serving pass, in signal order, and the same per database for dedup.
    private List<(Database Db, byte[] Key)> _ready = new(), _readySpare = new();
    private HashSet<byte[]>?[] _readySet = [];
    private readonly SortedSet<TimeoutEntry> _timeouts = new(TimeoutEntry.Order);
    private long _timeoutSeq;
    private readonly Queue<Client> _unblocked = new();
    private readonly int[] _byType = new int[Enum.GetValues<BlockType>().Length];
    private Timer? _timer;
    private long _timerDueMs = long.MaxValue;
    private bool _handling, _reprocessing;

    internal BlockingRegistry(RedisServer server)
    {
        _server = server;
        server.ClientUnlinkedHooks += OnClientUnlinked;
        server.CronHooks.Add(Cron);
    }

    /// <summary>Clients blocked on keys now (INFO blocked_clients counts these).</summary>
    public int BlockedClients { get; private set; }

    /// <summary>Blocked clients with a deadline (INFO clients_in_timeout_table).</summary>
    public int ClientsInTimeoutTable => _timeouts.Count;

    public int BlockedOn(BlockType type) => _byType[(int)type];

    public bool HasReadyKeys => _ready.Count > 0;

    // ---- blocking --------------------------------------------------------------------------------

    /// <summary>
    /// Blocks <paramref name="c"/> on the request's keys (duplicates are waited on once). The client's
    /// current command and arguments are kept in the request; its input is not processed until it is
    /// released.
    /// </summary>
    public void Block(Client c, BlockedRequest req)
    {
        req.Db = c.Db;
        req.Command = c.Cmd!;
        req.Argv = c.CopyArgs();
        // The arguments were slices of the query buffer, which moves while the client waits.
        c.SetArgs(req.Argv);
        DropDuplicateKeys(req.Keys);
        var map = WaitersOf(c.Db.Id, create: true)!;
        req.Places = new LinkedListNode<Client>[req.Keys.Count];
        for (int i = 0; i < req.Keys.Count; i++)
        {
            var key = req.Keys[i];
            if (!map.TryGetValue(key, out var queue)) map[key] = queue = new LinkedList<Client>();
            req.Places[i] = queue.AddLast(c);
        }
        c.BlockedOn = req;
        c.Flags |= ClientFlags.Blocked;
        BlockedClients++;
        _byType[(int)req.Type]++;
        if (req.TimeoutMs > 0)
        {
            req.TimeoutSeq = ++_timeoutSeq;
            req.InTimeoutTable = _timeouts.Add(new TimeoutEntry(req.TimeoutMs, req.TimeoutSeq, c));
            _server.ClientsInTimeoutTable = _timeouts.Count;
            ScheduleTimer();
        }
    }

    private static void DropDuplicateKeys(List<byte[]> keys)
    {
        if (keys.Count < 2) return;
        var seen = new HashSet<byte[]>(KeyComparer.Instance);
        int w = 0;
        for (int i = 0; i < keys.Count; i++)
            if (seen.Add(keys[i])) keys[w++] = keys[i];
        keys.RemoveRange(w, keys.Count - w);
    }

    private Dictionary<byte[], LinkedList<Client>>? WaitersOf(int db, bool create)
    {
        if (db >= _waiters.Length)
        {
            if (!create) return null;
            Array.Resize(ref _waiters, Math.Max(db + 1, _server.Databases.Length));
        }
        if (_waiters[db] is null && create) _waiters[db] = new Dictionary<byte[], LinkedList<Client>>(KeyComparer.Instance);
        return _waiters[db];
    }

    /// <summary>True while <paramref name="c"/> waits on <paramref name="key"/> in <paramref name="db"/>.</summary>
    public bool IsWaitingOn(Client c, Database db, ReadOnlySpan<byte> key)
    {
        if (c.BlockedOn is not { } req || req.Db != db) return false;
        foreach (var k in req.Keys)
            if (key.SequenceEqual(k)) return true;
        return false;
    }

    // ---- releasing -------------------------------------------------------------------------------

    /// <summary>
    /// Takes the client out of every queue and the timeout table, clears its blocked state and, when
    /// <paramref name="reprocess"/>, queues it so that its pending input runs.
    /// </summary>
    private void Release(Client c, bool reprocess)
    {
        if (c.BlockedOn is not { } req) return;
        var map = WaitersOf(req.Db.Id, create: false);
        for (int i = 0; i < req.Places.Length; i++)
        {
            var node = req.Places[i];
            var queue = node.List;
            if (queue is null) continue;
            queue.Remove(node);
            if (queue.Count == 0) map?.Remove(req.Keys[i]);
        }
        if (req.InTimeoutTable)
        {
            _timeouts.Remove(new TimeoutEntry(req.TimeoutMs, req.TimeoutSeq, c));
            _server.ClientsInTimeoutTable = _timeouts.Count;
            req.InTimeoutTable = false;
        }
        c.BlockedOn = null;
        c.Flags &= ~ClientFlags.Blocked;
        BlockedClients--;
        _byType[(int)req.Type]--;
        if (reprocess && (c.Flags & ClientFlags.Unblocked) == 0)
        {
            c.Flags |= ClientFlags.Unblocked;
            _unblocked.Enqueue(c);
        }
    }

    /// <summary>
    /// CLIENT UNBLOCK: releases a client blocked on keys, replying as on timeout or, with
    /// <paramref name="withError"/>, with -UNBLOCKED. False when the client is not blocked here.
    /// </summary>
    public bool Unblock(Client c, bool withError, string message = "-UNBLOCKED client unblocked via CLIENT UNBLOCK")
    {
        if (c.BlockedOn is not { } req) return false;
        if (withError) c.Reply.Error(message);
        else req.ReplyTimeout(c);
        Completed(c, req, 0, withError);
        Release(c, reprocess: true);
        return true;
    }

    /// <summary>Releases a client without a reply and without running its pending input (a SHUTDOWN that succeeded).</summary>
    public void Forget(Client c) => Release(c, reprocess: false);

    /// <summary>A client that disconnects while blocked leaves without a reply or a trace.</summary>
    private void OnClientUnlinked(Client c)
    {
        Release(c, reprocess: false);
        c.Flags &= ~ClientFlags.Unblocked;
    }

    /// <summary>Redis's updateStatsOnUnblock: the time spent replying counts for the command, the slow log and latency.</summary>
    private void Completed(Client c, BlockedRequest req, long micros, bool failed)
    {
        req.Command.MicrosecondsTotal += micros;
        if (failed) req.Command.FailedCalls++;
        _server.OnUnblocked(c, req.Command, micros, micros);
    }

    /// <summary>
    /// Runs the pending input of clients released since the last call (Redis's processUnblockedClients)
    /// and flushes their replies. Called after each client's batch of commands and by the timers.
    /// </summary>
    public void ProcessUnblockedClients()
    {
        if (_reprocessing) return;
        _reprocessing = true;
        try
        {
            while (_unblocked.TryDequeue(out var c))
            {
                c.Flags &= ~ClientFlags.Unblocked;
                var conn = c.Connection;
                if (conn != null && (conn.IsClosed || !_server.Clients.ContainsKey(c.Id))) continue;
                if ((c.Flags & ClientFlags.Blocked) == 0 && c.QueryEnd > c.QueryStart) c.ProcessInputBuffer();
                conn?.RequestFlush();
            }
        }
        finally
        {
            _reprocessing = false;
        }
    }

    // ---- ready keys ------------------------------------------------------------------------------

    /// <summary>
    /// Redis's signalKeyAsReady: if somebody waits on <paramref name="key"/>, queues it to be looked at
    /// after the current command. Cheap when nobody is blocked, as it runs on every write.
    /// </summary>
    public void SignalKeyAsReady(Database db, ReadOnlySpan<byte> key)
    {
        if (BlockedClients == 0) return;
        var map = WaitersOf(db.Id, create: false);
        if (map is null || map.Count == 0) return;
        if (!map.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(key, out var stored, out _)) return;
        if (db.Id >= _readySet.Length) Array.Resize(ref _readySet, Math.Max(db.Id + 1, _server.Databases.Length));
        var set = _readySet[db.Id] ??= new HashSet<byte[]>(KeyComparer.Instance);
        if (set.Add(stored)) _ready.Add((db, stored));
    }

    /// <summary>Signals every key of <paramref name="db"/> that has waiters (after a flush: group readers must be told).</summary>
    public void SignalAllWaitedKeys(Database db)
    {
        var map = WaitersOf(db.Id, create: false);
        if (map is null) return;
        foreach (var key in map.Keys.ToArray()) SignalKeyAsReady(db, key);
    }

    /// <summary>Signals every key of <paramref name="db"/> that has waiters and now exists (after SWAPDB).</summary>
    public void ScanDatabaseForReadyKeys(Database db)
    {
        var map = WaitersOf(db.Id, create: false);
        if (map is null) return;
        foreach (var key in map.Keys.ToArray())
            if (db.Peek(key) != null) SignalKeyAsReady(db, key);
    }

    /// <summary>
    /// Redis's handleClientsBlockedOnKeys: serves the clients waiting on each ready key, first blocked
    /// first, until one cannot be served or the key is gone; repeats while serving signals more keys.
    /// </summary>
    public void HandleReadyKeys()
    {
        if (_handling) return;
        _handling = true;
        try
        {
            while (_ready.Count > 0)
            {
                var batch = _ready;
                _ready = _readySpare;
                foreach (var (db, key) in batch)
                {
                    _readySet[db.Id]?.Remove(key);
                    ServeKey(db, key);
                }
                batch.Clear();
                _readySpare = batch;
            }
        }
        finally
        {
            _handling = false;
        }
    }

    private void ServeKey(Database db, byte[] key)
    {
        var map = WaitersOf(db.Id, create: false);
        if (map is null || !map.TryGetValue(key, out var queue)) return;
        // Looking the key up expires it if its time has passed. Requests are asked even about a key
        // that is gone (a stream reader in a group must then be told), but serving stops once a key
        // that was there has been emptied.
        bool existed = db.Peek(key) != null;
        var stats = _server.Stats;
        foreach (var receiver in queue.ToArray())
        {
            if (!IsWaitingOn(receiver, db, key)) continue;
            var req = receiver.BlockedOn!;
            long errorsBefore = stats.TotalErrorReplies;
            long start = Stopwatch.GetTimestamp();
            receiver.Cmd = req.Command;
            // The receiver runs its command now: it is the current client while it does.
            var previous = _server.CurrentClient;
            _server.CurrentClient = receiver;
            bool served;
            // Serving is the receiver's command running: invalidations for it wait for its reply.
            _server.CallDepth++;
            try { served = req.TryServe(receiver, key); }
            finally
            {
                _server.CallDepth--;
                _server.Tracking?.FlushPending();
                _server.CurrentClient = previous;
            }
            if (!served) continue;
            long micros = (Stopwatch.GetTimestamp() - start) * 1_000_000 / Stopwatch.Frequency;
            Completed(receiver, req, micros, stats.TotalErrorReplies != errorsBefore);
            Release(receiver, reprocess: true);
            if (existed && db.Peek(key) is null) break;
        }
    }

    // ---- timeouts --------------------------------------------------------------------------------

    /// <summary>Times out every client whose deadline has passed (strictly before <paramref name="nowMs"/>).</summary>
    public void CheckTimeouts(long nowMs)
    {
        while (_timeouts.Count > 0)
        {
            var first = _timeouts.Min;
            if (first.WhenMs >= nowMs) break;
            _timeouts.Remove(first);
            _server.ClientsInTimeoutTable = _timeouts.Count;
            var c = first.Client;
            if (c.BlockedOn is not { } req || req.TimeoutSeq != first.Seq) continue;
            req.InTimeoutTable = false;
            req.ReplyTimeout(c);
            Completed(c, req, 0, failed: false);
            Release(c, reprocess: true);
        }
    }

    private void Cron()
    {
        CheckTimeouts(_server.NowMs);
        ProcessUnblockedClients();
    }

    /// <summary>Arms the timer for the earliest deadline when it comes before the one armed.</summary>
    private void ScheduleTimer()
    {
        if (_timeouts.Count == 0) return;
        long due = _timeouts.Min.WhenMs;
        if (due >= _timerDueMs) return;
        _timerDueMs = due;
        long delay = Math.Clamp(due + 1 - _server.NowMs, 0, int.MaxValue);
        _timer ??= new Timer(OnTimer);
        _timer.Change(delay, Timeout.Infinite);
    }

    private void OnTimer(object? state)
    {
        lock (_server.Sync)
        {
            _timerDueMs = long.MaxValue;
            if (_server.ShuttingDown) return;
            try
            {
                CheckTimeouts(_server.NowMs);
                ProcessUnblockedClients();
            }
            catch (Exception e)
            {
                _server.Log.Warning("Unexpected error timing out blocked clients: " + e);
            }
            ScheduleTimer();
        }
    }

    private readonly record struct TimeoutEntry(long WhenMs, long Seq, Client Client)
    {
        public static readonly IComparer<TimeoutEntry> Order = Comparer<TimeoutEntry>.Create(static (a, b) =>
        {
            int cmp = a.WhenMs.CompareTo(b.WhenMs);
            return cmp != 0 ? cmp : a.Seq.CompareTo(b.Seq);
        });
    }

    /// <summary>Byte-wise key equality, with lookups by span so signaling a key allocates nothing.</summary>
    private sealed class KeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly KeyComparer Instance = new();
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] obj) => GetHashCode(obj.AsSpan());
        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var h = new HashCode();
            h.AddBytes(alternate);
            return h.ToHashCode();
        }
        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
