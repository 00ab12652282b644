using Redoubt.Server.Replication;

namespace Redoubt.Server;

/// <summary>The coordinated failover a master performs with one of its replicas (FAILOVER).</summary>
public enum FailoverState
{
    /// <summary>No failover.</summary>
    None,
    /// <summary>Writes are paused; waiting for a replica to acknowledge the whole stream.</summary>
    WaitForSync,
    /// <summary>We are now a replica of the target, asking it to take over with PSYNC ... FAILOVER.</summary>
    InProgress,
}

/// <summary>
/// FAILOVER: pause writes, wait until the target (or any) replica has acknowledged our whole stream,
/// become its replica and send it PSYNC FAILOVER, which makes it promote itself; the stream history
/// is shared, so we continue as its replica with a partial resync.
/// </summary>
public sealed partial class RedisServer
{
    /// <summary>How often the failover checks the replicas' acknowledgements while it waits.</summary>
    public const int FailoverCheckPeriodMs = 100;

    public FailoverState Failover { get; private set; }
    private string? _failoverHost;
    private int _failoverPort;
    private long _failoverEndMs;
    private bool _failoverForce;
    private long _lastFailoverCheckMs;

    internal static string FailoverStateName(FailoverState s) => s switch
    {
        FailoverState.WaitForSync => "waiting-for-sync",
        FailoverState.InProgress => "failover-in-progress",
        _ => "no-failover",
    };

    /// <summary>The online replica announced as host:port, or null.</summary>
    internal ReplicaLink? FindReplica(string host, int port)
    {
        foreach (var l in Replicas)
            if (string.Equals(l.Ip, host, StringComparison.OrdinalIgnoreCase) && l.ListeningPort == port) return l;
        return null;
    }

    /// <summary>Starts a failover (arguments already checked by the command).</summary>
    internal void StartFailover(string? host, int port, long timeoutMs, bool force)
    {
        _failoverHost = host;
        _failoverPort = port;
        _failoverForce = force;
        _failoverEndMs = timeoutMs > 0 ? NowMs + timeoutMs : 0;
        SetFailoverState(FailoverState.WaitForSync);
        Log.Notice(host != null ? $"FAILOVER requested to {host}:{port}." : "FAILOVER requested to any replica.");
        // Writes stop, so the replicas' periodic ACKs catch up with our final offset.
        PauseClients(PausePurpose.Failover, long.MaxValue, PauseType.Write);
        CheckFailover();
    }

    private void SetFailoverState(FailoverState s)
    {
        Failover = s;
        ReplicationStatus.FailoverState = FailoverStateName(s);
    }

    /// <summary>Run by the cron while a failover waits: go once a replica has everything, or time out.</summary>
    private void CheckFailover()
    {
        if (Failover != FailoverState.WaitForSync) return;
        long now = NowMs;
        if (_failoverEndMs != 0 && _failoverEndMs <= now)
        {
            if (_failoverForce)
            {
                Log.Notice($"FAILOVER to {_failoverHost}:{_failoverPort} time out exceeded, failing over.");
                BeginFailoverTo(_failoverHost!, _failoverPort);
            }
            else AbortFailover("Replica never caught up before timeout");
            return;
        }
        long offset = ReplicationStatus.MasterReplOffset;
        ReplicaLink? target = null;
        if (_failoverHost != null) target = FindReplica(_failoverHost, _failoverPort);
        else
        {
            foreach (var l in Replicas)
                if (l.State == ReplicaState.Online && l.AckOffset == offset) { target = l; break; }
            if (target != null)
            {
                _failoverHost = target.Ip;
                _failoverPort = target.ListeningPort;
            }
        }
        if (target is null || target.AckOffset != offset) return;
        Log.Notice($"Failover target {_failoverHost}:{_failoverPort} is synced, failing over.");
        BeginFailoverTo(_failoverHost!, _failoverPort);
    }

    private void BeginFailoverTo(string host, int port)
    {
        SetFailoverState(FailoverState.InProgress);
        FailoverPsync = true;
        SetMaster(host, port);
    }

    /// <summary>FAILOVER ABORT, a timeout, or the target refusing: we stay (or become again) the master.</summary>
    internal void AbortFailover(string reason)
    {
        if (Failover == FailoverState.None) return;
        Log.Notice(_failoverHost != null ? $"FAILOVER to {_failoverHost}:{_failoverPort} aborted: {reason}" : $"FAILOVER to any replica aborted: {reason}");
        if (Failover == FailoverState.InProgress)
        {
            // Not a user's REPLICAOF NO ONE: the failover state must be cleared for it to run.
            FailoverPsync = false;
            UnsetMaster();
        }
        ClearFailover();
    }

    private void ClearFailover()
    {
        _failoverHost = null;
        _failoverPort = 0;
        _failoverEndMs = 0;
        _failoverForce = false;
        FailoverPsync = false;
        SetFailoverState(FailoverState.None);
        UnpauseClients(PausePurpose.Failover);
    }

    /// <summary>Our PSYNC FAILOVER got its answer: the target took over (or refused).</summary>
    internal void FailoverPsyncAnswered(MasterHandshake h, bool accepted)
    {
        lock (Sync)
        {
            if (h == _handshake && FailoverPsync) FailoverPsyncAnswered(accepted);
        }
    }

    private void FailoverPsyncAnswered(bool accepted)
    {
        if (Failover != FailoverState.InProgress) return;
        if (accepted) ClearFailover();
        else AbortFailover("Failover target rejected psync request");
    }

    private void FailoverCron()
    {
        if (Failover != FailoverState.WaitForSync) return;
        long now = NowMs;
        if (now - _lastFailoverCheckMs < FailoverCheckPeriodMs) return;
        _lastFailoverCheckMs = now;
        CheckFailover();
    }

    /// <summary>
    /// PSYNC ... FAILOVER from our master: it hands over, so we promote ourselves before serving its
    /// PSYNC (its replid is ours, so it continues with a partial resync). Null when it may go on.
    /// </summary>
    internal string? AcceptFailoverPsync(Client c, string replid)
    {
        if (Config.MasterHost is null) return "ERR PSYNC FAILOVER can't be sent to a master.";
        if (!string.Equals(replid, ReplicationStatus.ReplId, StringComparison.OrdinalIgnoreCase))
            return "ERR PSYNC FAILOVER replid must match my replid.";
        UnsetMaster();
        Log.Notice($"MASTER MODE enabled (failover request from '{ClientInfoString(c)}')");
        return null;
    }
}
