using System.Runtime.InteropServices;

namespace Redoubt.Server.Persistence;

/// <summary>
/// The RDB file a save writes: a temp file in the working directory, fsynced and closed when complete,
/// then renamed over the target (so a failed save never replaces a good file), the directory fsynced.
/// </summary>
public sealed class SnapshotFile : SnapshotConsumer
{
    public readonly string TempPath, FinalPath;
    private FileStream? _file;
    private int _discarded;
    // Whether Finish also renames (a BGSAVE: the rename and the directory's fsync happen on the writer
    // thread, as in Redis's child, not under the server lock), and what that rename left: null while
    // not attempted, "" when done, else the error text.
    private readonly bool _commitOnFinish;
    private string? _commitResult;
    // Orders a rename on the writer thread against a discard under the server lock (a cancelled save):
    // once discarded, the temp file is never renamed, and once renamed it is never deleted.
    private readonly Lock _commitGate = new();

    /// <summary>The step that failed, as Redis names it in "Write error saving DB on disk(step)".</summary>
    public string FailedStep { get; private set; } = "rdbSaveRio";

    private SnapshotFile(string tempPath, string finalPath, FileStream file, bool commitOnFinish)
    {
        TempPath = tempPath;
        FinalPath = finalPath;
        _file = file;
        _commitOnFinish = commitOnFinish;
    }

    /// <summary>
    /// Creates the temp file; throws (IOException, UnauthorizedAccessException) when it cannot. With
    /// <paramref name="commitOnFinish"/>, <see cref="Finish"/> also renames it over the target.
    /// </summary>
    public static SnapshotFile Create(string tempPath, string finalPath, bool commitOnFinish = false)
    {
        // Unbuffered: the sink hands over whole chunks, and a full disk must show on the write that hit it.
        var fs = new FileStream(tempPath, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1);
        return new SnapshotFile(tempPath, finalPath, fs, commitOnFinish);
    }

    public override Stream Stream => _file ?? throw new ObjectDisposedException(TempPath);

    public override void Finish()
    {
        // Null when a cancel discarded it meanwhile.
        var f = _file ?? throw new ObjectDisposedException(TempPath);
        FailedStep = "fsync";
        f.Flush(flushToDisk: true);
        FailedStep = "fclose";
        f.Dispose();
        _file = null;
        // A rename that fails is reported by Commit (with Redis's wording), not as a write error.
        if (_commitOnFinish) Commit();
    }

    /// <summary>
    /// Renames the finished temp file over the target and fsyncs the directory; null or the error. When
    /// <see cref="Finish"/> already did it, its outcome.
    /// </summary>
    public string? Commit()
    {
        lock (_commitGate)
        {
            if (_commitResult is null) _commitResult = Rename() ?? "";
            return _commitResult.Length == 0 ? null : _commitResult;
        }
    }

    private string? Rename()
    {
        if (_discarded != 0) return $"Error moving temp DB file {Path.GetFileName(TempPath)}: the save was cancelled";
        try
        {
            File.Move(TempPath, FinalPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            DiscardLocked();
            return $"Error moving temp DB file {Path.GetFileName(TempPath)} on the final destination {Path.GetFileName(FinalPath)} " +
                $"(in server root dir {Path.GetDirectoryName(FinalPath)}): {Describe(e)}";
        }
        FsyncDirectory(Path.GetDirectoryName(FinalPath) ?? ".");
        return null;
    }

    protected override void OnFailed(Exception e) => Discard();

    public override void Abort() => Discard();

    /// <summary>Closes and deletes the temp file (a failed or cancelled save leaves nothing behind).</summary>
    public void Discard()
    {
        lock (_commitGate) DiscardLocked();
    }

    private void DiscardLocked()
    {
        try { _file?.Dispose(); } catch (IOException) { }
        _file = null;
        // Not once renamed: the file is the target now. And once only: after a cancel the writer thread
        // may fail on the closed file and discard again, when a new save may already have created a
        // file under the same name.
        if (_commitResult == "" || Interlocked.Exchange(ref _discarded, 1) != 0) return;
        try { File.Delete(TempPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags);
    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);
    [DllImport("libc")]
    private static extern int close(int fd);

    /// <summary>Makes the rename durable: fsync of the directory holding the file (Linux).</summary>
    private static void FsyncDirectory(string dir)
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            int fd = open(dir, 0); // O_RDONLY
            if (fd < 0) return;
            fsync(fd);
            close(fd);
        }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }
}
