using System.Text;
using Redoubt.Server.Config;
using Redoubt.Server.Commands;

namespace Redoubt.Server.Persistence;

/// <summary>Outcome of loading one AOF file or the whole AOF (Redis's AOF_OK ... AOF_TRUNCATED).</summary>
public enum AofLoadResult { Ok, NotExist, Empty, OpenError, Failed, Truncated }

/// <summary>
/// Replays AOF files: each command runs through a client with no connection, whose replies are
/// dropped. A file that starts with "REDIS" is an RDB (a base file in RDB format, or an old-style
/// preamble followed by commands) and goes to the RDB loader first. A MULTI block is executed only
/// once its EXEC has been read, so a transaction cut off by the end of the file is never half applied.
/// </summary>
public sealed class AofLoader
{
    private const int LineMax = 1024; // Redis's AOF_ANNOTATION_LINE_MAX_LEN, the fgets buffer size

    private readonly RedisServer _server;
    private readonly Client _client;

    public AofLoader(RedisServer server)
    {
        _server = server;
        _client = new Client(-1, server) { Name = null };
        _client.Authenticated = true;
        _client.Flags |= ClientFlags.AofLoading;
    }

    /// <summary>Bytes consumed so far across files (loading progress).</summary>
    public long LoadedBytes;

    /// <summary>Loads one file of the AOF directory (Redis's loadSingleAppendOnlyFile).</summary>
    public AofLoadResult LoadFile(string dir, string fileName, bool isOldStyle = false)
    {
        var log = _server.Log;
        string path = Path.Combine(dir, fileName);
        FileStream fs;
        try
        {
            fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException e)
        {
            log.Warning($"The append log file {fileName} doesn't exist: {Errno.Describe(e)}");
            return AofLoadResult.NotExist;
        }
        catch (DirectoryNotFoundException e)
        {
            log.Warning($"The append log file {fileName} doesn't exist: {Errno.Describe(e)}");
            return AofLoadResult.NotExist;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning($"Fatal error: can't open the append log file {fileName} for reading: {Errno.Describe(e)}");
            return AofLoadResult.OpenError;
        }
        using (fs)
        {
            if (fs.Length == 0) return AofLoadResult.Empty;
            var reader = new Reader(fs);
            _server.Propagation.Suspended++;
            try
            {
                return Replay(fs, reader, path, fileName, isOldStyle);
            }
            finally
            {
                _server.Propagation.Suspended--;
                LoadedBytes += reader.Position;
            }
        }
    }

    private AofLoadResult Replay(FileStream fs, Reader reader, string path, string fileName, bool isOldStyle)
    {
        var log = _server.Log;
        var c = _client;
        Span<byte> sig = stackalloc byte[5];
        int got = fs.ReadAtLeast(sig, 5, throwOnEndOfStream: false);
        fs.Position = 0;
        if (got == 5 && sig.SequenceEqual("REDIS"u8))
        {
            log.Notice(isOldStyle ? "Reading RDB preamble from AOF file..." : "Reading RDB base file on AOF loading...");
            string? error = _server.RdbStreamLoader is null
                ? "no RDB loader is available in this build"
                : _server.RdbStreamLoader(fs);
            if (error != null)
            {
                if (_server.RdbStreamLoader is null) log.Warning($"Cannot load the RDB base file {fileName}: {error}");
                log.Warning(isOldStyle
                    ? $"Error reading the RDB preamble of the AOF file {fileName}, AOF loading aborted"
                    : $"Error reading the RDB base file {fileName}, AOF loading aborted");
                return AofLoadResult.Failed;
            }
            reader.Reset(fs.Position);
            if (isOldStyle) log.Notice("Reading the remaining AOF tail...");
        }

        long validUpTo = 0, validBeforeMulti = 0;
        List<(Command, byte[][])>? multi = null;
        bool truncatedAllowed = _server.Config.AofLoadTruncated;
        var line = new byte[LineMax];
        while (true)
        {
            int n = reader.ReadLine(line);
            if (n == 0) break; // end of file between commands
            if (line[0] == '#') continue;
            if (line[0] != '*') return FormatError(fileName, reader.Position - n);
            if (n == 1) return UnexpectedEof(path, fileName, truncatedAllowed, validUpTo);
            int argc = AtoI(line.AsSpan(1, n - 1));
            if (argc < 1) return FormatError(fileName, reader.Position - n);
            var argv = new byte[argc][];
            for (int j = 0; j < argc; j++)
            {
                int m = reader.ReadLine(line);
                if (m == 0) return UnexpectedEof(path, fileName, truncatedAllowed, validUpTo);
                if (line[0] != '$') return FormatError(fileName, reader.Position - m);
                long len = StrToL(line.AsSpan(1, m - 1));
                if (len < 0 || len > int.MaxValue - 64) return FormatError(fileName, reader.Position - m);
                var arg = new byte[len];
                if (len > 0 && !reader.ReadExactly(arg)) return UnexpectedEof(path, fileName, truncatedAllowed, validUpTo);
                if (!reader.Skip(2)) return UnexpectedEof(path, fileName, truncatedAllowed, validUpTo);
                argv[j] = arg;
            }
            var cmd = Lookup(argv);
            if (cmd is null)
            {
                log.Warning($"Unknown command '{Encoding.Latin1.GetString(argv[0])}' reading the append only file {fileName}");
                return AofLoadResult.Failed;
            }
            if (cmd.Name == "multi")
            {
                validBeforeMulti = validUpTo;
                multi = new();
            }
            else if (cmd.Name == "exec" && multi != null)
            {
                foreach (var (queued, queuedArgv) in multi) Execute(queued, queuedArgv);
                multi = null;
            }
            else if (multi != null) multi.Add((cmd, argv));
            else Execute(cmd, argv);
            if (truncatedAllowed) validUpTo = reader.Position;
            if (_server.Config.KeyLoadDelay > 0) Thread.Sleep(TimeSpan.FromMicroseconds(_server.Config.KeyLoadDelay));
        }
        if (multi != null)
        {
            log.Warning($"Revert incomplete MULTI/EXEC transaction in AOF file {fileName}");
            return UnexpectedEof(path, fileName, truncatedAllowed, validBeforeMulti);
        }
        return AofLoadResult.Ok;
    }

    private void Execute(Command cmd, byte[][] argv)
    {
        var c = _client;
        c.SetArgs(argv);
        c.Cmd = cmd;
        var previous = _server.CurrentClient;
        _server.CurrentClient = c;
        c.LastCmd = cmd;
        try { cmd.Handler!(c); }
        finally { _server.CurrentClient = previous; }
        var reply = c.Reply.Written;
        if (reply.Length > 0 && reply[0] == (byte)'-') _server.LogErrorToUpstream(c, reply[1..]);
        c.Reply.Clear();
    }

    private Command? Lookup(byte[][] argv)
    {
        var cmd = _server.Commands.Lookup(argv[0]);
        if (cmd != null && cmd.IsContainer && argv.Length >= 2) cmd = CommandTable.LookupSub(cmd, argv[1]);
        return cmd?.Handler is null ? null : cmd;
    }

    private AofLoadResult FormatError(string fileName, long offset)
    {
        _server.Log.Warning($"The unreadable command of {fileName} starts at offset {offset}");
        _server.Log.Warning($"Bad file format reading the append only file {fileName}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>");
        return AofLoadResult.Failed;
    }

    private AofLoadResult UnexpectedEof(string path, string fileName, bool truncatedAllowed, long validUpTo)
    {
        var log = _server.Log;
        if (truncatedAllowed)
        {
            log.Warning($"!!! Warning: short read while loading the AOF file {fileName}!!!");
            log.Warning($"!!! Truncating the AOF {fileName} at offset {validUpTo} !!!");
            try
            {
                using (var f = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) f.SetLength(validUpTo);
                log.Warning($"AOF {fileName} loaded anyway because aof-load-truncated is enabled");
                return AofLoadResult.Truncated;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Warning($"Error truncating the AOF file {fileName}: {Errno.Describe(e)}");
            }
        }
        log.Warning($"Unexpected end of file reading the append only file {fileName}. You can: " +
            "1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. " +
            "2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.");
        return AofLoadResult.Failed;
    }

    /// <summary>C's atoi: leading blanks, optional sign, digits; stops at anything else.</summary>
    internal static int AtoI(ReadOnlySpan<byte> s) => (int)Math.Clamp(StrToL(s), int.MinValue, int.MaxValue);

    internal static long StrToL(ReadOnlySpan<byte> s)
    {
        int i = 0;
        while (i < s.Length && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
        long v = 0;
        for (; i < s.Length && s[i] >= '0' && s[i] <= '9'; i++)
        {
            v = v > (long.MaxValue - 9) / 10 ? long.MaxValue : v * 10 + (s[i] - '0');
        }
        return neg ? -v : v;
    }

    /// <summary>Buffered reading with fgets semantics (a line is at most 1023 bytes, newline included).</summary>
    internal sealed class Reader(Stream stream)
    {
        private readonly byte[] _buf = new byte[64 * 1024];
        private int _pos, _len;
        private long _base;

        /// <summary>Offset in the file of the next unread byte.</summary>
        public long Position => _base + _pos;

        public void Reset(long position)
        {
            stream.Position = position;
            _base = position;
            _pos = _len = 0;
            HitEof = false;
        }

        /// <summary>True once a read found the end of the file (C's feof).</summary>
        public bool HitEof { get; private set; }

        private bool Fill()
        {
            _base += _len;
            _pos = 0;
            _len = stream.Read(_buf, 0, _buf.Length);
            if (_len == 0) HitEof = true;
            return _len > 0;
        }

        /// <summary>The next byte without consuming it; -1 at end of file.</summary>
        public int Peek()
        {
            if (_pos == _len && !Fill()) return -1;
            return _buf[_pos];
        }

        /// <summary>Reads as much of <paramref name="dest"/> as the file still has; returns the count.</summary>
        public int ReadSome(Span<byte> dest)
        {
            int done = 0;
            while (done < dest.Length)
            {
                if (_pos == _len && !Fill()) break;
                int take = Math.Min(dest.Length - done, _len - _pos);
                _buf.AsSpan(_pos, take).CopyTo(dest[done..]);
                _pos += take;
                done += take;
            }
            return done;
        }

        /// <summary>Reads up to and including '\n', at most <c>line.Length - 1</c> bytes; 0 at end of file.</summary>
        public int ReadLine(byte[] line)
        {
            int n = 0;
            while (n < line.Length - 1)
            {
                if (_pos == _len && !Fill()) break;
                byte b = _buf[_pos++];
                line[n++] = b;
                if (b == '\n') break;
            }
            return n;
        }

        public bool ReadExactly(Span<byte> dest)
        {
            int done = 0;
            while (done < dest.Length)
            {
                if (_pos == _len && !Fill()) return false;
                int take = Math.Min(dest.Length - done, _len - _pos);
                _buf.AsSpan(_pos, take).CopyTo(dest[done..]);
                _pos += take;
                done += take;
            }
            return true;
        }

        public bool Skip(int count)
        {
            Span<byte> tmp = stackalloc byte[count];
            return ReadExactly(tmp);
        }
    }
}
