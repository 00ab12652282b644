using Redoubt.Server.Commands;
using Redoubt.Server.Config;

namespace Redoubt.Server;

/// <summary>
/// Client management: client classes, lookup and killing, CLIENT PAUSE bookkeeping (holding back and
/// resuming clients in order), and output buffer limits.
/// </summary>
public sealed partial class RedisServer
{
    /// <summary>
    /// Unblocks a client blocked in a blocking command (CLIENT UNBLOCK): the blocking subsystem sets this.
    /// Arguments: the client, and whether to fail it with -UNBLOCKED rather than time it out. Returns
    /// true when the client was unblocked.
    /// </summary>
    public Func<Client, bool, bool>? ClientUnblockHandler;

    /// <summary>The client whose command the gate is processing (null between commands).</summary>
    public Client? CurrentClient;

    // Clients released from a pause, waiting to run their held-back input (in order).
    private readonly List<Client> _resumeQueue = new();
    // Clients whose output buffer is over the soft limit: the cron closes them once the time is up.
    private readonly HashSet<Client> _overSoftLimit = new();
    private long _lastPeakResetMs;

    /// <summary>Wires client management into the server's hooks (called once when commands are bound).</summary>
    internal void AttachClientManagement()
    {
        ClientUnlinkedHooks += OnClientUnlinked;
        ResetClientHooks += OnClientReset;
        CronHooks.Add(ClientsCron);
    }

    /// <summary>The class of a client for CLIENT LIST/KILL TYPE and output buffer limits (MONITOR clients are normal).</summary>
    public static ClientType GetClientType(Client c)
    {
        if ((c.Flags & ClientFlags.Master) != 0) return ClientType.Master;
        if ((c.Flags & ClientFlags.Replica) != 0 && (c.Flags & ClientFlags.Monitor) == 0) return ClientType.Replica;
        if ((c.Flags & ClientFlags.PubSub) != 0) return ClientType.PubSub;
        return ClientType.Normal;
    }

    public Client? LookupClient(long id) => Clients.GetValueOrDefault(id);

    /// <summary>Connected clients in connection order (what CLIENT LIST prints).</summary>
    public List<Client> ClientsInOrder()
    {
        var list = new List<Client>(Clients.Values);
        list.Sort(static (a, b) => a.Id.CompareTo(b.Id));
        return list;
    }

    private void OnClientUnlinked(Client c)
    {
        if ((c.Flags & ClientFlags.Monitor) != 0) Monitors.Remove(c);
        if ((c.Flags & ClientFlags.Paused) != 0) Pause.Postponed.Remove(c);
        _overSoftLimit.Remove(c);
    }

    private void OnClientReset(Client c)
    {
        if ((c.Flags & ClientFlags.Monitor) != 0)
        {
            Monitors.Remove(c);
            c.Flags &= ~ClientFlags.Monitor;
        }
    }

    // ---- CLIENT PAUSE ------------------------------------------------------

    /// <summary>True while a pause is in force: keys are then neither expired nor evicted, so the data set stays still.</summary>
    public bool ExpiryPaused
    {
        get
        {
            if (!Pause.Active) return false;
            if (Pause.ExpireIfDue(NowMs)) ReleasePostponedClients();
            return Pause.Active;
        }
    }

    public void PauseClients(PausePurpose purpose, long endMs, PauseType type) => Pause.Pause(purpose, endMs, type, NowMs);

    public void UnpauseClients(PausePurpose purpose)
    {
        if (Pause.Unpause(purpose, NowMs)) ReleasePostponedClients();
    }

    /// <summary>Ends CLIENT PAUSE (CLIENT UNPAUSE) and lets waiting clients run their queued input.</summary>
    public void Unpause() => UnpauseClients(PausePurpose.ClientCommand);

    /// <summary>Called by the gate: the command stays in the query buffer until the pause ends.</summary>
    internal void PostponeClient(Client c)
    {
        c.Flags |= ClientFlags.Paused;
        Pause.Postponed.Add(c);
    }

    /// <summary>
    /// Releases every held-back client. They run after the current command (or cron tick) is done, in
    /// the order they were held back, and may be held back again if a pause still covers them.
    /// </summary>
    public void ReleasePostponedClients()
    {
        foreach (var c in Pause.Postponed)
        {
            c.Flags &= ~ClientFlags.Paused;
            _resumeQueue.Add(c);
        }
        Pause.Postponed.Clear();
    }

    /// <summary>Runs the input of released clients; called under the lock between commands (after a batch, by the cron).</summary>
    public void ResumeReleasedClients()
    {
        if (_resumeQueue.Count == 0) return;
        var batch = _resumeQueue.ToArray();
        _resumeQueue.Clear();
        foreach (var c in batch)
        {
            if (c.Connection is null || c.Connection.IsClosed || !Clients.ContainsKey(c.Id)) continue;
            if ((c.Flags & ClientFlags.Paused) != 0) continue;
            c.ProcessInputBuffer();
            c.Connection.RequestFlush();
        }
    }

    // ---- killing -----------------------------------------------------------

    /// <summary>Disconnects a client now, dropping its pending output (CLIENT KILL of another client).</summary>
    public void KillClient(Client c) => c.Connection?.Close();

    // ---- output buffer limits ----------------------------------------------

    /// <summary>
    /// Checks the client's pending output (its reply buffer plus what is being sent) against the hard
    /// and soft limits of its class. The soft limit must be exceeded continuously for longer than its
    /// seconds. Masters count as normal clients.
    /// </summary>
    public bool OutputBufferLimitReached(Client c)
    {
        var type = GetClientType(c);
        if (type == ClientType.Master) type = ClientType.Normal;
        var limit = Config.ClientOutputBufferLimits[(int)type];
        if (limit.IsUnlimited)
        {
            c.OutputSoftLimitReachedAt = 0;
            return false;
        }
        ulong used = (ulong)(c.Connection?.PendingOutputBytes ?? c.Reply.Length);
        bool hard = limit.HardBytes != 0 && used >= limit.HardBytes;
        bool soft = limit.SoftBytes != 0 && used >= limit.SoftBytes;
        if (soft)
        {
            long now = NowMs / 1000;
            if (c.OutputSoftLimitReachedAt == 0)
            {
                c.OutputSoftLimitReachedAt = now;
                _overSoftLimit.Add(c);
                soft = false;
            }
            else if (now - c.OutputSoftLimitReachedAt <= limit.SoftSeconds) soft = false;
        }
        else if (c.OutputSoftLimitReachedAt != 0)
        {
            c.OutputSoftLimitReachedAt = 0;
            _overSoftLimit.Remove(c);
        }
        return soft || hard;
    }

    /// <summary>
    /// Schedules the client to be closed, without sending what it has pending, when its output buffer
    /// is over a limit. Returns true when it is (or already was) being closed.
    /// </summary>
    public bool CloseClientOnOutputBufferLimit(Client c)
    {
        if (c.Connection is null) return false;
        if ((c.Flags & ClientFlags.CloseAsap) != 0) return true;
        if (c.Connection.PendingOutputBytes == 0 && GetClientType(c) != ClientType.Replica) return false;
        if (!OutputBufferLimitReached(c)) return false;
        string info = ClientInfoString(c);
        Stats.ClientOutputBufferLimitDisconnections++;
        _overSoftLimit.Remove(c);
        c.Connection.CloseAsync();
        Log.Warning($"Client {info} scheduled to be closed ASAP for overcoming of output buffer limits.");
        return true;
    }

    /// <summary>Clients over their soft limit are re-checked here, so they are closed even when no more output comes.</summary>
    private void ClientsCron()
    {
        ResumeReleasedClients();
        long now = NowMs;
        // Redis visits clients in turns of at least 5 a tick and all of them within a second: with few
        // clients each is visited every tick, with many about once a second.
        long visitPeriod = Math.Min(1000, Clients.Count / 5 * 1000 / Math.Clamp(Config.Hz, 1, 500));
        if (now - _lastPeakResetMs >= visitPeriod)
        {
            // Query buffer peaks are recent ones, so a buffer grown once can shrink back.
            _lastPeakResetMs = now;
            foreach (var c in Clients.Values)
            {
                c.QueryBufPeak = Math.Max(c.QueryEnd - c.QueryStart, c.QueryNeeded);
                // A client idle for over 2 seconds gives back a query buffer holding nothing but spare room.
                if (c.Connection != null && c.QueryStart == c.QueryEnd && c.QueryBuf.Length - c.QueryEnd > 4096
                    && now / 1000 - c.LastInteractionMs / 1000 > 2)
                    c.Connection.ReleaseIdleQueryBuffer();
            }
        }
        if (_overSoftLimit.Count == 0) return;
        foreach (var c in _overSoftLimit.ToArray())
        {
            if (c.Connection is null || !Clients.ContainsKey(c.Id) || c.Connection.PendingOutputBytes == 0)
            {
                // Drained (or gone): the soft limit clock starts again next time.
                c.OutputSoftLimitReachedAt = 0;
                _overSoftLimit.Remove(c);
                continue;
            }
            CloseClientOnOutputBufferLimit(c);
        }
    }
}
