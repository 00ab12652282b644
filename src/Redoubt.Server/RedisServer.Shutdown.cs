using System.Text;
using Redoubt.Server.Blocking;
using Redoubt.Server.Config;
using Redoubt.Server.Replication;

namespace Redoubt.Server;

/// <summary>How a request to shut down ended for now.</summary>
public enum ShutdownOutcome
{
    /// <summary>The server has shut down; the process exits.</summary>
    Done,
    /// <summary>Waiting for lagging replicas (or another request already is); the cron finishes it.</summary>
    Waiting,
    /// <summary>A final step failed (save, initial AOF); the server goes on and SHUTDOWN callers got an error.</summary>
    Failed,
}

/// <summary>
/// Redis 7's shutdown sequence. A SHUTDOWN command or a SIGTERM/SIGINT (marked by the signal thread,
/// carried out by the cron under the lock) first gives lagging replicas up to shutdown-timeout seconds
/// to acknowledge the whole replication stream: writes are paused, replicas are asked for an ACK, INFO
/// shows shutdown_in_milliseconds, and the SHUTDOWN callers stay blocked. The cron finishes as soon as
/// every replica has acknowledged, or at the deadline. SHUTDOWN ABORT cancels a pending shutdown; a
/// failing final step cancels it too. Either way the blocked callers get an error and writes resume.
///
/// States: idle; requested by a signal (<see cref="_shutdownAsap"/>); waiting for replicas (a deadline
/// in <see cref="_shutdownDeadlineMs"/>); done (<see cref="ShuttingDown"/>).
/// </summary>
public sealed partial class RedisServer
{
    private const string ShutdownFailedError = "Errors trying to SHUTDOWN. Check logs.";

    private volatile bool _shutdownAsap;
    private volatile int _shutdownSignalFlags;
    /// <summary>When the wait for replicas gives up (unix ms); 0 while no shutdown is under way.</summary>
    private long _shutdownDeadlineMs;
    private bool _shutdownNoSave, _shutdownSave, _shutdownForce;
    /// <summary>Clients blocked in SHUTDOWN (one that disconnected is no longer blocked and is skipped).</summary>
    private readonly List<Client> _shutdownCallers = new();

    /// <summary>True while a shutdown waits for replicas (Redis's isShutdownInitiated).</summary>
    public bool ShutdownInitiated => _shutdownDeadlineMs != 0;

    /// <summary>INFO shutdown_in_milliseconds: what remains of the wait for replicas.</summary>
    public long ShutdownInMilliseconds => _shutdownDeadlineMs - NowMs;

    /// <summary>Called on the signal thread with the signal's name and its shutdown-on-sig* flags.</summary>
    public void OnShutdownSignal(string name, int flags)
    {
        if (_shutdownAsap && name == "SIGINT")
        {
            Log.Warning("You insist... exiting now.");
            // A save at shutdown may be under way: its temp file must not outlive the process.
            try { File.Delete(TempRdbPath()); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            // Not a clean shutdown: exit with an error, as Redis does.
            Environment.Exit(1);
        }
        Log.Warning($"Received {name} scheduling shutdown...");
        _shutdownSignalFlags = flags;
        _shutdownAsap = true;
    }

    /// <summary>SHUTDOWN ABORT: cancels a pending or requested shutdown; false when there is none.</summary>
    public bool AbortShutdown()
    {
        if (ShutdownInitiated) CancelShutdown();
        else if (_shutdownAsap) _shutdownAsap = false;
        else return false;
        Log.Notice("Shutdown manually aborted.");
        return true;
    }

    /// <summary>SHUTDOWN: blocks the caller until the shutdown completes (no reply) or fails (an error).</summary>
    public ShutdownOutcome ShutdownFromCommand(Client c, bool noSave, bool save, bool now, bool force)
    {
        // Blocked first, as Redis does: a failure or SHUTDOWN ABORT answers every waiting caller at once.
        Blocking.Block(c, new ShutdownRequest());
        _shutdownCallers.Add(c);
        var outcome = PrepareForShutdown(noSave, save, now, force);
        if (outcome == ShutdownOutcome.Done)
        {
            Blocking.Forget(c);
            _shutdownCallers.Remove(c);
        }
        return outcome;
    }

    /// <summary>
    /// Redis's prepareForShutdown: unless <paramref name="now"/>, waits for lagging replicas (shutdown-timeout
    /// seconds, 0 not at all); otherwise finishes at once. A request while one is under way joins it.
    /// </summary>
    public ShutdownOutcome PrepareForShutdown(bool noSave, bool save, bool now, bool force)
    {
        if (ShutdownInitiated) return ShutdownOutcome.Waiting;
        // A half-loaded dataset must never overwrite the file it came from.
        if (PersistenceStatus.Loading)
        {
            save = false;
            noSave = true;
        }
        (_shutdownNoSave, _shutdownSave, _shutdownForce) = (noSave, save, force);
        Log.Warning("User requested shutdown...");
        if (!now && Config.ShutdownTimeout != 0 && !ReplicasInSync())
        {
            _shutdownDeadlineMs = NowMs + Config.ShutdownTimeout * 1000;
            if (!Pause.Active) FeedReplicationStream(GetAckCommand);
            PauseClients(PausePurpose.Shutdown, long.MaxValue, PauseType.Write);
            Log.Notice("Waiting for replicas before shutting down.");
            return ShutdownOutcome.Waiting;
        }
        return FinishShutdown();
    }

    /// <summary>Redis's isReadyToShutdown: every replica acknowledged the whole stream.</summary>
    private bool ReplicasInSync()
    {
        long offset = ReplicationStatus.MasterReplOffset;
        foreach (var l in Replicas)
            if (l.AckOffset != offset) return false;
        return true;
    }

    /// <summary>The last step: reports replicas left behind, then saves and stops (see <see cref="Shutdown"/>).</summary>
    private ShutdownOutcome FinishShutdown()
    {
        long offset = ReplicationStatus.MasterReplOffset;
        int lagging = 0;
        foreach (var l in Replicas)
        {
            if (l.AckOffset == offset) continue;
            lagging++;
            long lag = l.State == ReplicaState.Online ? (NowMs - l.AckTimeMs) / 1000 : 0;
            Log.Warning($"Lagging replica {l.Ip}:{l.ListeningPort} reported offset {offset - l.AckOffset} behind master, lag={lag}, state={l.StateName}.");
        }
        if (Replicas.Count > 0)
            Log.Notice($"{Replicas.Count - lagging} of {Replicas.Count} replicas are in sync when shutting down.");
        if (Shutdown(_shutdownNoSave && !_shutdownSave, _shutdownForce, _shutdownSave) is null) return ShutdownOutcome.Done;
        CancelShutdown();
        return ShutdownOutcome.Failed;
    }

    /// <summary>Back to serving: SHUTDOWN callers get an error and writes resume.</summary>
    private void CancelShutdown()
    {
        _shutdownAsap = false;
        _shutdownDeadlineMs = 0;
        (_shutdownNoSave, _shutdownSave, _shutdownForce) = (false, false, false);
        foreach (var c in _shutdownCallers.ToArray())
            if (c.BlockedOn is ShutdownRequest)
                Blocking.Unblock(c, withError: true, ShutdownFailedError);
        _shutdownCallers.Clear();
        // Their pending input runs after the current command (a SHUTDOWN that failed at once must not
        // run again from its own query buffer) or, from the cron, right after it.
        UnpauseClients(PausePurpose.Shutdown);
    }

    /// <summary>Cron step: starts a shutdown a signal asked for, or finishes one waiting for replicas.</summary>
    private void ShutdownCron()
    {
        if (ShuttingDown) return;
        if (_shutdownAsap && !ShutdownInitiated)
        {
            int flags = _shutdownSignalFlags;
            PrepareForShutdown((flags & ServerConfig.ShutdownFlags.NoSave) != 0, (flags & ServerConfig.ShutdownFlags.Save) != 0,
                (flags & ServerConfig.ShutdownFlags.Now) != 0, (flags & ServerConfig.ShutdownFlags.Force) != 0);
        }
        else if (ShutdownInitiated && (NowMs >= _shutdownDeadlineMs || ReplicasInSync()))
            FinishShutdown();
        else return;
        _blocking?.ProcessUnblockedClients();
    }

    private void ShutdownWhileScriptBusy()
    {
        if (!_shutdownAsap || ShuttingDown) return;
        _shutdownAsap = false;
        Log.Warning("User requested shutdown...");
        Shutdown(noSave: true, force: false, save: false);
    }

    /// <summary>INFO server's conditional line while a shutdown waits for replicas.</summary>
    internal void AppendShutdownInfo(StringBuilder s)
    {
        if (ShutdownInitiated) s.Append("shutdown_in_milliseconds:").Append(ShutdownInMilliseconds).Append("\r\n");
    }

    /// <summary>A client in SHUTDOWN: released only by the shutdown failing or being aborted.</summary>
    private sealed class ShutdownRequest : BlockedRequest
    {
        public override BlockType Type => BlockType.Shutdown;
        public override bool TryServe(Client receiver, byte[] key) => false;
        public override void ReplyTimeout(Client c) => c.Reply.Error(ShutdownFailedError);
    }
}
