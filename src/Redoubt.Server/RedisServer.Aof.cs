using System.Diagnostics;
using Redoubt.Server.Commands;
using Redoubt.Server.Config;
using Redoubt.Server.Persistence;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>Redis's aof_state: off, on, or turned on and waiting for its first rewrite to finish.</summary>
public enum AofState { Off, On, WaitRewrite }

/// <summary>
/// The append-only file: Redis 7's multi-part layout (a directory holding a manifest, one base file and
/// incr files), loading at start-up, turning on and off at run time, the rewrite, and the write-error
/// rules. The writer itself is <see cref="AofWriter"/>; what it writes comes from the propagation stream.
/// </summary>
public sealed partial class RedisServer
{
    public AofState AofState { get; private set; }

    /// <summary>The writer while the AOF is on (also during the first rewrite); null when off.</summary>
    public AofWriter? Aof { get; private set; }

    /// <summary>
    /// Loads an RDB from the stream's current position, leaving it just after the RDB (set by the RDB
    /// layer; used for a base file in RDB format). Returns null or why it failed.
    /// </summary>
    public Func<Stream, string?>? RdbStreamLoader;

    /// <summary>Runs before INFO persistence is printed, so its aof_* figures are current.</summary>
    public Action? BeforePersistenceInfo;

    /// <summary>DEBUG AOF-FLUSH-SLEEP: microseconds to sleep before each AOF write (tests of slow disks).</summary>
    public long AofFlushSleepMicros;

    public bool AofRewriteInProgress => _rewrite != null;

    private AofManifest _aofManifest = new();
    private sealed class RewriteJob
    {
        public required ISnapshotSink Sink;
        public required bool Rdb;
        public required long StartMs;
        public required string TempPath;
        /// <summary>The point-in-time snapshot the base file is written from, off the lock in turns.</summary>
        public Snapshot? Snap;
        public SnapshotFile? File;

        /// <summary>Abandons the snapshot and removes the temp file (AOF turned off, shutdown).</summary>
        public void Kill()
        {
            Snap?.Cancel();
            File?.Discard();
        }
    }
    private RewriteJob? _rewrite;
    private bool _rewriteScheduled;
    private long _lastRewriteFailMs;
    private int _rewriteFailures;

    private string AofDir => Config.AppendDirname;

    /// <summary>An AOF replaying (or an RDB loading) sees keys whether or not they expired: Redis expires nothing while loading.</summary>
    public bool LoadingDataset => PersistenceStatus.Loading;

    /// <summary>Where appends accumulate between turning the AOF on and its first rewrite completing.</summary>
    private string TempIncrName => "temp-" + Config.AppendFilename + ".incr";

    private void InitAof()
    {
        Config.AppendOnlyChanged = OnAppendOnlyChanged;
        Config.AofAutoGcChanged = () => { lock (Sync) DeleteAofHistory(); };
        // Non-capturing, so one delegate serves every server: each client is checked against its own.
        ExecutionGate.AddStateCheck(static (c, cmd) => c.Server.AofWriteErrorCheck(c, cmd));
        ShutdownHooks.Add(AofShutdown);
        CronHooks.Add(AofCron);
        BeforePersistenceInfo += RefreshAofStatus;
        DebugExtensions["loadaof"] = DebugLoadAof;
        DebugExtensions["aof-flush-sleep"] = c =>
        {
            if (c.Argc != 3 || !c.TryGetLong(2, out long us)) { if (c.Argc != 3) c.SyntaxError(); return; }
            AofFlushSleepMicros = us;
            c.Reply.Ok();
        };
    }

    // ---- start-up ---------------------------------------------------------------------------------

    /// <summary>
    /// Start-up (Redis's loadDataFromDisk for the AOF, then aofOpenIfNeededOnServerStart): reads the
    /// manifest if the directory has one, replays the AOF when appendonly is on, creates the base file
    /// of an empty AOF and opens the incr file. Throws with the line to exit with on failure.
    /// </summary>
    private void LoadAppendOnlyAtStartup()
    {
        LoadManifestFromDisk();
        if (!Config.AppendOnly) return;
        AofState = AofState.On;
        UpgradeOldStyleAof();
        long start = Stopwatch.GetTimestamp();
        var result = LoadAppendOnlyFiles(_aofManifest, out long totalSize, out long baseSize);
        if (result is AofLoadResult.Failed or AofLoadResult.OpenError)
            ExitAtStartup();
        if (result != AofLoadResult.NotExist)
            Log.Notice($"DB loaded from append only file: {Stopwatch.GetElapsedTime(start).TotalSeconds:F3} seconds");
        OpenAofOnStart(totalSize, baseSize);
    }

    /// <summary>
    /// Redis exits with status 1 right after logging why the AOF cannot be used, so that reason is the
    /// last line of the log (tools and tests read it there).
    /// </summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ExitAtStartup()
    {
        Environment.Exit(1);
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>
    /// An appendonly.aof from before Redis 7 (one file in the data directory, no manifest) becomes the
    /// base of a multi-part AOF: the directory and a manifest naming it are created and the file moved
    /// in, as Redis 7 does on start-up (also when a previous attempt left the manifest but not the move).
    /// </summary>
    private void UpgradeOldStyleAof()
    {
        string name = Config.AppendFilename;
        if (!File.Exists(name)) return;
        var m = _aofManifest;
        bool upgrade = !Directory.Exists(AofDir)
            || (m.Base is null && m.Incr.Count == 0)
            || (m.Base != null && m.Incr.Count == 0 && m.Base.Name == name && !File.Exists(Path.Combine(AofDir, name)));
        if (!upgrade) return;
        try { Directory.CreateDirectory(AofDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Can't open or create append-only dir {AofDir}: {Errno.Describe(e)}");
            ExitAtStartup();
        }
        var upgraded = new AofManifest { Base = new AofFileInfo(name, 1, 'b'), CurrentBaseSeq = 1 };
        if (!PersistManifest(upgraded)) ExitAtStartup();
        try { File.Move(name, Path.Combine(AofDir, name)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Error trying to move the old AOF file {name} into dir {AofDir}: {Errno.Describe(e)}");
            ExitAtStartup();
        }
        _aofManifest = upgraded;
        Log.Notice($"Successfully migrated an old-style AOF file ({name}) into the AOF directory ({AofDir}).");
    }

    private void LoadManifestFromDisk()
    {
        _aofManifest = new AofManifest();
        string path = Path.Combine(AofDir, AofManifest.ManifestName(Config.AppendFilename));
        if (!File.Exists(path)) return;
        string text = "";
        try { text = File.ReadAllText(path, System.Text.Encoding.Latin1); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Fatal error: can't open the AOF manifest file {path} for reading: {Errno.Describe(e)}");
            ExitAtStartup();
        }
        try { _aofManifest = AofManifest.Parse(text); }
        catch (AofManifestException e)
        {
            foreach (var line in e.LogLines) Log.Warning(line);
            ExitAtStartup();
        }
    }

    /// <summary>Redis's loadAppendOnlyFiles: the base file, then every incr file in order.</summary>
    private AofLoadResult LoadAppendOnlyFiles(AofManifest m, out long totalSize, out long baseSize)
    {
        totalSize = baseSize = 0;
        if (m.Base is null && m.Incr.Count == 0) return AofLoadResult.NotExist;
        var files = new List<AofFileInfo>();
        if (m.Base != null) files.Add(m.Base);
        files.AddRange(m.Incr);
        foreach (var f in files)
        {
            string path = Path.Combine(AofDir, f.Name);
            if (!File.Exists(path))
            {
                Log.Warning($"The append log file {f.Name} doesn't exist: {Errno.Message(Errno.ENOENT)}");
                return AofLoadResult.Failed;
            }
            totalSize += new FileInfo(path).Length;
        }
        if (totalSize == 0) return AofLoadResult.Empty;

        var status = PersistenceStatus;
        status.Loading = true;
        status.LoadingStartTime = NowMs / 1000;
        status.LoadingTotalBytes = totalSize;
        status.LoadingLoadedBytes = 0;
        var loader = new AofLoader(this);
        var result = AofLoadResult.Ok;
        try
        {
            for (int i = 0; i < files.Count; i++)
            {
                var f = files[i];
                bool last = i == files.Count - 1;
                bool isBase = f.Type == 'b';
                if (isBase) baseSize = new FileInfo(Path.Combine(AofDir, f.Name)).Length;
                long start = Stopwatch.GetTimestamp();
                result = loader.LoadFile(AofDir, f.Name);
                status.LoadingLoadedBytes = loader.LoadedBytes;
                if (result == AofLoadResult.Ok || (result == AofLoadResult.Truncated && last))
                    Log.Notice($"DB loaded from {(isBase ? "base" : "incr")} file {f.Name}: {Stopwatch.GetElapsedTime(start).TotalSeconds:F3} seconds");
                if (!isBase && result == AofLoadResult.Empty) result = AofLoadResult.Ok;
                if (result == AofLoadResult.Truncated && !last)
                {
                    result = AofLoadResult.Failed;
                    Log.Warning("Fatal error: the truncated file is not the last file");
                }
                if (result is AofLoadResult.OpenError or AofLoadResult.Failed) return result;
            }
            // A truncated last file is shorter now.
            totalSize = files.Sum(f => new FileInfo(Path.Combine(AofDir, f.Name)).Length);
        }
        finally
        {
            status.Loading = false;
        }
        return result;
    }

    private void OpenAofOnStart(long totalSize, long baseSize)
    {
        try { Directory.CreateDirectory(AofDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Can't open or create append-only dir {AofDir}: {Errno.Describe(e)}");
            ExitAtStartup();
        }
        var m = _aofManifest;
        if (m.Base is null && m.Incr.Count == 0)
        {
            // An empty AOF still gets a base file, so the manifest always describes a loadable dataset.
            bool rdb = Config.AofUseRdbPreamble && RdbSinkFactory != null;
            string baseName = m.NewBase(Config.AppendFilename, rdb);
            var sink = CreateRewriteSink(rdb);
            SnapshotKeyspace(sink);
            string path = Path.Combine(AofDir, baseName);
            WriteSinkToFile(sink, path);
            baseSize = totalSize = new FileInfo(path).Length;
            Log.Notice($"Creating AOF base file {baseName} on server start");
        }
        string incr = m.Incr.Count > 0 ? m.Incr[^1].Name : m.NewIncr(Config.AppendFilename);
        var writer = new AofWriter(this);
        try
        {
            long incrSizeBefore = File.Exists(Path.Combine(AofDir, incr)) ? new FileInfo(Path.Combine(AofDir, incr)).Length : 0;
            writer.SwitchTo(Path.Combine(AofDir, incr), totalSize - incrSizeBefore);
        }
        catch (IOException e)
        {
            writer.Dispose();
            Log.Warning($"Can't open the append-only file {incr}: {e.Message}");
            ExitAtStartup();
        }
        if (!PersistManifest(m))
        {
            writer.Dispose();
            ExitAtStartup();
        }
        writer.BaseSize = baseSize;
        AttachAofWriter(writer);
        DeleteAofHistory();
    }

    private void AttachAofWriter(AofWriter writer)
    {
        Aof = writer;
        Propagation.Subscribe(writer);
    }

    private void DetachAofWriter()
    {
        var w = Aof;
        if (w is null) return;
        Propagation.Unsubscribe(w);
        Aof = null;
        w.Dispose();
    }

    // ---- manifest and history --------------------------------------------------------------------

    /// <summary>Writes the manifest through a temp file and a rename, so a crash leaves the old or the new one.</summary>
    private bool PersistManifest(AofManifest m)
    {
        string name = AofManifest.ManifestName(Config.AppendFilename);
        string tmp = Path.Combine(AofDir, "temp-" + name);
        string final = Path.Combine(AofDir, name);
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
            {
                fs.Write(System.Text.Encoding.Latin1.GetBytes(m.Format()));
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, final, overwrite: true);
            AofNative.FsyncDirectory(AofDir);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Can't persist the AOF manifest file {name}: {Errno.Describe(e)}");
            try { File.Delete(tmp); } catch (Exception) { }
            return false;
        }
    }

    /// <summary>Removes the files the manifest lists as history (unless aof-disable-auto-gc).</summary>
    private void DeleteAofHistory()
    {
        var m = _aofManifest;
        if (Config.AofDisableAutoGc || m.History.Count == 0) return;
        foreach (var h in m.History)
        {
            try
            {
                File.Delete(Path.Combine(AofDir, h.Name));
                Log.Notice($"Removing the history file {h.Name} in the background");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        m.History.Clear();
        PersistManifest(m);
    }

    // ---- turning on and off ------------------------------------------------------------------------

    /// <summary>CONFIG SET appendonly: on starts a rewrite that creates the base file; off closes the AOF.</summary>
    private string? OnAppendOnlyChanged()
    {
        if (Config.AppendOnly && AofState == AofState.Off)
        {
            // Inside EXEC, or with another background save running, the rewrite waits for the cron.
            bool inExec = CurrentClient is { InExec: true };
            if (inExec || BackgroundSaveInProgress?.Invoke() == true)
            {
                _rewriteScheduled = true;
                AofState = AofState.WaitRewrite;
                Log.Warning(inExec
                    ? "AOF was enabled during a transaction. An AOF background was scheduled to start when possible."
                    : "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
                return null;
            }
            if (StartAofRewrite(enabling: true) is string err)
            {
                Log.Warning("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
                return err;
            }
            AofState = AofState.WaitRewrite;
        }
        else if (!Config.AppendOnly && AofState != AofState.Off)
        {
            StopAppendOnly();
        }
        return null;
    }

    private void StopAppendOnly()
    {
        Log.Notice("Disabling append only file.");
        Aof?.FlushAndSync();
        if (_rewrite != null)
        {
            Log.Notice("Killing running AOF rewrite child");
            _rewrite.Kill();
            _rewrite = null;
        }
        DetachAofWriter();
        AofState = AofState.Off;
    }

    // ---- rewrite -------------------------------------------------------------------------------------

    private ISnapshotSink CreateRewriteSink(bool rdb)
        => rdb ? RdbSinkFactory!() : new AofCommandSink(Config.AofTimestampEnabled);

    /// <summary>
    /// Feeds the sink the whole keyspace as it is now, under the lock in one go. The concurrent
    /// point-in-time snapshot can replace this method without changing its callers.
    /// </summary>
    private void SnapshotKeyspace(ISnapshotSink sink)
    {
        sink.Begin(this);
        long now = NowMs;
        foreach (var db in Databases)
        {
            if (db.Count == 0) continue;
            sink.BeginDatabase(db.Id, db.Count, db.ExpiresCount);
            var table = db.Table;
            int limit = table.SlotLimit;
            for (int slot = 0; slot < limit; slot++)
            {
                if (!table.IsOccupied(slot)) continue;
                long expire = db.GetExpire(slot);
                // A key already past its time is left out, as a fork-based rewrite would.
                if (expire >= 0 && expire < now) continue;
                sink.WriteEntry(db.ObjectAt(slot), expire, db.MetaAt(slot));
            }
        }
        sink.End();
    }

    private static void WriteSinkToFile(ISnapshotSink sink, string path)
    {
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        sink.FlushTo(fs);
        fs.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Redis's rewriteAppendOnlyFileBackground: appends go to a new incr file from now on, the base
    /// file is produced from the dataset as it is now, and when it is on disk the manifest names the new
    /// base and the new incr file, the older files becoming history. Returns an error or null.
    /// </summary>
    private string? StartAofRewrite(bool enabling)
    {
        if (_rewrite != null) return "Background append only file rewriting already in progress";
        var m = _aofManifest;
        AofWriter writer;
        try { Directory.CreateDirectory(AofDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Can't open or create append-only dir {AofDir}: {Errno.Describe(e)}");
            return "Can't open or create append-only dir";
        }
        if (enabling)
        {
            // The new incr file goes into the manifest only with the base file that precedes it.
            writer = new AofWriter(this);
            string incr = TempIncrName;
            try { writer.SwitchTo(Path.Combine(AofDir, incr), 0); }
            catch (IOException e)
            {
                writer.Dispose();
                Log.Warning($"Can't open the append-only file {incr}: {e.Message}");
                return "Can't open the append-only file";
            }
            AttachAofWriter(writer);
        }
        else if (AofState == AofState.Off)
        {
            // With the AOF off a rewrite only replaces the base file: no incr file is opened.
            writer = null!;
        }
        else
        {
            writer = Aof!;
            var next = m.Clone();
            string incr = next.NewIncr(Config.AppendFilename);
            try { writer.SwitchTo(Path.Combine(AofDir, incr), writer.CurrentSize); }
            catch (IOException e)
            {
                Log.Warning($"Can't open the append-only file {incr}: {e.Message}");
                return "Can't open the append-only file";
            }
            // Persisted at once: a crash during the rewrite still finds every write in the old and new incr files.
            if (!PersistManifest(next)) return "Can't persist the AOF manifest";
            _aofManifest = next;
        }
        bool rdb = Config.AofUseRdbPreamble && RdbSinkFactory != null;
        var job = new RewriteJob
        {
            Sink = CreateRewriteSink(rdb),
            Rdb = rdb,
            StartMs = NowMs,
            TempPath = Path.Combine(AofDir, $"temp-rewriteaof-bg-{Environment.ProcessId}.aof"),
        };
        // The base is written from a point-in-time snapshot in turns, so the server keeps serving;
        // writes from now on go to the new incr file, so base + incr is exactly the dataset.
        try { job.File = SnapshotFile.Create(job.TempPath, job.TempPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Can't open the temp append only file {Path.GetFileName(job.TempPath)}: {Errno.Describe(e)}");
            RewriteFailed();
            if (enabling)
            {
                DetachAofWriter();
                try { File.Delete(Path.Combine(AofDir, TempIncrName)); } catch (Exception) { }
            }
            return "Can't rewrite append only file in background";
        }
        var snap = Snapshot.Start(this, job.Sink);
        snap.AddConsumer(job.File);
        job.Snap = snap;
        _rewrite = job;
        _rewriteScheduled = false;
        Stats.LatestForkUsec = snap.StartUsec;
        Stats.TotalForks++;
        Log.Notice($"Background append only file rewriting started by pid {Environment.ProcessId}");
        snap.RunInBackground((s, error) => FinishRewrite(job, error is null ? null : new IOException(error)));
        return null;
    }

    private void FinishRewrite(RewriteJob job, Exception? error)
    {
        if (_rewrite != job)
        {
            // Cancelled (AOF turned off meanwhile).
            try { File.Delete(job.TempPath); } catch (Exception) { }
            return;
        }
        _rewrite = null;
        var status = PersistenceStatus;
        status.AofLastRewriteTimeSec = (NowMs - job.StartMs) / 1000;
        if (error != null)
        {
            Log.Warning($"Write error writing append only file on disk: {error.Message}");
            Log.Warning("Background AOF rewrite terminated with error");
            try { File.Delete(job.TempPath); } catch (Exception) { }
            RewriteFailed();
            return;
        }
        var writer = Aof;
        if (writer is null && AofState != AofState.Off) return;
        var next = _aofManifest.Clone();
        string baseName = next.NewBase(Config.AppendFilename, job.Rdb);
        string basePath = Path.Combine(AofDir, baseName);
        try
        {
            File.Move(job.TempPath, basePath, overwrite: true);
            if (AofState == AofState.WaitRewrite && writer != null)
            {
                // The incr file written since AOF was turned on takes its real name now.
                string tempIncr = writer.CurrentFile;
                string incr = next.NewIncr(Config.AppendFilename);
                File.Move(tempIncr, Path.Combine(AofDir, incr), overwrite: true);
                writer.SwitchTo(Path.Combine(AofDir, incr), 0);
            }
        }
        catch (IOException e)
        {
            Log.Warning($"Error trying to rename the temporary AOF file {job.TempPath} into {baseName}: {e.Message}");
            try { File.Delete(job.TempPath); } catch (Exception) { }
            RewriteFailed();
            return;
        }
        // With the AOF on, the newest incr file is being appended to and stays; with it off, none does.
        next.MarkRewrittenIncrsAsHistory(keepNewest: writer != null);
        if (!PersistManifest(next))
        {
            RewriteFailed();
            return;
        }
        _aofManifest = next;
        if (writer != null)
        {
            long baseSize = new FileInfo(basePath).Length;
            long incrSize = File.Exists(writer.CurrentFile) ? new FileInfo(writer.CurrentFile).Length : 0;
            writer.CurrentSize = baseSize + incrSize;
            writer.BaseSize = writer.CurrentSize;
        }
        if (AofState == AofState.WaitRewrite)
        {
            AofState = AofState.On;
            Log.Notice("Background AOF rewrite finished successfully");
        }
        status.AofRewrites++;
        status.AofLastBgrewriteOk = true;
        _rewriteFailures = 0;
        Log.Notice("Background AOF rewrite terminated with success");
        Log.Notice($"Successfully renamed the temporary AOF base file {Path.GetFileName(job.TempPath)} into {baseName}");
        DeleteAofHistory();
    }

    private void RewriteFailed()
    {
        PersistenceStatus.AofLastBgrewriteOk = false;
        _rewriteFailures++;
        _lastRewriteFailMs = NowMs;
        if (AofState == AofState.WaitRewrite)
        {
            // Turning the AOF on did not complete: stay off, as with a failed first rewrite in Redis.
            DetachAofWriter();
            AofState = AofState.Off;
            Config.AppendOnly = false;
        }
    }

    /// <summary>BGREWRITEAOF's reply logic.</summary>
    internal void BgRewriteAofCommand(Client c)
    {
        if (_rewrite != null)
        {
            c.Reply.Error("Background append only file rewriting already in progress");
            return;
        }
        if (BackgroundSaveInProgress?.Invoke() == true || c.InExec)
        {
            // Redis runs one child at a time: the rewrite waits for the RDB save to finish. Inside EXEC
            // it is deferred too, as Redis starts no child in the middle of a transaction.
            _rewriteScheduled = true;
            c.Reply.Simple("Background append only file rewriting scheduled");
            return;
        }
        string? err;
        if (AofState == AofState.Off)
        {
            // With the AOF off, a rewrite only produces files (no incr file is appended to afterwards).
            err = RewriteWhileOff();
        }
        else err = StartAofRewrite(enabling: false);
        if (err != null)
        {
            c.Reply.Error("Can't execute an AOF background rewriting. Please check the server logs for more information.");
            return;
        }
        c.Reply.Simple("Background append only file rewriting started");
    }

    /// <summary>Whether an RDB child-equivalent is running (set by the snapshot layer).</summary>
    public Func<bool>? BackgroundSaveInProgress;

    /// <summary>BGREWRITEAOF with appendonly off: a fresh base file and a manifest naming only it.</summary>
    private string? RewriteWhileOff() => StartAofRewrite(enabling: false);

    // ---- cron, errors, shutdown --------------------------------------------------------------------

    private void AofCron()
    {
        var w = Aof;
        if (w != null && AofState != AofState.Off) w.Flush(force: false);
        if (_rewrite is null && _rewriteScheduled && BackgroundSaveInProgress?.Invoke() != true)
        {
            if (AofState == AofState.Off) RewriteWhileOff();
            else StartAofRewrite(enabling: AofState == AofState.WaitRewrite && Aof is null);
        }
        if (w != null && AofState == AofState.On && _rewrite is null && Config.AutoAofRewritePercentage > 0 &&
            w.CurrentSize > Config.AutoAofRewriteMinSize && BackgroundSaveInProgress?.Invoke() != true)
        {
            long baseSize = w.BaseSize > 0 ? w.BaseSize : 1;
            long growth = w.CurrentSize * 100 / baseSize - 100;
            // After failures Redis waits before trying again (at most once an hour after three).
            bool limited = _rewriteFailures >= 3 && NowMs - _lastRewriteFailMs < 60 * 60 * 1000;
            if (growth >= Config.AutoAofRewritePercentage && !limited)
            {
                Log.Notice($"Starting automatic rewriting of AOF on {growth}% growth");
                StartAofRewrite(enabling: false);
            }
        }
    }

    private string? AofWriteErrorCheck(Client c, Command cmd)
    {
        var w = Aof;
        if (w is null || AofState == AofState.Off) return null;
        int errno = !w.LastWriteOk ? w.LastWriteErrno : w.BackgroundFsyncErrno;
        if (errno == 0 && w.LastWriteOk) return null;
        if ((c.Flags & ClientFlags.Master) != 0) return null;
        if (!cmd.Has(CommandFlags.Write) && cmd.Name != "ping") return null;
        return "-MISCONF Errors writing to the AOF file: " + Errno.Message(errno == 0 ? 28 : errno);
    }

    private string? AofShutdown(bool noSave)
    {
        var w = Aof;
        if (w is null) return null;
        // appendonly was just turned on and the first rewrite has not finished: the AOF does not hold
        // the dataset yet, so exiting now would lose it.
        if (AofState == AofState.WaitRewrite)
        {
            if (!ShutdownForced)
            {
                Log.Warning("Writing initial AOF, can't exit.");
                return "Errors trying to SHUTDOWN. Check logs.";
            }
            Log.Warning("Writing initial AOF. Exit anyway.");
        }
        if (_rewrite != null)
        {
            Log.Notice("There is a child rewriting the AOF. Killing it!");
            _rewrite.Kill();
            _rewrite = null;
        }
        Log.Notice("Calling fsync() on the AOF file.");
        w.FlushAndSync();
        return null;
    }

    private void RefreshAofStatus()
    {
        var s = PersistenceStatus;
        var w = Aof;
        s.AofEnabled = AofState != AofState.Off;
        s.AofRewriteInProgress = _rewrite != null;
        s.AofRewriteScheduled = _rewriteScheduled;
        s.AofCurrentRewriteTimeSec = _rewrite != null ? (NowMs - _rewrite.StartMs) / 1000 : -1;
        s.AofLastWriteOk = w is null || w.LastWriteOk;
        s.AofRewritesConsecutiveFailures = _rewriteFailures;
        if (w != null)
        {
            s.AofCurrentSize = w.CurrentSize;
            s.AofBaseSize = w.BaseSize;
            s.AofBufferLength = w.BufferLength;
            s.AofPendingBioFsync = w.FsyncInProgress ? 1 : 0;
            s.AofDelayedFsync = w.DelayedFsync;
        }
    }

    /// <summary>DEBUG LOADAOF: writes out the AOF, empties the dataset and loads the AOF again.</summary>
    private void DebugLoadAof(Client c)
    {
        if (AofState == AofState.On) Aof?.FlushAndSync();
        foreach (var db in Databases) db.Clear();
        LoadManifestFromDisk();
        var result = LoadAppendOnlyFiles(_aofManifest, out _, out _);
        if (result != AofLoadResult.Ok && result != AofLoadResult.Empty && result != AofLoadResult.NotExist)
        {
            Log.Warning("AOF loading by DEBUG LOADAOF failed, exiting.");
            Environment.Exit(1);
        }
        Stats.Dirty = 0;
        Log.Warning("Append Only File loaded by DEBUG LOADAOF");
        c.Reply.Ok();
    }
}
