using Redoubt.Server.Commands;
using Redoubt.Server.Config;
using Redoubt.Server.Persistence;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>
/// RDB saving: SAVE, BGSAVE, save points, the MISCONF guard, the final save on shutdown and FLUSHALL's
/// save, all on top of <see cref="Snapshot"/>. One snapshot runs at a time, as Redis runs one child:
/// a BGSAVE to disk or a full resync to replicas (<see cref="StartSnapshot"/>).
/// </summary>
public sealed partial class RedisServer
{
    /// <summary>
    /// Creates a sink that encodes a snapshot as an RDB file (set by the RDB layer). The snapshot machinery
    /// (SAVE, BGSAVE, save points, full resync) asks for one per snapshot.
    /// </summary>
    public Func<ISnapshotSink>? RdbSinkFactory;

    /// <summary>Redis's CONFIG_BGSAVE_RETRY_DELAY: seconds before a save point retries after a failed BGSAVE.</summary>
    public const int BgsaveRetryDelaySec = 5;

    public enum SnapshotPurpose { Disk, Replication }

    /// <summary>The running snapshot (Redis's RDB child), or null.</summary>
    public Snapshot? ActiveSnapshot { get; private set; }
    public SnapshotPurpose ActivePurpose { get; private set; }

    /// <summary>Set by the AOF layer: true while an AOF rewrite runs (BGSAVE is then only scheduled).</summary>
    public Func<bool>? AofRewriteRunning;
    /// <summary>Set by the AOF layer: asked whether a snapshot may start (an AOF rewrite is Redis's other child).</summary>
    private bool OtherChildActive => AofRewriteRunning?.Invoke() == true;

    /// <summary>BGSAVE SCHEDULE (or BGSAVE inside MULTI) waiting for the AOF rewrite to end.</summary>
    public bool BgsaveScheduled;

    /// <summary>Called under the lock when a snapshot ends, with its purpose and error (null = success): replication hooks here.</summary>
    public event Action<Snapshot, SnapshotPurpose, string?>? SnapshotEnded;

    private long _dirtyBeforeBgsave;
    private long _lastBgsaveTryUnix;
    private SnapshotFile? _bgsaveFile;

    /// <summary>SHUTDOWN SAVE (save even without save points) and FORCE, for the shutdown hook.</summary>
    internal bool ShutdownSaveRequested, ShutdownForced;

    public string RdbPath => Path.Combine(Config.Dir, Config.DbFilename);

    private static int _gateCheckRegistered;

    internal void AttachPersistence()
    {
        CronHooks.Add(PersistenceCron);
        ShutdownHooks.Add(SaveOnShutdown);
        FlushAllHooks += SaveAfterFlushAll;
        // Redis runs one child at a time: an RDB save and an AOF rewrite wait for each other.
        AofRewriteRunning = () => _rewrite != null;
        BackgroundSaveInProgress = () => ActiveSnapshot != null;
        if (Interlocked.Exchange(ref _gateCheckRegistered, 1) == 0) ExecutionGate.AddStateCheck((c, cmd) => c.Server.MisconfError(c, cmd));
    }

    public const string MisconfMessage = "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. " +
        "Commands that may modify the data set are disabled, because this instance is configured to report errors during writes " +
        "if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

    /// <summary>
    /// Redis's writeCommandsGetDiskErrorMessage: the error for a write while the last RDB save failed
    /// (with stop-writes-on-bgsave-error) or the AOF cannot be written; null when writes are allowed.
    /// </summary>
    internal string? DiskErrorForWrites()
    {
        if (Config.StopWritesOnBgsaveError && Config.SavePoints.Count > 0 && !PersistenceStatus.LastBgsaveOk) return MisconfMessage;
        if (Aof is { } w && AofState != AofState.Off)
        {
            int errno = !w.LastWriteOk ? w.LastWriteErrno : w.BackgroundFsyncErrno;
            if (errno != 0 || !w.LastWriteOk) return "-MISCONF Errors writing to the AOF file: " + Errno.Message(errno == 0 ? 28 : errno);
        }
        return null;
    }

    /// <summary>Redis's writeCommandsDeniedByDiskError for RDB: writes (and PING) are refused after a failed save.</summary>
    private string? MisconfError(Client c, Command cmd)
    {
        if (!Config.StopWritesOnBgsaveError || Config.SavePoints.Count == 0 || PersistenceStatus.LastBgsaveOk) return null;
        // The master's stream is applied regardless: the replica must not diverge.
        if ((c.Flags & ClientFlags.Master) != 0) return null;
        var flags = Pause.FlagsOf(c, cmd);
        if (cmd.Name == "exec" && c.MultiQueue is { Count: > 0 }) flags |= c.MultiCommandFlags;
        if ((flags & CommandFlags.Write) != 0 || cmd.Name == "ping") return MisconfMessage;
        return null;
    }

    /// <summary>
    /// Starts a snapshot into <paramref name="consumers"/> encoded by <paramref name="sink"/> (a full resync:
    /// one snapshot can feed several replicas, and more may join through <see cref="Snapshot.AddConsumer"/>
    /// until the first bytes go out). Returns null when another snapshot runs. Under the lock.
    /// </summary>
    public Snapshot? StartSnapshot(ISnapshotSink sink, IEnumerable<SnapshotConsumer> consumers,
        SnapshotPurpose purpose, Action<Snapshot, string?>? completed = null)
    {
        if (ActiveSnapshot != null || OtherChildActive) return null;
        var snap = Snapshot.Start(this, sink);
        foreach (var c in consumers) snap.AddConsumer(c);
        ActiveSnapshot = snap;
        ActivePurpose = purpose;
        Stats.LatestForkUsec = snap.StartUsec;
        Stats.TotalForks++;
        snap.RunInBackground((s, error) =>
        {
            if (ActiveSnapshot == s) ActiveSnapshot = null;
            completed?.Invoke(s, error);
            SnapshotEnded?.Invoke(s, purpose, error);
        });
        return snap;
    }

    /// <summary>Redis's killRDBChild: abandons the running snapshot, removing its temp file; not an error.</summary>
    public void KillSnapshot()
    {
        var snap = ActiveSnapshot;
        if (snap is null) return;
        ActiveSnapshot = null;
        snap.Cancel();
        _bgsaveFile = null;
        Log.Warning("Background saving terminated by signal 10");
        SnapshotEnded?.Invoke(snap, ActivePurpose, "killed");
    }

    private string TempRdbPath() => Path.Combine(Config.Dir, $"temp-{Environment.ProcessId}.rdb");

    private ISnapshotSink? NewRdbSink()
    {
        var sink = RdbSinkFactory?.Invoke();
        if (sink is null) Log.Warning("Can't save: no RDB encoder is available");
        return sink;
    }

    /// <summary>Redis's rdbSave: the whole snapshot now, under the lock; null on success, else the reason (logged).</summary>
    public string? SaveNow()
    {
        var sink = NewRdbSink();
        if (sink is null) return "no RDB encoder";
        string temp = TempRdbPath();
        SnapshotFile file;
        try { file = SnapshotFile.Create(temp, RdbPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string err = $"Failed opening the temp RDB file {Path.GetFileName(temp)} (in server root dir {Config.Dir}) for saving: {SnapshotConsumer.Describe(e)}";
            Log.Warning(err);
            return err;
        }
        var snap = Snapshot.Start(this, sink);
        snap.AddConsumer(file);
        try
        {
            snap.RunToCompletion();
            file.Finish();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException or InvalidOperationException)
        {
            var cause = file.Error ?? e;
            string err = $"Write error saving DB on disk({file.FailedStep}): {SnapshotConsumer.Describe(cause)}";
            Log.Warning(err);
            file.Discard();
            return err;
        }
        if (file.Commit() is string moveErr)
        {
            Log.Warning(moveErr);
            return moveErr;
        }
        Log.Notice("DB saved on disk");
        Stats.Dirty = 0;
        PersistenceStatus.LastSaveUnix = NowMs / 1000;
        PersistenceStatus.LastBgsaveOk = true;
        return null;
    }

    /// <summary>Redis's rdbSaveBackground: null when started (or failed at once, as a child would), else an error reply.</summary>
    public string? BackgroundSave()
    {
        if (ActiveSnapshot != null || OtherChildActive) return "ERR";
        var sink = NewRdbSink();
        if (sink is null) return "ERR";
        var p = PersistenceStatus;
        p.RdbSaves++;
        _dirtyBeforeBgsave = Stats.Dirty;
        long nowUnix = NowMs / 1000;
        _lastBgsaveTryUnix = nowUnix;
        Log.Notice($"Background saving started by pid {Environment.ProcessId}");
        string temp = TempRdbPath();
        SnapshotFile file;
        try { file = SnapshotFile.Create(temp, RdbPath, commitOnFinish: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Where Redis's child would fail at once: the save started and ended in error.
            Log.Warning($"Failed opening the temp RDB file {Path.GetFileName(temp)} (in server root dir {Config.Dir}) for saving: {SnapshotConsumer.Describe(e)}");
            Log.Warning("Background saving error");
            p.LastBgsaveOk = false;
            p.RdbLastBgsaveTimeSec = 0;
            return null;
        }
        _bgsaveFile = file;
        StartSnapshot(sink, [file], SnapshotPurpose.Disk, (snap, error) => BackgroundSaveDone(snap, file, error));
        return null;
    }

    /// <summary>Redis's backgroundSaveDoneHandlerDisk, under the lock.</summary>
    private void BackgroundSaveDone(Snapshot snap, SnapshotFile file, string? error)
    {
        if (_bgsaveFile == file) _bgsaveFile = null;
        var p = PersistenceStatus;
        if (error is null && file.Commit() is string moveErr)
        {
            Log.Warning(moveErr);
            error = moveErr;
        }
        else if (error != null)
        {
            Log.Warning($"Write error saving DB on disk({file.FailedStep}): {error}");
            file.Discard();
        }
        long nowMs = NowMs;
        p.RdbLastBgsaveTimeSec = (nowMs - snap.StartedMs) / 1000;
        p.RdbLastCowSize = snap.PeakExtraBytes;
        if (error is null)
        {
            Log.Notice("DB saved on disk");
            Log.Notice("Background saving terminated with success");
            Stats.Dirty -= _dirtyBeforeBgsave;
            p.LastSaveUnix = nowMs / 1000;
            p.LastBgsaveOk = true;
        }
        else
        {
            Log.Warning("Background saving error");
            p.LastBgsaveOk = false;
        }
    }

    /// <summary>Cron: save points, a scheduled BGSAVE, and the figures INFO shows while saving.</summary>
    private void PersistenceCron()
    {
        // Without an RDB encoder (a build or embedding without one) there is nothing to save with.
        if (ActiveSnapshot != null || OtherChildActive || RdbSinkFactory is null) return;
        var p = PersistenceStatus;
        long nowUnix = NowMs / 1000;
        bool retryAllowed = nowUnix - _lastBgsaveTryUnix > BgsaveRetryDelaySec || p.LastBgsaveOk;
        foreach (var (seconds, changes) in Config.SavePoints)
        {
            if (Stats.Dirty >= changes && nowUnix - p.LastSaveUnix > seconds && retryAllowed)
            {
                Log.Notice($"{changes} changes in {seconds} seconds. Saving...");
                BackgroundSave();
                return;
            }
        }
        if (BgsaveScheduled && retryAllowed && BackgroundSave() is null) BgsaveScheduled = false;
    }

    /// <summary>Brings INFO persistence's live fields up to date (called by INFO).</summary>
    public void RefreshPersistenceStatus()
    {
        var p = PersistenceStatus;
        var s = ActiveSnapshot;
        p.RdbBgsaveInProgress = s != null;
        if (s is null)
        {
            p.RdbCurrentBgsaveTimeSec = -1;
            p.CurrentSaveKeysProcessed = p.CurrentSaveKeysTotal = 0;
            p.CurrentForkPerc = 0;
            p.CurrentCowSize = p.CurrentCowPeak = p.CurrentCowSizeAgeSec = 0;
            return;
        }
        p.RdbCurrentBgsaveTimeSec = (NowMs - s.StartedMs) / 1000;
        p.CurrentSaveKeysProcessed = s.KeysProcessed;
        p.CurrentSaveKeysTotal = s.KeysTotal;
        p.CurrentForkPerc = s.KeysTotal > 0 ? Math.Min(100.0, s.KeysProcessed * 100.0 / s.KeysTotal) : 0;
        p.CurrentCowSize = s.ExtraBytes;
        p.CurrentCowPeak = Math.Max(s.PeakExtraBytes, p.CurrentCowSize);
        p.CurrentCowSizeAgeSec = 0;
    }

    /// <summary>Set by replication when it wrote the RDB file only to feed replicas (disk-based full resync).</summary>
    public bool RdbGeneratedByReplication;

    /// <summary>
    /// Redis's removeRDBUsedToSyncReplicas, for the replication cron: with rdb-del-sync-files on an instance
    /// without persistence (no save points, AOF off), the RDB file written for replicas is deleted once no
    /// replica still waits for or receives it (<paramref name="replicasNeedIt"/>). True when it was deleted.
    /// </summary>
    public bool RemoveRdbUsedToSyncReplicas(bool replicasNeedIt)
    {
        if (!Config.RdbDelSyncFiles)
        {
            // Forget the mark, so enabling the option later does not delete a file written for other reasons.
            RdbGeneratedByReplication = false;
            return false;
        }
        if (Config.SavePoints.Count > 0 || Config.AppendOnly || !RdbGeneratedByReplication || replicasNeedIt) return false;
        if (!File.Exists(RdbPath)) return false;
        RdbGeneratedByReplication = false;
        Log.Notice("Removing the RDB file used to feed replicas in a persistence-less instance");
        try { File.Delete(RdbPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
        return true;
    }

    /// <summary>Redis's prepareForShutdown, RDB part: kill a running save, then the final save if configured.</summary>
    private string? SaveOnShutdown(bool noSave)
    {
        if (ActiveSnapshot != null)
        {
            Log.Warning("There is a child saving an .rdb. Killing it!");
            KillSnapshot();
        }
        bool save = ShutdownSaveRequested;
        ShutdownSaveRequested = false;
        if (!((Config.SavePoints.Count > 0 && !noSave) || save)) return null;
        if (RdbSinkFactory is null)
        {
            Log.Warning("No RDB encoder is available: exiting without the final RDB snapshot.");
            return null;
        }
        Log.Notice("Saving the final RDB snapshot before exiting.");
        if (SaveNow() is null) return null;
        if (ShutdownForced)
        {
            Log.Warning("Error trying to save the DB. Exit anyway.");
            return null;
        }
        Log.Warning("Error trying to save the DB, can't exit.");
        return "Errors trying to SHUTDOWN. Check logs.";
    }

    /// <summary>Redis's flushAllDataAndResetRDB: a running save is killed and, with save points, the empty dataset saved.</summary>
    private void SaveAfterFlushAll()
    {
        if (ActiveSnapshot != null) KillSnapshot();
        // The save leaves the change counter at 0: nothing is left to save.
        if (Config.SavePoints.Count > 0 && RdbSinkFactory != null) SaveNow();
    }
}
