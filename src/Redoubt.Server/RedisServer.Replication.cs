using System.Text;
using Redoubt.Server.Persistence;
using Redoubt.Server.Propagation;
using Redoubt.Server.Replication;

namespace Redoubt.Server;

/// <summary>
/// The master side of replication: the backlog fed by the propagation stream, replicas attached by
/// PSYNC/SYNC, full resyncs on top of <see cref="Snapshot"/>, partial resyncs from the backlog,
/// keepalives, pings and timeouts. Everything here runs under the server lock.
/// </summary>
public sealed partial class RedisServer
{
    /// <summary>Keepalive newlines, pings and timeouts are checked this often.</summary>
    public const int ReplicationCronPeriodMs = 1000;

    /// <summary>Length of the end mark of a diskless RDB transfer.</summary>
    public const int RdbEofMarkSize = 40;

    private static readonly byte[] StreamPing = "*1\r\n$4\r\nping\r\n"u8.ToArray();

    /// <summary>The backlog, created with the first replica (null: never had one).</summary>
    public ReplicationBacklog? Backlog { get; private set; }

    /// <summary>Replicas attached by PSYNC/SYNC, in attach order.</summary>
    public readonly List<ReplicaLink> Replicas = new();

    // What REPLCONF told us before the connection became a replica, by client id.
    private readonly Dictionary<long, ReplicaLink> _handshakes = new();
    private BacklogFeeder? _feeder;
    private long _lastReplCronMs, _lastReplPingMs;
    private bool _replicationAttached;

    /// <summary>Reads the replication stream into the backlog and on to every replica.</summary>
    private sealed class BacklogFeeder(RedisServer server) : IPropagationConsumer
    {
        public PropagationTarget Target => PropagationTarget.Replication;
        public void Feed(ReadOnlySpan<byte> resp) => server.FeedReplicationStream(resp);
    }

    internal void AttachReplicationLayer() => AttachReplication();

    private void AttachReplication()
    {
        if (_replicationAttached) return;
        _replicationAttached = true;
        CronHooks.Add(ReplicationCron);
        ClientUnlinkedHooks += ReplicaGone;
        ClientUnlinkedHooks += MasterClientGone;
        Config.ReplBacklogSizeChanged = () => Backlog?.Resize(Config.ReplBacklogSize);
    }

    /// <summary>Handshake data of a connection (REPLCONF before PSYNC), or its attached link.</summary>
    internal ReplicaLink LinkFor(Client c)
    {
        AttachReplication();
        foreach (var r in Replicas) if (r.Client == c) return r;
        if (!_handshakes.TryGetValue(c.Id, out var link)) _handshakes[c.Id] = link = new ReplicaLink { Client = c };
        return link;
    }

    internal ReplicaLink? AttachedLink(Client c)
    {
        foreach (var r in Replicas) if (r.Client == c) return r;
        return null;
    }

    private void ReplicaGone(Client c)
    {
        _handshakes.Remove(c.Id);
        _waiters.Remove(c);
        var link = AttachedLink(c);
        if (link is null) return;
        Replicas.Remove(link);
        Log.Notice($"Connection with replica {link.Ip}:{link.ListeningPort} lost.");
    }

    /// <summary>Creates the backlog with a new history (the first replica of a master without one).</summary>
    private void EnsureBacklog()
    {
        if (Backlog != null) return;
        var r = ReplicationStatus;
        r.ChangeReplicationId();
        r.ClearReplicationId2();
        Backlog = new ReplicationBacklog(Config.ReplBacklogSize);
        Backlog.Reset(r.MasterReplOffset + 1);
        _feeder = new BacklogFeeder(this);
        Propagation.Subscribe(_feeder);
        SyncBacklogStatus();
    }

    private void SyncBacklogStatus()
    {
        var r = ReplicationStatus;
        r.BacklogActive = Backlog != null;
        r.BacklogFirstByteOffset = Backlog?.FirstByteOffset ?? 0;
        r.BacklogHistlen = Backlog?.HistLen ?? 0;
    }

    private void FeedReplicationStream(ReadOnlySpan<byte> resp)
    {
        // A replica's backlog and replicas get its master's stream, never its own writes.
        if (IsReplica) return;
        AppendToStream(resp);
    }

    /// <summary>Adds stream bytes to the backlog and the offset, and sends them to every replica.</summary>
    private void AppendToStream(ReadOnlySpan<byte> resp)
    {
        // Without a backlog there is no history to count (Redis's offset stays put too).
        if (Backlog is null) return;
        Backlog.Append(resp);
        ReplicationStatus.MasterReplOffset += resp.Length;
        SyncBacklogStatus();
        foreach (var link in Replicas)
        {
            if (link.State == ReplicaState.Online)
            {
                link.Client.Reply.Raw(resp);
                link.Client.Connection.RequestFlush();
            }
            else link.Pending?.Write(resp);
        }
    }

    /// <summary>PSYNC/SYNC: attaches <paramref name="c"/> as a replica with a partial or a full resync.</summary>
    internal void ReplicaSync(Client c, bool psync, string replid, long offset)
    {
        var link = LinkFor(c);
        _handshakes.Remove(c.Id);
        string addr = $"{link.Ip}:{link.ListeningPort}";
        Log.Notice($"Replica {addr} asks for synchronization");
        link.LegacySync = !psync;
        c.Flags |= ClientFlags.Replica;
        link.AckTimeMs = NowMs;
        if (psync && TryPartialResync(c, link, replid, offset)) return;
        if (psync)
        {
            if (replid != "?")
            {
                Stats.SyncPartialErr++;
                Log.Notice($"Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{ReplicationStatus.ReplId}' and '{ReplicationStatus.ReplId2}')");
            }
            else Log.Notice($"Full resync requested by replica {addr}");
        }
        Stats.SyncFull++;
        EnsureBacklog();
        link.State = ReplicaState.WaitBgsave;
        link.WaitSinceMs = NowMs;
        Replicas.Add(link);
        StartFullSyncs(force: false);
    }

    private bool TryPartialResync(Client c, ReplicaLink link, string replid, long offset)
    {
        var r = ReplicationStatus;
        bool idOk = string.Equals(replid, r.ReplId, StringComparison.OrdinalIgnoreCase)
            || (string.Equals(replid, r.ReplId2, StringComparison.OrdinalIgnoreCase) && offset <= r.SecondReplOffset);
        if (!idOk || Backlog is null || !Backlog.Covers(offset))
        {
            if (idOk)
            {
                Stats.SyncPartialErr++;
                Log.Notice($"Unable to partial resync with replica {link.Ip}:{link.ListeningPort} for lack of backlog (Replica request was: {offset}).");
            }
            return false;
        }
        link.State = ReplicaState.Online;
        Replicas.Add(link);
        if (link.CapaPsync2) c.Reply.RawAscii($"+CONTINUE {r.ReplId}\r\n");
        else c.Reply.Raw("+CONTINUE\r\n"u8);
        long sent = Backlog.FirstByteOffset + Backlog.HistLen - offset;
        Backlog.CopyFrom(offset, s => c.Reply.Raw(s));
        Stats.SyncPartialOk++;
        Log.Notice($"Partial resynchronization request from {link.Ip}:{link.ListeningPort} accepted. Sending {sent} bytes of backlog starting from offset {offset}.");
        return true;
    }

    /// <summary>
    /// Starts one snapshot for every replica waiting for a full resync, when none runs: at once for the
    /// disk form, after repl-diskless-sync-delay (or repl-diskless-sync-max-replicas) for the diskless one.
    /// </summary>
    private void StartFullSyncs(bool force)
    {
        // Redis starts a full resync only with no child running: an AOF rewrite makes it wait too.
        if (ActiveSnapshot != null || OtherChildActive) return;
        var waiting = Replicas.Where(l => l.State == ReplicaState.WaitBgsave).ToList();
        if (waiting.Count == 0) return;
        bool diskless = Config.ReplDisklessSync && waiting.All(l => l.CapaEof);
        if (diskless && !force)
        {
            long oldest = waiting.Min(l => l.WaitSinceMs);
            bool enough = Config.ReplDisklessSyncMaxReplicas > 0 && waiting.Count >= Config.ReplDisklessSyncMaxReplicas;
            if (!enough && NowMs - oldest < Config.ReplDisklessSyncDelay * 1000) return;
        }
        var sink = NewRdbSink();
        if (sink is null)
        {
            foreach (var l in waiting) FailReplica(l, "-ERR BGSAVE failed, replication can't continue\r\n");
            return;
        }
        Stream target;
        string? tempFile = null;
        if (diskless) target = new MemoryStream();
        else
        {
            tempFile = Path.Combine(Config.Dir, $"temp-repl-{Environment.ProcessId}.rdb");
            try { target = new FileStream(tempFile, FileMode.Create, FileAccess.ReadWrite, FileShare.None); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.Warning($"Can't open {tempFile} for the replicas' RDB: {e.Message}");
                foreach (var l in waiting) FailReplica(l, "-ERR BGSAVE failed, replication can't continue\r\n");
                return;
            }
        }
        Log.Notice($"Starting BGSAVE for SYNC with target: {(diskless ? "replicas sockets" : "disk")}");
        long snapOffset = ReplicationStatus.MasterReplOffset;
        foreach (var l in waiting)
        {
            l.State = ReplicaState.SendBulk;
            l.Pending = new MemoryStream();
            if (!l.LegacySync) l.Client.Reply.RawAscii($"+FULLRESYNC {ReplicationStatus.ReplId} {snapOffset}\r\n");
            l.Client.Connection.RequestFlush();
        }
        // Every replica starts its stream with an explicit SELECT.
        if (_feeder != null) Propagation.ResetSelectedDb(_feeder);
        var consumer = new StreamConsumer(target);
        var snap = StartSnapshot(sink, [consumer], SnapshotPurpose.Replication,
            (s, error) => FullSyncDone(waiting, target, tempFile, diskless, error));
        if (snap is null)
        {
            target.Dispose();
            if (tempFile != null) TryDelete(tempFile);
            foreach (var l in waiting) FailReplica(l, "-ERR BGSAVE failed, replication can't continue\r\n");
        }
        else Log.Notice($"Background RDB transfer started by pid {Environment.ProcessId}");
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (Exception) { }
    }

    private void FailReplica(ReplicaLink l, string error)
    {
        Replicas.Remove(l);
        l.Client.Reply.RawAscii(error);
        l.Client.Connection.CloseAfterFlush();
    }

    /// <summary>The snapshot for a batch of replicas ended: send the RDB, then what happened since.</summary>
    private void FullSyncDone(List<ReplicaLink> batch, Stream target, string? tempFile, bool diskless, string? error)
    {
        byte[] rdb = [];
        if (error is null)
        {
            try
            {
                rdb = target is MemoryStream ms ? ms.ToArray() : ReadAll(target);
            }
            catch (IOException e) { error = e.Message; }
        }
        target.Dispose();
        if (tempFile != null) TryDelete(tempFile);
        if (error != null)
        {
            Log.Warning($"Background transfer error: {error}");
            foreach (var l in batch) if (Replicas.Contains(l)) FailReplica(l, "");
            return;
        }
        Log.Notice(diskless ? "Background RDB transfer terminated with success" : "Background saving terminated with success");
        foreach (var l in batch)
        {
            if (!Replicas.Contains(l)) continue;
            var reply = l.Client.Reply;
            if (diskless)
            {
                var mark = Encoding.ASCII.GetBytes(ReplicationStatus.NewReplId());
                reply.Raw("$EOF:"u8);
                reply.Raw(mark);
                reply.Raw("\r\n"u8);
                reply.Raw(rdb);
                reply.Raw(mark);
                // The stream waits for the replica's first ACK: a replica loading from disk only looks
                // for the mark at the end of what it reads.
                l.State = ReplicaState.WaitAck;
                Log.Notice($"Streamed RDB transfer with replica {l.Ip}:{l.ListeningPort} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming");
            }
            else
            {
                reply.RawAscii($"${rdb.Length}\r\n");
                reply.Raw(rdb);
                PutOnline(l);
            }
            l.Client.Connection.RequestFlush();
        }
        StartFullSyncs(force: false);
    }

    private static byte[] ReadAll(Stream s)
    {
        s.Flush();
        s.Position = 0;
        var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    private void PutOnline(ReplicaLink l)
    {
        if (l.Pending is { } p)
        {
            l.Client.Reply.Raw(p.GetBuffer().AsSpan(0, (int)p.Length));
            l.Pending = null;
        }
        l.State = ReplicaState.Online;
        l.AckTimeMs = NowMs;
        Log.Notice($"Synchronization with replica {l.Ip}:{l.ListeningPort} succeeded");
        l.Client.Connection.RequestFlush();
    }

    /// <summary>REPLCONF ACK from an attached replica.</summary>
    internal void ReplicaAck(Client c, long offset)
    {
        var l = AttachedLink(c);
        if (l is null) return;
        if (offset > l.AckOffset) l.AckOffset = offset;
        l.AckTimeMs = NowMs;
        if (l.State == ReplicaState.WaitAck) PutOnline(l);
        WaitersCheck();
    }

    /// <summary>Replicas that acknowledged within min-replicas-max-lag seconds.</summary>
    public int GoodReplicas()
    {
        int n = 0;
        long now = NowMs;
        foreach (var l in Replicas)
            if (l.State == ReplicaState.Online && now - l.AckTimeMs <= Config.MinReplicasMaxLag * 1000) n++;
        return n;
    }

    private void ReplicationCron()
    {
        long now = NowMs;
        WaitersCheck();
        FailoverCron();
        if (now - _lastReplCronMs < ReplicationCronPeriodMs) return;
        _lastReplCronMs = now;
        ReplicaCron();
        if (Replicas.Count == 0)
        {
            FreeBacklogAfterTtl(now);
            return;
        }
        _noReplicasSinceMs = 0;
        // Pings keep the stream moving so that replicas can tell a dead master from a quiet one.
        // No pings while a failover holds writes: the replicas must be able to match our offset.
        if (!IsReplica && Failover == FailoverState.None && Config.ReplPingReplicaPeriod > 0 && now - _lastReplPingMs >= Config.ReplPingReplicaPeriod * 1000)
        {
            _lastReplPingMs = now;
            FeedReplicationStream(StreamPing);
        }
        foreach (var l in Replicas.ToArray())
        {
            // Replicas waiting for their snapshot get a newline a second: "still alive, keep waiting".
            if (l.State == ReplicaState.WaitBgsave)
            {
                l.Client.Reply.Raw("\n"u8);
                l.Client.Connection.RequestFlush();
            }
            else if (l.State == ReplicaState.Online && !l.LegacySync && now - l.AckTimeMs > Config.ReplTimeout * 1000)
            {
                Log.Warning($"Disconnecting timedout replica (streaming sync): {l.Ip}:{l.ListeningPort}");
                Replicas.Remove(l);
                l.Client.Connection.CloseAsync();
            }
        }
        StartFullSyncs(force: false);
    }

    private long _noReplicasSinceMs;

    /// <summary>
    /// A master left without replicas for repl-backlog-ttl seconds frees its backlog and starts a new
    /// history, as nobody can continue the old one from it any more.
    /// </summary>
    private void FreeBacklogAfterTtl(long now)
    {
        if (Backlog is null || Config.ReplBacklogTtl <= 0 || IsReplica) return;
        if (_noReplicasSinceMs == 0) _noReplicasSinceMs = now;
        if (now - _noReplicasSinceMs < Config.ReplBacklogTtl * 1000) return;
        Log.Notice($"Replication backlog freed after {Config.ReplBacklogTtl} seconds without connected replicas.");
        if (_feeder != null) Propagation.Unsubscribe(_feeder);
        _feeder = null;
        Backlog = null;
        ReplicationStatus.ChangeReplicationId();
        ReplicationStatus.ClearReplicationId2();
        _noReplicasSinceMs = 0;
        SyncBacklogStatus();
    }

    /// <summary>The slaveN lines of INFO replication.</summary>
    public void AppendReplicaInfo(StringBuilder s)
    {
        int i = 0;
        long now = NowMs;
        foreach (var l in Replicas)
        {
            s.Append("slave").Append(i++).Append(":ip=").Append(l.Ip).Append(",port=").Append(l.ListeningPort)
             .Append(",state=").Append(l.StateName).Append(",offset=").Append(l.AckOffset)
             .Append(",lag=").Append((now - l.AckTimeMs) / 1000).Append("\r\n");
        }
    }

    // ---- WAIT and min-replicas ---------------------------------------------------------------------

    private static readonly byte[] GetAckCommand = "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"u8.ToArray();
    private readonly List<Client> _waiters = new();

    /// <summary>Replicas whose acknowledged offset reached <paramref name="offset"/>.</summary>
    public long ReplicasAcked(long offset)
    {
        long n = 0;
        foreach (var l in Replicas) if (l.State == ReplicaState.Online && l.AckOffset >= offset) n++;
        return n;
    }

    /// <summary>A client blocked in WAIT: the replicas are asked for an ACK right away.</summary>
    internal void AddWaiter(Client c)
    {
        _waiters.Add(c);
        if (Replicas.Count > 0 && !Pause.Active) FeedReplicationStream(GetAckCommand);
    }

    internal void WaitDone(Client c) => _waiters.Remove(c);

    private void WaitersCheck()
    {
        if (_waiters.Count == 0) return;
        foreach (var c in _waiters.ToArray())
        {
            if (c.BlockedOn is Redoubt.Server.Commands.ReplicationCommands.WaitRequest w && ReplicasAcked(w.Offset) >= w.NumReplicas)
            {
                Blocking.Unblock(c, withError: false);
                Blocking.ProcessUnblockedClients();
            }
        }
    }

    /// <summary>min-replicas-to-write: writes are refused while too few replicas acknowledged recently.</summary>
    internal string? NoReplicasError(Client c, Redoubt.Server.Commands.Command cmd)
    {
        if (Config.MinReplicasToWrite <= 0 || Config.MinReplicasMaxLag <= 0 || IsReplica) return null;
        if ((c.Flags & ClientFlags.Master) != 0) return null;
        var flags = Pause.FlagsOf(c, cmd);
        if (cmd.Name == "exec" && c.MultiQueue is { Count: > 0 }) flags |= c.MultiCommandFlags;
        if ((flags & Redoubt.Server.Commands.CommandFlags.Write) == 0) return null;
        return GoodReplicas() < Config.MinReplicasToWrite ? "-NOREPLICAS Not enough good replicas to write." : null;
    }
}
