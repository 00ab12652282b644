using Redoubt.Server.Config;

namespace Redoubt.Server;

/// <summary>
/// Shutdown requested by SIGTERM/SIGINT. The signal only marks the request; the cron carries it out
/// under the lock, so it waits while the cron is paused (DEBUG PAUSE-CRON) and SHUTDOWN ABORT can
/// still cancel it. A second SIGINT while one is pending exits at once.
/// </summary>
public sealed partial class RedisServer
{
    private volatile bool _shutdownAsap;
    private volatile int _shutdownSignalFlags;

    /// <summary>Called on the signal thread with the signal's name and its shutdown-on-sig* flags.</summary>
    public void OnShutdownSignal(string name, int flags)
    {
        if (_shutdownAsap && name == "SIGINT")
        {
            Log.Warning("You insist... exiting now.");
            // Not a clean shutdown: exit with an error, as Redis does.
            Environment.Exit(1);
        }
        Log.Warning($"Received {name} scheduling shutdown...");
        _shutdownSignalFlags = flags;
        _shutdownAsap = true;
    }

    /// <summary>SHUTDOWN ABORT: cancels a shutdown a signal asked for; false when none is pending.</summary>
    public bool AbortShutdown()
    {
        if (!_shutdownAsap) return false;
        _shutdownAsap = false;
        Log.Notice("Shutdown manually aborted.");
        return true;
    }

    /// <summary>Cron step: performs a shutdown a signal asked for. On failure the request is dropped.</summary>
    private void ShutdownCron()
    {
        if (!_shutdownAsap || ShuttingDown) return;
        int flags = _shutdownSignalFlags;
        _shutdownAsap = false;
        Log.Warning("User requested shutdown...");
        bool noSave = (flags & ServerConfig.ShutdownFlags.NoSave) != 0;
        bool force = (flags & ServerConfig.ShutdownFlags.Force) != 0;
        Shutdown(noSave, force, save: (flags & ServerConfig.ShutdownFlags.Save) != 0);
    }

    private void ShutdownWhileScriptBusy()
    {
        if (!_shutdownAsap || ShuttingDown) return;
        _shutdownAsap = false;
        Log.Warning("User requested shutdown...");
        Shutdown(noSave: true, force: false, save: false);
    }
}
