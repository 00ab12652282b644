using System.Net.Sockets;
using System.Text;
using Redoubt.Server.Networking;
using Redoubt.Server.Persistence;
using Redoubt.Server.Replication;

namespace Redoubt.Server;

/// <summary>
/// The replica side of replication: REPLICAOF, the link to the master (a <see cref="MasterHandshake"/>
/// thread until the stream begins, then the "master client", served by an ordinary
/// <see cref="Connection"/> whose commands are applied with their replies suppressed), the cached
/// master that lets a reconnect or a restart continue with PSYNC, ACKs, promotion and demotion.
/// Everything here runs under the server lock unless it says otherwise.
/// </summary>
public sealed partial class RedisServer
{
    /// <summary>Where the link to our master stands (None on a master).</summary>
    public MasterLinkState LinkStateNow { get; private set; } = MasterLinkState.None;

    /// <summary>The connection applying the master's stream, while <see cref="MasterLinkState.Connected"/>.</summary>
    public Client? MasterClient { get; private set; }

    /// <summary>Set while FAILOVER makes this master a replica of its target: PSYNC carries FAILOVER.</summary>
    public bool FailoverPsync { get; internal set; }

    private MasterHandshake? _handshake;
    // The history we can continue from with PSYNC: the master's replid and our processed offset.
    private string? _cachedMasterId;
    private long _cachedMasterOffset;
    private int _cachedMasterDb;
    private long _linkDownSinceMs, _lastMasterIoMs, _lastAckSentMs;
    private long _transferTotal = -1, _transferRead, _transferLastIoMs;
    // Stream bytes of commands applied but not yet counted (a MULTI waits for its EXEC).
    private readonly MemoryStream _unappliedStream = new();
    private bool _ackAfterCommand;

    /// <summary>The master's commands apply to keys even when they look expired here: only the master expires them.</summary>
    public bool ApplyingMasterStream => CurrentClient is { } c && (c.Flags & ClientFlags.Master) != 0;

    /// <summary>A write on a writable replica deletes the expired keys it touches (locally).</summary>
    public bool DeleteExpiredOnReplica => !Config.ReplicaReadOnly && CurrentClient is { } c && (c.Flags & ClientFlags.Master) == 0
        && c.Cmd is { } cmd && cmd.Has(Redoubt.Server.Commands.CommandFlags.Write);

    // Keys a writable replica's own clients gave a TTL, with the databases they are in (a bit per db):
    // the master will never send their DEL, so the replica expires them itself.
    private readonly Dictionary<byte[], ulong> _ownKeysWithExpire = new(Storage.ByteArrayComparer.Instance);

    public void OnExpireSet(Storage.Database db, int slot)
    {
        if (Config.MasterHost is null || Config.ReplicaReadOnly || db.Id >= 64) return;
        if (CurrentClient is not { } c || (c.Flags & ClientFlags.Master) != 0) return;
        var key = Storage.KeyTable.KeyOf(db.ObjectAt(slot)).ToArray();
        _ownKeysWithExpire.TryGetValue(key, out ulong dbs);
        _ownKeysWithExpire[key] = dbs | (1UL << db.Id);
    }

    /// <summary>Redis's expireSlaveKeys: the replica's own keys with a TTL are deleted when due.</summary>
    private void ExpireOwnReplicaKeys()
    {
        if (_ownKeysWithExpire.Count == 0) return;
        if (Config.MasterHost is null)
        {
            _ownKeysWithExpire.Clear();
            return;
        }
        List<byte[]>? done = null;
        foreach (var (key, dbs) in _ownKeysWithExpire.ToArray())
        {
            ulong left = 0;
            for (int id = 0; id < Databases.Length && id < 64; id++)
            {
                if ((dbs & (1UL << id)) == 0) continue;
                if (Databases[id].ExpireOwnKeyIfDue(key)) left |= 1UL << id;
            }
            if (left == 0) (done ??= new()).Add(key);
            else _ownKeysWithExpire[key] = left;
        }
        if (done != null) foreach (var k in done) _ownKeysWithExpire.Remove(k);
    }

    private static readonly byte[] MasterDownError = "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."u8.ToArray();

    /// <summary>At start-up: a configured replicaof, continuing from the RDB's replication facts when it has them.</summary>
    internal void StartReplicaOfAtStartup()
    {
        _lastReplPingMs = NowMs;
        if (Config.MasterHost is null)
        {
            ContinueHistoryAsMaster();
            return;
        }
        IsReplica = true;
        AttachReplication();
        if (LastRdbLoad is { ReplId: { } id } load && load.ReplOffset >= 0)
        {
            // A restarted replica continues its master's history: same replid, same offset.
            ReplicationStatus.ReplId = id;
            ReplicationStatus.MasterReplOffset = load.ReplOffset;
            _cachedMasterId = id;
            _cachedMasterOffset = load.ReplOffset;
            _cachedMasterDb = Math.Max(0, load.ReplStreamDb);
        }
        LinkStateNow = MasterLinkState.Connect;
        _linkDownSinceMs = 0;
    }

    /// <summary>
    /// A master restarted from an RDB that recorded its replication history keeps it as replid2, so its
    /// replicas continue with a partial resync; the keys that expired meanwhile go to them as deletions.
    /// </summary>
    private void ContinueHistoryAsMaster()
    {
        if (LastRdbLoad is not { ReplId: { } id } load || load.ReplOffset < 0) return;
        var r = ReplicationStatus;
        r.ReplId2 = id;
        r.SecondReplOffset = load.ReplOffset + 1;
        r.MasterReplOffset = load.ReplOffset;
        Backlog = new ReplicationBacklog(Config.ReplBacklogSize);
        Backlog.Reset(load.ReplOffset + 1);
        _feeder = new BacklogFeeder(this);
        Propagation.Subscribe(_feeder);
        AttachReplication();
        _noReplicasSinceMs = NowMs;
        var del = DeletionName(Config.LazyfreeLazyExpire);
        foreach (var (db, key) in load.ExpiredKeys) Propagation.Add(db, [del, key], Redoubt.Server.Propagation.PropagationTarget.Replication);
        SyncBacklogStatus();
    }

    // ---- REPLICAOF ------------------------------------------------------------------------------------

    /// <summary>REPLICAOF host port: follow a (new) master. A master caches its own history to PSYNC from.</summary>
    internal void SetMaster(string host, int port)
    {
        bool wasMaster = Config.MasterHost is null;
        Config.MasterHost = null;
        // The link to the old master is cached: the new one may share its history (PSYNC2).
        if (MasterClient is { } old) DropMasterClient(old, cache: true, reconnect: false);
        UnblockAllForRoleChange();
        Config.MasterHost = host;
        Config.MasterPort = port;
        IsReplica = true;
        AttachReplication();
        CancelHandshake();
        if (wasMaster)
        {
            DiscardCachedMaster();
            // Our own history is what the new master may know (it was our replica): PSYNC from it.
            _cachedMasterId = ReplicationStatus.ReplId;
            _cachedMasterOffset = ReplicationStatus.MasterReplOffset;
            _cachedMasterDb = 0;
        }
        LinkStateNow = MasterLinkState.Connect;
        _linkDownSinceMs = 0;
        // A replica takes the replica class of oom-score-adj-values.
        Redoubt.Server.Config.OomScoreAdjust.Apply(Config, Log);
        Log.Notice($"Connecting to MASTER {host}:{port}");
        StartHandshake();
    }

    /// <summary>REPLICAOF NO ONE: become a master, keeping the old history as replid2 (PSYNC2).</summary>
    internal void UnsetMaster()
    {
        if (Config.MasterHost is null) return;
        Config.MasterHost = null;
        if (MasterClient is { } old) DropMasterClient(old, cache: false, reconnect: false);
        DiscardCachedMaster();
        CancelHandshake();
        ShiftReplicationId();
        // Our replicas learn the new replid by reconnecting; they continue with PSYNC.
        DisconnectReplicas();
        LinkStateNow = MasterLinkState.None;
        IsReplica = false;
        _linkDownSinceMs = 0;
        _noReplicasSinceMs = NowMs;
        // The next write we propagate starts with a SELECT.
        if (_feeder != null) Propagation.ResetSelectedDb(_feeder);
        Redoubt.Server.Config.OomScoreAdjust.Apply(Config, Log);
        if (Config.AppendOnly && AofState == AofState.Off) OnAppendOnlyChanged();
    }

    private void ShiftReplicationId()
    {
        var r = ReplicationStatus;
        r.ReplId2 = r.ReplId;
        r.SecondReplOffset = r.MasterReplOffset + 1;
        r.ChangeReplicationId();
        Log.Notice($"Setting secondary replication ID to {r.ReplId2}, valid up to offset: {r.SecondReplOffset}. New replication ID is {r.ReplId}");
    }

    private void DisconnectReplicas()
    {
        foreach (var l in Replicas.ToArray()) l.Client.Connection.CloseAsync();
    }

    /// <summary>Clients blocked on a master may not stay blocked on a replica (Redis's disconnectAllBlockedClients).</summary>
    private void UnblockAllForRoleChange()
    {
        foreach (var c in Clients.Values.ToArray())
        {
            if ((c.Flags & ClientFlags.Blocked) == 0) continue;
            if (Blocking.Unblock(c, withError: true, message: "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"))
                c.Connection?.RequestFlush();
        }
        Blocking.ProcessUnblockedClients();
    }

    internal void DiscardCachedMaster()
    {
        lock (Sync) _cachedMasterId = null;
    }

    private void CancelHandshake()
    {
        _handshake?.Cancel();
        _handshake = null;
        ResetTransferStats();
    }

    private void ResetTransferStats()
    {
        _transferTotal = -1;
        _transferRead = 0;
    }

    private void StartHandshake()
    {
        if (_handshake != null || Config.MasterHost is null) return;
        Log.Notice("MASTER <-> REPLICA sync started");
        _handshake = new MasterHandshake(this, Config.MasterHost, Config.MasterPort);
        LinkStateNow = MasterLinkState.Connecting;
        _handshake.Start();
    }

    // ---- reports from the handshake thread (each takes the lock) --------------------------------------

    internal MasterLinkState LinkState(MasterHandshake h)
    {
        lock (Sync) return h == _handshake ? LinkStateNow : MasterLinkState.None;
    }

    /// <summary>Moves the attempt to its next state; false when it was cancelled meanwhile.</summary>
    internal bool LinkStep(MasterHandshake h, MasterLinkState state)
    {
        lock (Sync)
        {
            if (h != _handshake || h.Cancelled) return false;
            LinkStateNow = state;
            _lastMasterIoMs = NowMs;
            return true;
        }
    }

    internal void MasterIoSeen(MasterHandshake h)
    {
        long now = NowMs;
        _lastMasterIoMs = now;
        _transferLastIoMs = now;
    }

    internal void HandshakeFailed(MasterHandshake h, string message)
    {
        lock (Sync)
        {
            if (h != _handshake) return;
            Log.Warning(message);
            _handshake = null;
            ResetTransferStats();
            if (Config.MasterHost != null) LinkStateNow = MasterLinkState.Connect;
        }
    }

    internal (string? Id, long Offset) PsyncTarget()
    {
        lock (Sync) return (_cachedMasterId, _cachedMasterOffset);
    }

    internal void TransferStarted(MasterHandshake h, long total)
    {
        _transferTotal = total;
        _transferRead = 0;
        _transferLastIoMs = NowMs;
    }

    internal void TransferProgress(MasterHandshake h, long read) => _transferRead = read;

    /// <summary>+CONTINUE: the stream goes on from our cached offset, under a new replid when the master says so.</summary>
    internal bool PartialResyncAccepted(MasterHandshake h, string? newId, Socket socket, byte[] leftover)
    {
        lock (Sync)
        {
            if (h != _handshake || h.Cancelled || _cachedMasterId is null) return false;
            var r = ReplicationStatus;
            string oldId = _cachedMasterId;
            r.ReplId = oldId;
            r.MasterReplOffset = _cachedMasterOffset;
            if (newId != null && !string.Equals(newId, oldId, StringComparison.OrdinalIgnoreCase))
            {
                r.ReplId2 = oldId;
                r.SecondReplOffset = r.MasterReplOffset + 1;
                r.ReplId = newId;
                Log.Notice($"Master replication ID changed to {newId}");
                // Our replicas must hear of the new ID: they reconnect and continue with PSYNC.
                DisconnectReplicas();
            }
            EnsureReplicaBacklog();
            _handshake = null;
            AttachMasterClient(socket, leftover, _cachedMasterDb);
            _cachedMasterId = null;
            return true;
        }
    }

    /// <summary>
    /// The RDB of a full resync is on disk: replace the dataset with it and start the stream. The load
    /// runs on the handshake thread and lets clients in now and then (they get -LOADING), as Redis
    /// answers them while it loads.
    /// </summary>
    internal bool FullSyncReceived(MasterHandshake h, string tempFile, string masterId, long masterOffset, Socket socket, byte[] leftover)
    {
        bool aofWasOn;
        lock (Sync)
        {
            if (h != _handshake || h.Cancelled)
            {
                try { File.Delete(tempFile); } catch (Exception) { }
                return false;
            }
            // A new history: our replicas must resync with us too, and nothing cached is valid.
            _cachedMasterId = null;
            DisconnectReplicas();
            FreeBacklogForNewHistory();
            aofWasOn = AofState != AofState.Off;
            if (aofWasOn) StopAppendOnly();
            Log.Notice("MASTER <-> REPLICA sync: Flushing old data");
            foreach (var db in Databases)
            {
                Watches.TouchAllInDb(db, null);
                db.Clear();
            }
            RaiseDbFlushed(-1);
            // The master's libraries come with its RDB.
            FlushFunctions();
            Log.Notice("MASTER <-> REPLICA sync: Loading DB in memory");
            PersistenceStatus.Loading = true;
        }
        RdbLoadResult? result = null;
        string? error = null;
        try { result = RdbLoader.LoadFile(this, tempFile); }
        catch (Exception e) when (e is RdbLoadException or IOException) { error = e.Message; }
        lock (Sync)
        {
            PersistenceStatus.Loading = false;
            if (result is null || h != _handshake || h.Cancelled)
            {
                if (result is null)
                {
                    Log.Warning($"Failed trying to load the MASTER synchronization DB from disk: {error}");
                    foreach (var db in Databases) db.Clear();
                }
                try { File.Delete(tempFile); } catch (Exception) { }
                if (h == _handshake)
                {
                    _handshake = null;
                    ResetTransferStats();
                    if (Config.MasterHost != null) LinkStateNow = MasterLinkState.Connect;
                }
                if (aofWasOn && Config.AppendOnly && AofState == AofState.Off) OnAppendOnlyChanged();
                return false;
            }
            try { File.Move(tempFile, Config.DbFilename, overwrite: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.Warning($"Failed trying to rename the temp DB into {Config.DbFilename} in MASTER <-> REPLICA synchronization: {e.Message}");
            }
            var r = ReplicationStatus;
            if (masterOffset >= 0)
            {
                r.ReplId = masterId;
                r.MasterReplOffset = masterOffset;
            }
            r.ClearReplicationId2();
            EnsureReplicaBacklog();
            _handshake = null;
            ResetTransferStats();
            Log.Notice("MASTER <-> REPLICA sync: Finished with success");
            AttachMasterClient(socket, leftover, Math.Max(0, result.ReplStreamDb));
            if (aofWasOn) OnAppendOnlyChanged();
            return true;
        }
    }

    /// <summary>Before a full resync: the backlog's history ends here.</summary>
    private void FreeBacklogForNewHistory()
    {
        if (_feeder != null) Propagation.Unsubscribe(_feeder);
        _feeder = null;
        Backlog = null;
        SyncBacklogStatus();
    }

    /// <summary>A replica keeps a backlog of its master's stream, for its own replicas and for after a promotion.</summary>
    private void EnsureReplicaBacklog()
    {
        if (Backlog is null)
        {
            Backlog = new ReplicationBacklog(Config.ReplBacklogSize);
            Backlog.Reset(ReplicationStatus.MasterReplOffset + 1);
        }
        if (_feeder is null)
        {
            _feeder = new BacklogFeeder(this);
            Propagation.Subscribe(_feeder);
        }
        AttachReplication();
        SyncBacklogStatus();
    }

    private void AttachMasterClient(Socket socket, byte[] leftover, int db)
    {
        var c = new Client(Interlocked.Increment(ref _nextClientId), this)
        {
            Address = Connection.FormatEndPoint(socket.RemoteEndPoint),
            LocalAddress = Connection.FormatEndPoint(socket.LocalEndPoint),
        };
        c.Flags |= ClientFlags.Master;
        c.Authenticated = true;
        c.Select(db);
        var conn = new Connection(socket, this, c);
        Clients[c.Id] = c;
        MasterClient = c;
        LinkStateNow = MasterLinkState.Connected;
        _linkDownSinceMs = 0;
        _lastMasterIoMs = c.LastInteractionMs = NowMs;
        _unappliedStream.SetLength(0);
        SendAckToMaster();
        _ = Task.Run(() => conn.RunWithReadBytesAsync(leftover));
    }

    /// <summary>The master link closed: keep its history so that the reconnect can continue with PSYNC.</summary>
    private void MasterClientGone(Client c)
    {
        if (c != MasterClient) return;
        DropMasterClient(c, cache: Config.MasterHost != null, reconnect: true);
    }

    private void DropMasterClient(Client c, bool cache, bool reconnect)
    {
        MasterClient = null;
        if (Clients.ContainsKey(c.Id)) c.Connection.CloseAsync();
        if (cache)
        {
            Log.Notice("Connection with master lost.");
            Log.Notice("Caching the disconnected master state.");
            _cachedMasterId = ReplicationStatus.ReplId;
            _cachedMasterOffset = ReplicationStatus.MasterReplOffset;
            _cachedMasterDb = c.Db.Id;
            LinkStateNow = MasterLinkState.Connect;
            _linkDownSinceMs = NowMs;
        }
        if (reconnect && Config.MasterHost != null)
        {
            Log.Notice($"Reconnecting to MASTER {Config.MasterHost}:{Config.MasterPort}");
            StartHandshake();
        }
    }

    // ---- the stream -----------------------------------------------------------------------------------

    /// <summary>
    /// After each command of the master's stream: its reply is dropped, and once outside a MULTI its
    /// bytes count in our offset and go, exactly as received, to our backlog and our own replicas.
    /// </summary>
    internal void MasterCommandApplied(Client c, ReadOnlySpan<byte> bytes, int replyMark)
    {
        var reply = c.Reply.Written;
        if (reply.Length > replyMark && reply[replyMark] == (byte)'-') LogErrorToUpstream(c, reply[(replyMark + 1)..]);
        c.Reply.Truncate(replyMark);
        if (_ackAfterCommand)
        {
            // GETACK reports the offset before the GETACK itself.
            _ackAfterCommand = false;
            WriteAck(c);
        }
        _unappliedStream.Write(bytes);
        if (c.InMulti) return;
        AppendToStream(_unappliedStream.GetBuffer().AsSpan(0, (int)_unappliedStream.Length));
        _unappliedStream.SetLength(0);
    }

    /// <summary>
    /// A command from our master (or replayed from the AOF) failed here: the data may now differ, which
    /// Redis logs as CRITICAL with the command and, for the master, the tail of the replication stream;
    /// propagation-error-behavior panic / panic-on-replicas stops the server instead of diverging.
    /// </summary>
    internal void LogErrorToUpstream(Client c, ReadOnlySpan<byte> errorLine)
    {
        int end = errorLine.IndexOf((byte)'\r');
        if (end >= 0) errorLine = errorLine[..end];
        if (errorLine.Length > 4096) errorLine = errorLine[..4096];
        bool aof = (c.Flags & ClientFlags.AofLoading) != 0;
        string from = aof ? "server" : "replica", to = aof ? "AOF-loading-client" : "master";
        string cmdName = c.LastCmd?.FullName ?? "<unknown>";
        Log.Warning($"== CRITICAL == This {from} is sending an error to its {to}: '{Encoding.Latin1.GetString(errorLine)}' after processing the command '{cmdName}'");
        if (!aof && Backlog is { HistLen: > 0 } backlog)
        {
            long len = Math.Min(256, backlog.HistLen);
            var tail = new MemoryStream();
            backlog.CopyFrom(backlog.FirstByteOffset + backlog.HistLen - len, part => tail.Write(part));
            Log.Warning($"Latest backlog is: '{Monitoring.MonitorLine.Repr(tail.ToArray()).Trim('"')}'");
        }
        Stats.UnexpectedErrorReplies++;
        string behavior = Config.PropagationErrorBehavior;
        bool panic = (!aof && Config.ReplicaReadOnly && behavior is "panic" or "panic-on-replicas") || (aof && behavior == "panic");
        if (panic)
        {
            Log.Warning($"This {from} panicked sending an error to its {to} after processing the command '{cmdName}'");
            Environment.Exit(1);
        }
    }

    /// <summary>REPLCONF GETACK from our master: answered once the command is applied.</summary>
    internal void AckRequested() => _ackAfterCommand = true;

    private void SendAckToMaster()
    {
        if (MasterClient is not { } c) return;
        WriteAck(c);
        c.Connection.RequestFlush();
    }

    private void WriteAck(Client c)
    {
        _lastAckSentMs = NowMs;
        string offset = ReplicationStatus.MasterReplOffset.ToString(System.Globalization.CultureInfo.InvariantCulture);
        c.Reply.RawAscii($"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${offset.Length}\r\n{offset}\r\n");
    }

    /// <summary>The replica part of the replication cron: connect, time out, acknowledge.</summary>
    private void ReplicaCron()
    {
        if (Config.MasterHost is null) return;
        long now = NowMs;
        long timeoutMs = Config.ReplTimeout * 1000;
        if (_handshake != null && now - _lastMasterIoMs > timeoutMs)
        {
            Log.Warning(LinkStateNow == MasterLinkState.Transfer
                ? "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value."
                : "Timeout connecting to the MASTER...");
            CancelHandshake();
            LinkStateNow = MasterLinkState.Connect;
        }
        if (MasterClient is { } m && now - m.LastInteractionMs > timeoutMs)
        {
            Log.Warning("MASTER timeout: no data nor PING received...");
            m.Connection.CloseAsync();
            return;
        }
        if (LinkStateNow == MasterLinkState.Connect && _handshake is null)
        {
            Log.Notice($"Connecting to MASTER {Config.MasterHost}:{Config.MasterPort}");
            StartHandshake();
        }
        if (MasterClient != null && now - _lastAckSentMs >= MasterLinkStates.AckPeriodMs) SendAckToMaster();
    }

    // ---- gate checks ----------------------------------------------------------------------------------

    /// <summary>-READONLY for writes on a read-only replica, -MASTERDOWN while the link is down and stale data is refused.</summary>
    internal string? ReplicaStateError(Client c, Redoubt.Server.Commands.Command cmd)
    {
        if (Config.MasterHost is null || (c.Flags & ClientFlags.Master) != 0) return null;
        // A script's declared flags count (an FCALL of a function that may write is a write).
        var flags = Pause.FlagsOf(c, cmd);
        if (cmd.Name == "exec" && c.MultiQueue is { Count: > 0 }) flags |= c.MultiCommandFlags;
        if (Config.ReplicaReadOnly && (flags & Redoubt.Server.Commands.CommandFlags.Write) != 0)
            return "-READONLY You can't write against a read only replica.";
        if (!Config.ReplicaServeStaleData && LinkStateNow != MasterLinkState.Connected && (cmd.Flags & Redoubt.Server.Commands.CommandFlags.Stale) == 0)
            return Encoding.ASCII.GetString(MasterDownError);
        return null;
    }

    /// <summary>PSYNC/SYNC asked of a replica: only with a live link to our own master.</summary>
    internal bool CanServeSync => Config.MasterHost is null || LinkStateNow == MasterLinkState.Connected;

    // ---- INFO and ROLE --------------------------------------------------------------------------------

    /// <summary>The replica lines of INFO replication, between role and slave_priority's tail.</summary>
    public void AppendMasterLinkInfo(StringBuilder s)
    {
        long now = NowMs;
        bool up = LinkStateNow == MasterLinkState.Connected;
        var r = ReplicationStatus;
        long processed = MasterClient != null || _cachedMasterId != null ? r.MasterReplOffset : 1;
        long read = processed;
        if (MasterClient is { } m) read += m.QueryEnd - m.QueryStart + _unappliedStream.Length;
        s.Append("master_host:").Append(Config.MasterHost).Append("\r\n")
         .Append("master_port:").Append(Config.MasterPort).Append("\r\n")
         .Append("master_link_status:").Append(up ? "up" : "down").Append("\r\n")
         .Append("master_last_io_seconds_ago:").Append(MasterClient is { } mc ? (now - mc.LastInteractionMs) / 1000 : -1).Append("\r\n")
         .Append("master_sync_in_progress:").Append(LinkStateNow == MasterLinkState.Transfer ? 1 : 0).Append("\r\n")
         .Append("slave_read_repl_offset:").Append(read).Append("\r\n")
         .Append("slave_repl_offset:").Append(processed).Append("\r\n");
        if (LinkStateNow == MasterLinkState.Transfer)
        {
            long total = _transferTotal, got = _transferRead;
            double perc = total > 0 ? got * 100.0 / total : 0;
            s.Append("master_sync_total_bytes:").Append(total).Append("\r\n")
             .Append("master_sync_read_bytes:").Append(got).Append("\r\n")
             .Append("master_sync_left_bytes:").Append(total > 0 ? total - got : -1).Append("\r\n")
             .Append("master_sync_perc:").Append(perc.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)).Append("\r\n")
             .Append("master_sync_last_io_seconds_ago:").Append((now - _transferLastIoMs) / 1000).Append("\r\n");
        }
        if (!up)
            s.Append("master_link_down_since_seconds:").Append(_linkDownSinceMs != 0 ? (now - _linkDownSinceMs) / 1000 : -1).Append("\r\n");
        s.Append("slave_priority:").Append(Config.ReplicaPriority).Append("\r\n")
         .Append("slave_read_only:").Append(Config.ReplicaReadOnly ? 1 : 0).Append("\r\n")
         .Append("replica_announced:").Append(Config.ReplicaAnnounced ? 1 : 0).Append("\r\n");
    }

    /// <summary>The processed offset ROLE reports on a replica (-1 before any sync).</summary>
    public long RoleReplicaOffset => MasterClient != null ? ReplicationStatus.MasterReplOffset
        : _cachedMasterId != null ? _cachedMasterOffset : -1;
}
