using System.Diagnostics;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Persistence;

/// <summary>
/// A point-in-time copy of every database, taken while the server keeps serving: the fork-less stand-in
/// for Redis's BGSAVE child (see docs/architecture.md, "Snapshots").
/// </summary>
/// <remarks>
/// <see cref="Start"/> (under the lock) notes each non-empty key table with a done bit per slot. A
/// writer thread then takes the lock for short turns, each encoding the next not-done slots into the
/// sink (bounded by <see cref="ChunkKeys"/> keys and <see cref="ChunkTicks"/>), and hands the encoded
/// bytes to the consumers with the lock released. A command that reaches a not-done slot first has
/// the sink record it (copy before write), so whatever it changes afterwards is invisible here.
/// </remarks>
public sealed class Snapshot
{
    /// <summary>Most keys one turn of the writer encodes under the lock.</summary>
    public const int ChunkKeys = 1000;
    /// <summary>Longest a turn keeps encoding under the lock (1 ms) once past a few keys.</summary>
    public static readonly long ChunkTicks = Stopwatch.Frequency / 1000;
    /// <summary>
    /// While clients keep the server busy, the writer waits this many times the length of its last
    /// round (waiting for the lock, the turn under it, and handing the bytes to the consumers) before
    /// the next one. It thus takes about a tenth of a core and of the lock (measured: its work was 11% of
    /// a 3 s BGSAVE under load), and clients keep about 80% of their throughput on a 2-core machine whose
    /// cores the benchmark and the server already fill (the lock is not fair either: a writer that took
    /// it back at once would starve them).
    /// On a quiet server it does not wait.
    /// </summary>
    public const int BusyPauseFactor = 10;
    /// <summary>Commands processed since the writer's last round from which the server counts as busy.</summary>
    public const int BusyCommands = 32;

    private readonly RedisServer _server;
    public ISnapshotSink Sink { get; }
    private SnapshotTable[] _tables = Array.Empty<SnapshotTable>();
    private int _next;
    private volatile bool _cancelled;
    private readonly List<SnapshotConsumer> _consumers = new();
    private long _flushedBytes;
    private Action<Snapshot, string?>? _completed;
    private int _completedOnce;
    // Commands the server had processed at the writer's last turn (how busy the clients keep it).
    private long _lastCommands = -1;

    /// <summary>Keys in the snapshot (the databases' sizes at the start) and keys encoded so far.</summary>
    public long KeysTotal { get; }
    public long KeysProcessed { get; private set; }
    /// <summary>Unix ms when the snapshot began; microseconds <see cref="Start"/> took (INFO latest_fork_usec).</summary>
    public long StartedMs { get; }
    public long StartUsec { get; private set; }
    /// <summary>Most memory the snapshot held at once beyond the dataset: encoded bytes not yet written, copies, bitmaps.</summary>
    public long PeakExtraBytes { get; private set; }
    /// <summary>Longest turn of the writer thread under the lock, in microseconds (the longest pause it caused).</summary>
    public long LongestTurnUsec { get; private set; }
    /// <summary>Encoded bytes handed to the consumers.</summary>
    public long FlushedBytes => Interlocked.Read(ref _flushedBytes);
    public bool Finished { get; private set; }
    public bool Cancelled => _cancelled;
    /// <summary>Why the snapshot failed (every consumer failed, or the sink threw); null while fine.</summary>
    public string? Error { get; private set; }

    private Snapshot(RedisServer server, ISnapshotSink sink, long total)
    {
        _server = server;
        Sink = sink;
        KeysTotal = total;
        StartedMs = Database.NowMs();
    }

    /// <summary>
    /// Begins a snapshot of every database as it is now; the caller holds the server lock and no other
    /// snapshot runs. Nothing is written until <see cref="RunInBackground"/> or <see cref="RunToCompletion"/>.
    /// </summary>
    public static Snapshot Start(RedisServer server, ISnapshotSink sink)
    {
        long t0 = Stopwatch.GetTimestamp();
        var tables = new List<SnapshotTable>();
        var snapshot = new Snapshot(server, sink, server.Databases.Sum(d => (long)d.Count));
        foreach (var db in server.Databases)
        {
            // Redis writes nothing for an empty database; and an empty table has no slot to protect.
            if (db.Count == 0) continue;
            tables.Add(db.AttachSnapshot(snapshot));
        }
        snapshot._tables = tables.ToArray();
        sink.Begin(server);
        snapshot.StartUsec = (long)Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        return snapshot;
    }

    /// <summary>Adds a destination; allowed until the first bytes have been handed out (false after).</summary>
    public bool AddConsumer(SnapshotConsumer consumer)
    {
        lock (_consumers)
        {
            if (_flushedBytes > 0 || _cancelled) return false;
            _consumers.Add(consumer);
            return true;
        }
    }

    public IReadOnlyList<SnapshotConsumer> Consumers
    {
        get { lock (_consumers) return _consumers.ToArray(); }
    }

    /// <summary>Called by <see cref="SnapshotTable.Touch"/> under the lock: records the slot's entry before a command changes it.</summary>
    internal void Capture(SnapshotTable t, int slot)
    {
        if (!t.TryRead(slot, out var value, out long expire, out int meta)) return;
        KeysProcessed++;
        if (t.Begun)
        {
            Sink.WriteEntry(value, expire, meta);
            return;
        }
        // The sink is inside another database: keep an independent copy until this one's turn.
        object copy = value is byte[] rec ? (object)StringRecord.Create(StringRecord.Key(rec), StringRecord.Value(rec))
            : ((RedisObject)value).Clone(((RedisObject)value).Key);
        (t.Pending ??= new()).Add((copy, expire, meta));
        t.PendingBytes += KeyTable.SizeOf(copy);
    }

    /// <summary>
    /// One turn under the lock: encodes up to <paramref name="maxKeys"/> not-done keys (stopping early
    /// after <paramref name="maxTicks"/>); true when everything has been encoded and the sink ended.
    /// </summary>
    public bool Step(int maxKeys, long maxTicks)
    {
        if (Finished) return true;
        long deadline = Stopwatch.GetTimestamp() + maxTicks;
        int n = 0;
        while (_next < _tables.Length)
        {
            var t = _tables[_next];
            if (!t.Begun)
            {
                Sink.BeginDatabase(t.DbId, t.KeyCount, t.ExpireCount);
                t.Begun = true;
                if (t.Pending != null)
                {
                    foreach (var (v, e, m) in t.Pending) Sink.WriteEntry(v, e, m);
                    t.Pending = null;
                    t.PendingBytes = 0;
                }
            }
            while (t.Cursor < t.Limit)
            {
                int slot = t.Cursor++;
                if (!t.TryClaim(slot)) continue;
                if (!t.TryRead(slot, out var value, out long expire, out int meta)) continue;
                Sink.WriteEntry(value, expire, meta);
                KeysProcessed++;
                if (++n >= maxKeys) return false;
                if ((n & 31) == 0 && Stopwatch.GetTimestamp() > deadline) return false;
            }
            Detach(t);
            _next++;
        }
        Sink.End();
        Finished = true;
        return true;
    }

    /// <summary>The snapshot's memory beyond the dataset right now (under the lock).</summary>
    public long ExtraBytes
    {
        get
        {
            long bytes = Sink.BufferedBytes;
            foreach (var t in _tables)
            {
                if (t.Cursor >= t.Limit) continue;
                bytes += t.PendingBytes + t.BitmapBytes;
                // A flushed database's old contents live on only for the snapshot until it is written.
                if (t.Released) bytes += t.Table.ValueBytes + t.Table.StructureBytes;
            }
            return bytes;
        }
    }

    private void NotePeak()
    {
        long extra = ExtraBytes;
        if (extra > PeakExtraBytes) PeakExtraBytes = extra;
    }

    /// <summary>Stops following a table's changes (done, or the snapshot ended).</summary>
    private void Detach(SnapshotTable t)
    {
        foreach (var db in _server.Databases) db.DetachSnapshot(t);
        t.Pending = null;
        t.PendingBytes = 0;
    }

    private void DetachAll()
    {
        foreach (var t in _tables) Detach(t);
    }

    /// <summary>
    /// Writes the whole snapshot now, under the lock (SAVE, FLUSHALL's save, SHUTDOWN): the same
    /// iteration, with nothing able to change the data meanwhile. Throws what a consumer's stream throws.
    /// </summary>
    public void RunToCompletion()
    {
        try
        {
            // rdb-key-save-delay slows a foreground save too (SAVE, the save at shutdown), as in Redis.
            long delay = _server.Config.RdbKeySaveDelay;
            while (!Step(delay != 0 ? 1 : int.MaxValue / 2, Stopwatch.Frequency / 10))
            {
                NotePeak();
                Flush(throwOnError: true);
                if (delay > 0) Thread.Sleep(TimeSpan.FromTicks(Math.Max(1, delay * 10)));
            }
            NotePeak();
            Flush(throwOnError: true);
        }
        finally
        {
            DetachAll();
        }
    }

    /// <summary>
    /// Starts the writer thread. <paramref name="completed"/> runs under the lock once every consumer is
    /// done, with null or the error that ended the snapshot; it is not called after <see cref="Cancel"/>.
    /// </summary>
    public void RunInBackground(Action<Snapshot, string?> completed)
    {
        _completed = completed;
        new Thread(WriterLoop) { IsBackground = true, Name = "snapshot" }.Start();
    }

    /// <summary>Abandons the snapshot (FLUSHALL, SHUTDOWN, a replica gone): under the lock.</summary>
    public void Cancel()
    {
        if (_cancelled) return;
        _cancelled = true;
        DetachAll();
        foreach (var c in Consumers) c.Abort();
    }

    private void WriterLoop()
    {
        string? error = null;
        try
        {
            while (true)
            {
                long delay, turn, commands;
                bool done;
                long started = Stopwatch.GetTimestamp();
                lock (_server.Sync)
                {
                    if (_cancelled) return;
                    delay = _server.Config.RdbKeySaveDelay;
                    long locked = Stopwatch.GetTimestamp();
                    done = Step(delay != 0 ? 1 : ChunkKeys, ChunkTicks);
                    NotePeak();
                    turn = (long)Stopwatch.GetElapsedTime(locked).TotalMicroseconds;
                    if (turn > LongestTurnUsec) LongestTurnUsec = turn;
                    commands = _server.Stats.TotalCommandsProcessed;
                }
                if (!Flush(throwOnError: false))
                {
                    error = FirstConsumerError() ?? "all destinations failed";
                    break;
                }
                if (done) break;
                // The test knob rdb-key-save-delay slows saving per key, as Redis's child does.
                if (delay > 0) Thread.Sleep(TimeSpan.FromTicks(Math.Max(1, delay * 10)));
                else if (_lastCommands >= 0 && commands - _lastCommands >= BusyCommands)
                {
                    long work = (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds;
                    Thread.Sleep((int)Math.Clamp(work * BusyPauseFactor / 1000, 1, 20));
                }
                _lastCommands = commands;
            }
            if (error is null)
            {
                foreach (var c in Consumers)
                {
                    if (c.Error != null) continue;
                    try { c.Finish(); }
                    catch (Exception e) { c.Fail(e); }
                }
                if (Consumers.All(c => c.Error != null)) error = FirstConsumerError();
            }
        }
        catch (Exception e)
        {
            error = e.Message;
        }
        lock (_server.Sync)
        {
            if (_cancelled) return;
            DetachAll();
            Error = error;
            if (Interlocked.Exchange(ref _completedOnce, 1) == 0) _completed?.Invoke(this, error);
        }
    }

    private string? FirstConsumerError()
    {
        foreach (var c in Consumers) if (c.Error != null) return SnapshotConsumer.Describe(c.Error);
        return null;
    }

    /// <summary>
    /// Hands the encoded bytes to every consumer still in good health; false when none is left.
    /// A consumer whose stream throws is marked failed and skipped from then on.
    /// </summary>
    private bool Flush(bool throwOnError)
    {
        SnapshotConsumer[] live;
        lock (_consumers) live = _consumers.Where(c => c.Error is null).ToArray();
        if (live.Length == 0)
        {
            if (throwOnError) throw new InvalidOperationException("no destination for the snapshot");
            return false;
        }
        var fan = new FanoutStream(live, throwOnError);
        Sink.FlushTo(fan);
        Interlocked.Add(ref _flushedBytes, fan.Written);
        return live.Any(c => c.Error is null);
    }
}
