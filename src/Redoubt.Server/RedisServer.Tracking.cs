using Redoubt.Server.Commands;
using Redoubt.Server.Tracking;

namespace Redoubt.Server;

/// <summary>
/// The server side of client-side caching: the tracking table, created when a client first turns
/// tracking on, so that a server nobody tracks on pays a null check per key change and a flag test per
/// command.
/// </summary>
public sealed partial class RedisServer
{
    private TrackingTable? _tracking;

    /// <summary>The tracking table, or null while no client has ever turned tracking on.</summary>
    public TrackingTable? Tracking => _tracking;

    /// <summary>Clients with tracking on now (kept by the table).</summary>
    public int TrackingClients;

    /// <summary>
    /// Commands running now, nested ones (inside EXEC) included, and blocked clients being served:
    /// an invalidation for the running client waits for its reply while this is non-zero.
    /// </summary>
    internal int CallDepth;

    /// <summary>The table, created on first use and wired into disconnection, RESET, flushes and the cron.</summary>
    public TrackingTable TrackingTableForUpdate()
    {
        if (_tracking != null) return _tracking;
        var t = new TrackingTable(this);
        _tracking = t;
        ClientUnlinkedHooks += c =>
        {
            if ((c.Flags & ClientFlags.TrackingOn) != 0 || c.TrackingPrefixes != null) t.Disable(c);
        };
        ResetClientHooks += c =>
        {
            if ((c.Flags & ClientFlags.TrackingOn) != 0) t.Disable(c);
        };
        DbFlushedHooks += _ => t.InvalidateAllOnFlush();
        CronHooks.Add(() =>
        {
            if (TrackingClients > 0) t.LimitUsedSlots();
            t.BroadcastPending();
        });
        return t;
    }

    /// <summary>Redis's trackingInvalidateKey from signalModifiedKey: the key changed.</summary>
    private void TrackingKeyModified(ReadOnlySpan<byte> key, Client? modifier) => _tracking?.InvalidateKey(key, modifier, bcast: true);

    /// <summary>After a read-only command of a tracking client (the caller checked the client's flag).</summary>
    internal void TrackingAfterRead(Client c, Command cmd)
    {
        if (_tracking is null || !cmd.Has(CommandFlags.ReadOnly)) return;
        // A read-only script is not tracked itself, only through the read commands it runs, which
        // track the keys the script declared, for the script's caller.
        if (cmd.Handler == ScriptingCommands.EvalRoHandler || cmd.Handler == ScriptingCommands.EvalShaRoHandler ||
            cmd.Handler == FunctionCommands.FcallRoHandler) return;
        if ((c.Flags & ClientFlags.Script) != 0)
        {
            if (RunningScript is not { } run || run.Caller.Cmd is not { } callerCmd) return;
            c = run.Caller;
            cmd = callerCmd;
            if ((c.Flags & ClientFlags.TrackingOn) == 0) return;
        }
        if ((c.TrackingMode & TrackingMode.Bcast) == 0) _tracking.RememberKeys(c, cmd);
    }

    /// <summary>
    /// After a top-level command: sends the invalidations held for the client's reply, and ends the
    /// effect of CLIENT CACHING unless in a transaction or the command was a CLIENT subcommand.
    /// </summary>
    internal void TrackingAfterCommand(Client c, Command cmd)
    {
        var t = _tracking!;
        if (t.HasPending) t.FlushPending();
        if ((c.TrackingMode & TrackingMode.Caching) != 0 && !c.InMulti && cmd.Parent?.Name != "client")
            c.TrackingMode &= ~TrackingMode.Caching;
    }

    /// <summary>Once per batch of commands (Redis's beforeSleep): BCAST invalidations collected meanwhile.</summary>
    public void BroadcastTrackingInvalidations() => _tracking?.BroadcastPending();
}
