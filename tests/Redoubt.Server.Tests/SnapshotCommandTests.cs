using System.Diagnostics;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>SAVE, BGSAVE, LASTSAVE, save points, MISCONF, FLUSHALL and SHUTDOWN saves, with a test sink as the encoder.</summary>
public class SnapshotCommandTests : IDisposable
{
    private readonly List<string> _dirs = new();

    public void Dispose()
    {
        foreach (var d in _dirs)
            try { Directory.Delete(d, true); } catch (IOException) { }
    }

    private sealed class Harness
    {
        public readonly InProcessKeyspace Ks = new();
        public readonly Client C;
        public readonly string Dir, LogFile;
        public int Padding;

        public Harness(string dir, string logDir)
        {
            Dir = dir;
            LogFile = Path.Combine(logDir, "server.log");
            var s = Ks.Server;
            s.Config.Dir = dir;
            s.Config.DbFilename = "dump.rdb";
            s.Config.SavePoints = new() { (3600, 1), (300, 100), (60, 10000) };
            s.Config.StopWritesOnBgsaveError = true;
            s.Log.File = LogFile;
            s.RdbSinkFactory = () => new SnapshotTestSink { Padding = Padding };
            C = Ks.NewClient();
        }

        public object? Call(params string[] args) => Ks.Call(C, args);

        public string Info(string field)
        {
            var text = (string)Call("INFO", "all")!;
            foreach (var line in text.Split("\r\n"))
                if (line.StartsWith(field + ":")) return line[(field.Length + 1)..];
            throw new KeyNotFoundException(field);
        }

        public string Log => File.Exists(LogFile) ? File.ReadAllText(LogFile) : "";

        public void Cron()
        {
            lock (Ks.Server.Sync) foreach (var hook in Ks.Server.CronHooks) hook();
        }

        public void WaitForSave()
        {
            var sw = Stopwatch.StartNew();
            while (true)
            {
                lock (Ks.Server.Sync) if (Ks.Server.ActiveSnapshot is null) return;
                if (sw.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException("the background save did not end");
                Thread.Sleep(5);
            }
        }

        public Dictionary<int, HashSet<string>> Dump()
            => SnapshotTestSink.Parse(File.ReadAllBytes(Path.Combine(Dir, "dump.rdb")), Padding);

        public void Fill(int n, string prefix = "key:")
        {
            for (int i = 0; i < n; i++) Call("SET", prefix + i, "value:" + i);
        }
    }

    private string TempDir()
    {
        var d = Directory.CreateTempSubdirectory("redoubt-snapshot-").FullName;
        _dirs.Add(d);
        return d;
    }

    private Harness NewHarness() => new(TempDir(), TempDir());

    private static string Err(object? reply) => reply is RespError e ? e.Message : $"not an error: {reply}";

    [Fact]
    public void SaveWritesTheFileAndResetsTheChangeCounter()
    {
        var h = NewHarness();
        long before = (long)h.Call("LASTSAVE")!;
        h.Fill(10);
        h.Call("HSET", "h", "f", "v");
        Assert.Equal("11", h.Info("rdb_changes_since_last_save"));
        Assert.Equal("OK", h.Call("SAVE"));
        Assert.Equal("0", h.Info("rdb_changes_since_last_save"));
        Assert.True((long)h.Call("LASTSAVE")! >= before);
        Assert.Equal("1", h.Info("rdb_saves"));
        var dump = h.Dump();
        Assert.Equal(11, dump[0].Count);
        Assert.Empty(Directory.GetFiles(h.Dir, "temp-*.rdb"));
        Assert.Contains("DB saved on disk", h.Log);
    }

    [Fact]
    public void BgsaveRunsInTheBackgroundAndSavesThePointInTime()
    {
        var h = NewHarness();
        h.Fill(300);
        h.Call("CONFIG", "SET", "rdb-key-save-delay", "1000");
        Assert.Equal("ERR syntax error", Err(h.Call("BGSAVE", "NOW")));
        Assert.Equal("Background saving started", h.Call("BGSAVE"));
        Assert.Equal("ERR Background save already in progress", Err(h.Call("BGSAVE")));
        Assert.Equal("ERR Background save already in progress", Err(h.Call("SAVE")));
        Assert.Equal("1", h.Info("rdb_bgsave_in_progress"));
        Assert.Equal("300", h.Info("current_save_keys_total"));
        Assert.NotEqual("-1", h.Info("rdb_current_bgsave_time_sec"));
        Assert.Equal("1", h.Info("total_forks"));
        // Writes go on meanwhile, and none of them reaches the file.
        for (int i = 0; i < 50; i++) h.Call("SET", "key:" + i, "changed");
        h.Call("SET", "late", "x");
        h.WaitForSave();
        Assert.Equal("0", h.Info("rdb_bgsave_in_progress"));
        Assert.Equal("ok", h.Info("rdb_last_bgsave_status"));
        Assert.Equal("-1", h.Info("rdb_current_bgsave_time_sec"));
        Assert.Equal("51", h.Info("rdb_changes_since_last_save"));
        Assert.Equal("1", h.Info("rdb_saves"));
        var dump = h.Dump()[0];
        Assert.Equal(300, dump.Count);
        Assert.DoesNotContain(dump, e => e.Contains(Convert.ToBase64String("changed"u8)));
        Assert.Contains($"Background saving started by pid {Environment.ProcessId}", h.Log);
        Assert.Contains("Background saving terminated with success", h.Log);
        Assert.Empty(Directory.GetFiles(h.Dir, "temp-*.rdb"));
    }

    [Fact]
    public void SavePointsTriggerABackgroundSave()
    {
        var h = NewHarness();
        h.Call("CONFIG", "SET", "save", "1 2");
        lock (h.Ks.Server.Sync) h.Ks.Server.PersistenceStatus.LastSaveUnix -= 10;
        h.Call("SET", "a", "1");
        h.Cron();
        Assert.Equal("0", h.Info("rdb_saves"));
        h.Call("SET", "b", "2");
        h.Cron();
        h.WaitForSave();
        Assert.Equal("1", h.Info("rdb_saves"));
        Assert.Contains("2 changes in 1 seconds. Saving...", h.Log);
        Assert.Equal(2, h.Dump()[0].Count);
        // save "": no save points, no automatic save.
        h.Call("CONFIG", "SET", "save", "");
        lock (h.Ks.Server.Sync) h.Ks.Server.PersistenceStatus.LastSaveUnix -= 10;
        h.Fill(5);
        h.Cron();
        Assert.Equal("1", h.Info("rdb_saves"));
    }

    [Fact]
    public void FailedBgsaveStopsWritesUntilASaveSucceeds()
    {
        var h = NewHarness();
        h.Call("SET", "a", "1");
        var good = h.Dir;
        h.Ks.Server.Config.Dir = Path.Combine(good, "missing");
        Assert.Equal("Background saving started", h.Call("BGSAVE"));
        h.WaitForSave();
        Assert.Equal("err", h.Info("rdb_last_bgsave_status"));
        Assert.Contains("Background saving error", h.Log);
        Assert.Contains("Failed opening the temp RDB file", h.Log);
        Assert.Equal(RedisServer.MisconfMessage[1..], Err(h.Call("SET", "b", "2")));
        Assert.Equal(RedisServer.MisconfMessage[1..], Err(h.Call("PING")));
        Assert.Equal("1", h.Call("GET", "a"));
        // A failed save is retried by the save points only after CONFIG_BGSAVE_RETRY_DELAY.
        lock (h.Ks.Server.Sync) h.Ks.Server.PersistenceStatus.LastSaveUnix -= 7200;
        h.Cron();
        Assert.Equal("1", h.Info("rdb_saves"));
        // The guard follows its options.
        h.Call("CONFIG", "SET", "stop-writes-on-bgsave-error", "no");
        Assert.Equal("OK", h.Call("SET", "b", "2"));
        h.Call("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes");
        Assert.StartsWith("MISCONF", Err(h.Call("SET", "b", "2")));
        h.Call("CONFIG", "SET", "save", "");
        Assert.Equal("OK", h.Call("SET", "b", "3"));
        h.Call("CONFIG", "SET", "save", "3600 1");
        Assert.StartsWith("MISCONF", Err(h.Call("SET", "b", "2")));
        // Space (here: the directory) comes back: a good save lifts the guard.
        h.Ks.Server.Config.Dir = good;
        Assert.Equal("Background saving started", h.Call("BGSAVE"));
        h.WaitForSave();
        Assert.Equal("ok", h.Info("rdb_last_bgsave_status"));
        Assert.Equal("OK", h.Call("SET", "b", "4"));
    }

    [Fact]
    public void BgsaveIsScheduledWhileAnAofRewriteRunsOrInsideExec()
    {
        var h = NewHarness();
        h.Fill(3);
        bool rewriting = true;
        h.Ks.Server.AofRewriteRunning = () => rewriting;
        Assert.Equal("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
            Err(h.Call("BGSAVE")));
        Assert.Equal("Background saving scheduled", h.Call("BGSAVE", "SCHEDULE"));
        h.Cron();
        Assert.Equal("0", h.Info("rdb_bgsave_in_progress"));
        rewriting = false;
        h.Cron();
        h.WaitForSave();
        Assert.Equal("1", h.Info("rdb_saves"));
        Assert.Equal(3, h.Dump()[0].Count);

        Assert.Equal("OK", h.Call("MULTI"));
        Assert.Equal("QUEUED", h.Call("BGSAVE"));
        var exec = (object?[])h.Call("EXEC")!;
        Assert.Equal("Background saving scheduled", exec[0]);
        h.Cron();
        h.WaitForSave();
        Assert.Equal("2", h.Info("rdb_saves"));
    }

    [Fact]
    public void FlushallKillsARunningBgsaveAndSavesTheEmptyDataset()
    {
        var h = NewHarness();
        h.Fill(500);
        h.Call("CONFIG", "SET", "rdb-key-save-delay", "1000");
        Assert.Equal("Background saving started", h.Call("BGSAVE"));
        Assert.Equal("OK", h.Call("FLUSHALL"));
        Assert.Equal("0", h.Info("rdb_bgsave_in_progress"));
        Assert.Equal("ok", h.Info("rdb_last_bgsave_status"));
        Assert.Equal("0", h.Info("rdb_changes_since_last_save"));
        Assert.Empty(h.Dump());
        Thread.Sleep(50);
        Assert.Empty(Directory.GetFiles(h.Dir, "temp-*.rdb"));
        // The killed save does not come back to replace the file.
        Thread.Sleep(200);
        Assert.Empty(h.Dump());
        h.Call("CONFIG", "SET", "rdb-key-save-delay", "0");
        h.Fill(2);
        Assert.Equal("Background saving started", h.Call("BGSAVE"));
        h.WaitForSave();
        Assert.Equal(2, h.Dump()[0].Count);
    }

    [Fact]
    public void ShutdownSavesWhenSavePointsAreSetOrAskedTo()
    {
        var h = NewHarness();
        h.Fill(4);
        Assert.Null(h.Ks.Server.Shutdown(noSave: true));
        Assert.False(File.Exists(Path.Combine(h.Dir, "dump.rdb")));
        Assert.Null(h.Ks.Server.Shutdown(noSave: false));
        Assert.Equal(4, h.Dump()[0].Count);
        Assert.Contains("Saving the final RDB snapshot before exiting.", h.Log);

        var h2 = NewHarness();
        h2.Call("CONFIG", "SET", "save", "");
        h2.Fill(3);
        Assert.Null(h2.Ks.Server.Shutdown(noSave: false));
        Assert.False(File.Exists(Path.Combine(h2.Dir, "dump.rdb")));
        Assert.Null(h2.Ks.Server.Shutdown(noSave: false, save: true));
        Assert.Equal(3, h2.Dump()[0].Count);

        // A failing final save refuses to shut down unless forced. (The in-process client cannot
        // block, so it asks for NOW, as Redis requires of clients that cannot.)
        var h3 = NewHarness();
        h3.Fill(1);
        h3.Ks.Server.Config.Dir = Path.Combine(h3.Dir, "missing");
        Assert.Equal("ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client", Err(h3.Call("SHUTDOWN")));
        Assert.Equal("ERR Errors trying to SHUTDOWN. Check logs.", Err(h3.Call("SHUTDOWN", "NOW")));
        Assert.Contains("Error trying to save the DB, can't exit.", h3.Log);
        Assert.Null(h3.Ks.Server.Shutdown(noSave: false, force: true));
        Assert.Contains("Error trying to save the DB. Exit anyway.", h3.Log);
    }

    [Fact]
    public void RdbDelSyncFilesRemovesTheFileWrittenOnlyForReplicas()
    {
        var h = NewHarness();
        h.Fill(2);
        h.Call("CONFIG", "SET", "save", "");
        Assert.Equal("OK", h.Call("SAVE"));
        var path = Path.Combine(h.Dir, "dump.rdb");
        var s = h.Ks.Server;
        s.RdbGeneratedByReplication = true;
        Assert.False(s.RemoveRdbUsedToSyncReplicas(false)); // option off: kept, mark forgotten
        Assert.True(File.Exists(path));
        h.Call("CONFIG", "SET", "rdb-del-sync-files", "yes");
        Assert.False(s.RemoveRdbUsedToSyncReplicas(false));
        s.RdbGeneratedByReplication = true;
        Assert.False(s.RemoveRdbUsedToSyncReplicas(true)); // a replica still receives it
        h.Call("CONFIG", "SET", "save", "3600 1");
        Assert.False(s.RemoveRdbUsedToSyncReplicas(false)); // persistence is on
        h.Call("CONFIG", "SET", "save", "");
        Assert.True(s.RemoveRdbUsedToSyncReplicas(false));
        Assert.False(File.Exists(path));
        Assert.Contains("Removing the RDB file used to feed replicas in a persistence-less instance", h.Log);
    }

    private static bool Run(string file, string args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    /// <summary>
    /// A dataset bigger than the disk: the save fails with ENOSPC, is logged and reported, writes get
    /// MISCONF, the old file stays and no temp file is left; once there is room a save succeeds again.
    /// Needs permission to mount a tmpfs (root); elsewhere it checks nothing and says so.
    /// </summary>
    [Fact]
    public void FullDiskFailsTheSaveCleanlyAndRecovers()
    {
        var mountPoint = TempDir();
        if (!OperatingSystem.IsLinux() || !Run("mount", $"-t tmpfs -o size=1m tmpfs {mountPoint}"))
        {
            Console.WriteLine("FullDiskFailsTheSaveCleanlyAndRecovers: cannot mount a tmpfs here; not run");
            return;
        }
        try
        {
            var h = new Harness(mountPoint, TempDir()) { Padding = 200 };
            h.Fill(10);
            Assert.Equal("OK", h.Call("SAVE"));
            var goodFile = File.ReadAllBytes(Path.Combine(mountPoint, "dump.rdb"));
            h.Fill(10_000, "big:");
            Assert.Equal("Background saving started", h.Call("BGSAVE"));
            h.WaitForSave();
            Assert.Equal("err", h.Info("rdb_last_bgsave_status"));
            Assert.Matches(@"Write error saving DB on disk\([a-zA-Z]+\): No space left on device", h.Log);
            Assert.Contains("Background saving error", h.Log);
            Assert.StartsWith("MISCONF", Err(h.Call("SET", "x", "y")));
            Assert.Equal(goodFile, File.ReadAllBytes(Path.Combine(mountPoint, "dump.rdb")));
            Assert.Empty(Directory.GetFiles(mountPoint, "temp-*.rdb"));
            // The same through SAVE: an error reply, the old file kept.
            Assert.Equal("ERR", Err(h.Call("SAVE")));
            Assert.Equal(goodFile, File.ReadAllBytes(Path.Combine(mountPoint, "dump.rdb")));
            Assert.Empty(Directory.GetFiles(mountPoint, "temp-*.rdb"));

            Assert.True(Run("mount", $"-o remount,size=16m {mountPoint}"));
            Assert.Equal("Background saving started", h.Call("BGSAVE"));
            h.WaitForSave();
            Assert.Equal("ok", h.Info("rdb_last_bgsave_status"));
            Assert.Equal("OK", h.Call("SET", "x", "y"));
            Assert.Equal(10_010, h.Dump()[0].Count);
        }
        finally
        {
            Run("umount", mountPoint);
        }
    }
}
