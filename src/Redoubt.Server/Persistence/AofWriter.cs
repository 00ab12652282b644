using Redoubt.Server.Config;
using Redoubt.Server.Propagation;

namespace Redoubt.Server.Persistence;

/// <summary>appendfsync policies.</summary>
public enum AofFsyncPolicy { No, Always, EverySec }

/// <summary>
/// The AOF's consumer of the propagation stream. Commands are appended to a memory buffer under the
/// server lock; the buffer is written (and with appendfsync always, fsynced) before any reply leaves the
/// server: whoever sends replies first calls <see cref="FlushBeforeReply"/>, which writes everything
/// buffered so far, so a pipelined batch costs one write and one fsync, and concurrent batches share
/// them (group commit). everysec fsyncs from a background thread about once a second.
/// </summary>
public sealed class AofWriter : IPropagationConsumer, IDisposable
{
    private const int WriteErrorLogRateSeconds = 30;

    private readonly RedisServer _server;
    private readonly Lock _bufLock = new();
    private readonly Lock _ioLock = new();
    private byte[] _buf = new byte[64 * 1024];
    private byte[] _spare = new byte[64 * 1024];
    private int _bufLen;
    private long _lastTimestamp;

    private int _fd = -1;
    /// <summary>Size of the current incr file up to the last complete write.</summary>
    private long _incrSize;
    private long _incrFsyncedSize;
    private long _lastFsyncUnix;
    private long _postponedStartUnix;
    private long _lastErrorLogUnix;

    private readonly Thread _fsyncThread;
    private readonly AutoResetEvent _fsyncSignal = new(false);
    private volatile bool _fsyncInProgress;
    private volatile int _fsyncFd = -1;
    private volatile bool _stopped;
    private volatile int _bioFsyncErrno;

    public AofWriter(RedisServer server)
    {
        _server = server;
        _fsyncThread = new Thread(FsyncLoop) { IsBackground = true, Name = "aof-fsync" };
        _fsyncThread.Start();
    }

    public PropagationTarget Target => PropagationTarget.Aof;

    /// <summary>The incr file being appended to.</summary>
    public string CurrentFile { get; private set; } = "";

    /// <summary>Bytes of the whole AOF (base and incr files); updated on every write.</summary>
    public long CurrentSize;
    /// <summary>What <see cref="CurrentSize"/> was after the last rewrite (auto rewrite compares with it).</summary>
    public long BaseSize;
    public long DelayedFsync;
    /// <summary>False after a failed write until a later one succeeds (Redis's aof_last_write_status).</summary>
    public volatile bool LastWriteOk = true;
    public volatile int LastWriteErrno;

    /// <summary>True while a background fsync runs (INFO aof_pending_bio_fsync).</summary>
    public bool FsyncInProgress => _fsyncInProgress;

    /// <summary>An fsync failure reported by the background thread (refuses writes like a write error).</summary>
    public int BackgroundFsyncErrno => _bioFsyncErrno;

    public int BufferLength
    {
        get { lock (_bufLock) return _bufLen; }
    }

    private AofFsyncPolicy Policy => _server.Config.AppendFsync switch
    {
        "always" => AofFsyncPolicy.Always,
        "no" => AofFsyncPolicy.No,
        _ => AofFsyncPolicy.EverySec,
    };

    // ---- feeding (under the server lock) ---------------------------------------------------------

    public void Feed(ReadOnlySpan<byte> resp)
    {
        lock (_bufLock)
        {
            if (_server.Config.AofTimestampEnabled)
            {
                long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
                if (_lastTimestamp < now)
                {
                    _lastTimestamp = now;
                    Append(System.Text.Encoding.ASCII.GetBytes($"#TS:{now}\r\n"));
                }
            }
            Append(resp);
        }
    }

    /// <summary>Bytes written straight to the buffer (the rewrite's first timestamp, tests).</summary>
    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_bufLen + bytes.Length > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _bufLen + bytes.Length));
        bytes.CopyTo(_buf.AsSpan(_bufLen));
        _bufLen += bytes.Length;
    }

    // ---- files -----------------------------------------------------------------------------------

    /// <summary>
    /// Makes <paramref name="path"/> the file appended to, after writing what is buffered to the previous
    /// one. Throws IOException when it cannot be opened.
    /// </summary>
    public void SwitchTo(string path, long totalSizeBefore)
    {
        lock (_ioLock)
        {
            if (_fd >= 0) WriteBuffered(force: true);
            int fd = AofNative.OpenAppend(path);
            if (fd < 0) throw new IOException(Errno.Message(AofNative.LastErrno), AofNative.LastErrno);
            long size = AofNative.lseek(fd, 0, 2 /* SEEK_END */);
            CloseFile();
            _fd = fd;
            _fsyncFd = fd;
            CurrentFile = path;
            _incrSize = _incrFsyncedSize = Math.Max(0, size);
            CurrentSize = totalSizeBefore + Math.Max(0, size);
        }
        _server.Propagation.ResetSelectedDb(this);
    }

    private void CloseFile()
    {
        if (_fd < 0) return;
        // The background thread may be syncing this descriptor: let it finish first.
        while (_fsyncInProgress) Thread.Sleep(1);
        _fsyncFd = -1;
        AofNative.close(_fd);
        _fd = -1;
    }

    // ---- writing ---------------------------------------------------------------------------------

    /// <summary>Called before replies are sent: writes the buffer (and fsyncs with appendfsync always).</summary>
    public void FlushBeforeReply() => Flush(force: false);

    /// <summary>Redis's flushAppendOnlyFile.</summary>
    public void Flush(bool force)
    {
        lock (_ioLock) WriteBuffered(force);
    }

    private void WriteBuffered(bool force)
    {
        if (_fd < 0) return;
        var policy = Policy;
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        int len;
        lock (_bufLock) len = _bufLen;
        if (len == 0)
        {
            // Data written earlier may still wait for its fsync (writes stopped within the second, or
            // the policy just became always).
            if (policy == AofFsyncPolicy.EverySec && _incrFsyncedSize != _incrSize && now > _lastFsyncUnix && !_fsyncInProgress)
                TryFsync(policy, now);
            else if (policy == AofFsyncPolicy.Always && _incrFsyncedSize != _incrSize)
                TryFsync(policy, now);
            return;
        }
        if (policy == AofFsyncPolicy.EverySec && !force && _fsyncInProgress)
        {
            // A background fsync is slow: hold the write back for up to two seconds rather than block on it.
            if (_postponedStartUnix == 0)
            {
                _postponedStartUnix = now;
                return;
            }
            if (now - _postponedStartUnix < 2) return;
            DelayedFsync++;
            _server.Log.Notice("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
        }
        byte[] data;
        lock (_bufLock)
        {
            data = _buf;
            len = _bufLen;
            _buf = _spare;
            _bufLen = 0;
        }
        _postponedStartUnix = 0;
        if (_server.AofFlushSleepMicros > 0) Thread.Sleep(TimeSpan.FromMicroseconds(_server.AofFlushSleepMicros));
        long written = AofNative.WriteAll(_fd, data.AsSpan(0, len));
        if (written != len)
        {
            int errno = AofNative.LastErrno;
            bool canLog = now - _lastErrorLogUnix > WriteErrorLogRateSeconds;
            if (canLog) _lastErrorLogUnix = now;
            if (written == -1)
            {
                if (canLog) _server.Log.Warning("Error writing to the AOF file: " + Errno.Message(errno));
                LastWriteErrno = errno;
            }
            else
            {
                if (canLog) _server.Log.Warning($"Short write while writing to the AOF file: (nwritten={written}, expected={len})");
                if (AofNative.ftruncate(_fd, _incrSize) == -1)
                {
                    if (canLog) _server.Log.Warning("Could not remove short write from the append-only file.  Redis may refuse to load the AOF the next time it starts.  ftruncate: " + Errno.Message(AofNative.LastErrno));
                }
                else written = -1;
                LastWriteErrno = 28; // ENOSPC
            }
            if (policy == AofFsyncPolicy.Always)
            {
                // The replies are about to go out and the dataset cannot be rolled back: the promise that
                // an acknowledged write is on disk can only be kept by stopping.
                _server.Log.Warning("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                Environment.Exit(1);
            }
            LastWriteOk = false;
            if (written > 0)
            {
                CurrentSize += written;
                _incrSize += written;
            }
            // Keep what was not written in front of what arrived meanwhile, to retry later.
            int keepFrom = (int)Math.Max(0, written);
            lock (_bufLock)
            {
                var rest = new byte[len - keepFrom + _bufLen + 1024];
                data.AsSpan(keepFrom, len - keepFrom).CopyTo(rest);
                _buf.AsSpan(0, _bufLen).CopyTo(rest.AsSpan(len - keepFrom));
                _bufLen += len - keepFrom;
                _buf = rest;
            }
            return;
        }
        if (!LastWriteOk)
        {
            _server.Log.Warning("AOF write error looks solved, Redis can write again.");
            LastWriteOk = true;
        }
        CurrentSize += written;
        _incrSize += written;
        // Reuse the written buffer unless it grew large for a burst.
        _spare = data.Length <= 1024 * 1024 ? data : new byte[64 * 1024];
        TryFsync(policy, now);
    }

    private void TryFsync(AofFsyncPolicy policy, long now)
    {
        if (_server.Config.NoAppendFsyncOnRewrite && _server.AofRewriteInProgress) return;
        if (policy == AofFsyncPolicy.Always)
        {
            if (AofNative.fdatasync(_fd) == -1)
            {
                _server.Log.Warning("Can't persist AOF for fsync error when the AOF fsync policy is 'always': " + Errno.Message(AofNative.LastErrno) + ". Exiting...");
                Environment.Exit(1);
            }
            _incrFsyncedSize = _incrSize;
            _lastFsyncUnix = now;
        }
        else if (policy == AofFsyncPolicy.EverySec && now > _lastFsyncUnix)
        {
            if (!_fsyncInProgress)
            {
                _fsyncInProgress = true;
                _fsyncSignal.Set();
                _incrFsyncedSize = _incrSize;
            }
            _lastFsyncUnix = now;
        }
    }

    /// <summary>Writes and fsyncs everything now (shutdown, before switching files, CONFIG SET appendonly no).</summary>
    public void FlushAndSync()
    {
        lock (_ioLock)
        {
            WriteBuffered(force: true);
            if (_fd >= 0 && _incrFsyncedSize != _incrSize)
            {
                while (_fsyncInProgress) Thread.Sleep(1);
                AofNative.fdatasync(_fd);
                _incrFsyncedSize = _incrSize;
            }
        }
    }

    private void FsyncLoop()
    {
        while (!_stopped)
        {
            _fsyncSignal.WaitOne();
            if (_stopped) break;
            int fd = _fsyncFd;
            try
            {
                if (fd >= 0)
                {
                    if (AofNative.fdatasync(fd) == -1) _bioFsyncErrno = AofNative.LastErrno;
                    else _bioFsyncErrno = 0;
                }
            }
            finally { _fsyncInProgress = false; }
        }
    }

    public void Dispose()
    {
        lock (_ioLock)
        {
            _stopped = true;
            _fsyncSignal.Set();
            CloseFile();
        }
    }
}
