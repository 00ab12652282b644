using System.Text;

namespace Redoubt.Server.Persistence;

/// <summary>
/// `redoubt check-aof [--fix|--truncate-to-timestamp ts] &lt;file.manifest|file.aof&gt;`, as redis-check-aof:
/// checks a multi-part AOF through its manifest (only the last file may be truncated) or a single
/// old-style file, reports where the valid part ends, and with --fix cuts the rest after asking
/// "Continue? [y/N]" on standard input (answer with a piped "y" for non-interactive use).
/// </summary>
public sealed class AofChecker
{
    /// <summary>Checks an RDB preamble with the RDB checker: true when sane, leaving the stream after it (replaceable by tests).</summary>
    public static Func<Stream, string, TextWriter, bool>? RdbPreambleChecker = RdbCheck.CheckPreamble;

    private enum Result { Ok, Empty, Truncated, TimestampTruncated }

    private readonly TextWriter _out;
    private readonly TextReader _in;
    private string _error = "";
    private long _epos;
    private long _line = 1;
    private long _toTimestamp;

    private AofChecker(TextWriter output, TextReader input)
    {
        _out = output;
        _in = input;
    }

    private sealed class ExitException(int code) : Exception
    {
        public int Code { get; } = code;
    }

    public static int Run(string[] args, TextWriter output, TextReader input, string toolName = "redoubt check-aof")
    {
        var checker = new AofChecker(output, input);
        try { return checker.Main(args, toolName); }
        catch (ExitException e) { return e.Code; }
        finally { output.Flush(); }
    }

    private int Main(string[] args, string toolName)
    {
        string path;
        bool fix = false;
        if (args.Length == 1) path = args[0];
        else if (args.Length == 2 && args[0] == "--fix")
        {
            path = args[1];
            fix = true;
        }
        else if (args.Length == 3 && args[0] == "--truncate-to-timestamp")
        {
            if (!long.TryParse(args[1], out _toTimestamp))
            {
                _out.Write("Invalid timestamp, aborting...\n");
                return 1;
            }
            path = args[2];
        }
        else
        {
            _out.Write($"Usage: {toolName} [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>\n");
            return 1;
        }
        string dir = Path.GetDirectoryName(path) is { Length: > 0 } d ? d : ".";
        if (IsManifest(path)) CheckMultiPart(dir, path, fix);
        else CheckOldStyle(path, fix, IsRdb(path));
        return 0;
    }

    private void Exit(int code) => throw new ExitException(code);

    private FileStream Open(string path, FileAccess access)
    {
        try { return new FileStream(path, FileMode.Open, access, FileShare.ReadWrite); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _out.Write($"Cannot open file {path}: {Config.Errno.Describe(e)}\n");
            Exit(1);
            throw;
        }
    }

    private bool IsRdb(string path)
    {
        using var fs = Open(path, FileAccess.Read);
        if (fs.Length < 8) return false;
        Span<byte> sig = stackalloc byte[5];
        return fs.ReadAtLeast(sig, 5, false) == 5 && sig.SequenceEqual("REDIS"u8);
    }

    private bool IsManifest(string path)
    {
        using var fs = Open(path, FileAccess.Read);
        if (fs.Length == 0) return false;
        var text = new StreamReader(fs, Encoding.Latin1).ReadToEnd();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#')) continue;
            if (line.StartsWith("file", StringComparison.Ordinal)) return true;
        }
        return false;
    }

    private void CheckMultiPart(string dir, string manifestPath, bool fix)
    {
        _out.Write("Start checking Multi Part AOF\n");
        AofManifest m;
        try { m = AofManifest.Parse(File.ReadAllText(manifestPath, Encoding.Latin1)); }
        catch (AofManifestException e)
        {
            foreach (var line in e.LogLines) _out.Write(line);
            Exit(1);
            return;
        }
        int total = (m.Base != null ? 1 : 0) + m.Incr.Count, n = 0;
        if (m.Base != null)
        {
            string name = m.Base.Name, filePath = Path.Combine(dir, name);
            bool last = ++n == total;
            bool rdb = IsRdb(filePath);
            _out.Write($"Start to check BASE AOF ({(rdb ? "RDB" : "RESP")} format).\n");
            Report("BASE AOF", name, CheckSingle(name, filePath, last, fix, rdb));
        }
        if (m.Incr.Count > 0)
        {
            _out.Write("Start to check INCR files.\n");
            foreach (var f in m.Incr)
            {
                bool last = ++n == total;
                Report("INCR AOF", f.Name, CheckSingle(f.Name, Path.Combine(dir, f.Name), last, fix, false));
            }
        }
        _out.Write("All AOF files and manifest are valid\n");
    }

    private void CheckOldStyle(string path, bool fix, bool preamble)
    {
        _out.Write("Start checking Old-Style AOF\n");
        Report("AOF", path, CheckSingle(path, path, true, fix, preamble));
    }

    private void Report(string what, string name, Result r)
    {
        switch (r)
        {
            case Result.Ok: _out.Write($"{what} {name} is valid\n"); break;
            case Result.Empty: _out.Write($"{what} {name} is empty\n"); break;
            case Result.TimestampTruncated: _out.Write($"Successfully truncated AOF {name} to timestamp {_toTimestamp}\n"); break;
            case Result.Truncated: _out.Write($"Successfully truncated AOF {name}\n"); break;
        }
    }

    private void SetError(string message) => _error = "0x" + _epos.ToString("x").PadLeft(16) + ": " + message;

    private Result CheckSingle(string name, string path, bool last, bool fix, bool preamble)
    {
        using var fs = Open(path, FileAccess.ReadWrite);
        long size = fs.Length;
        if (size == 0) return Result.Empty;
        if (preamble)
        {
            if (RdbPreambleChecker is null || !RdbPreambleChecker(fs, name, _out))
            {
                if (RdbPreambleChecker is null) _out.Write("Checking an RDB preamble is not available in this build.\n");
                _out.Write("RDB preamble of AOF file is not sane, aborting.\n");
                Exit(1);
            }
            _out.Write("RDB preamble is OK, proceeding with AOF tail...\n");
        }
        var r = new AofLoader.Reader(fs);
        r.Reset(fs.Position);
        long pos = 0;
        int multi = 0;
        while (true)
        {
            if (multi == 0) pos = r.Position;
            int first = r.Peek();
            if (first < 0) break;
            if (first == '#')
            {
                if (!ProcessAnnotation(fs, r, path, last)) return Result.TimestampTruncated;
            }
            else if (first == '*')
            {
                if (!ProcessResp(r, path, ref multi)) break;
            }
            else
            {
                _out.Write($"AOF {name} format error\n");
                break;
            }
        }
        if (r.HitEof && multi != 0 && _error.Length == 0) SetError("Reached EOF before reading EXEC for MULTI");
        if (_error.Length > 0) _out.Write(_error + "\n");
        long diff = size - pos;
        if (diff == 0 && _toTimestamp != 0)
        {
            _out.Write($"Truncate nothing in AOF {name} to timestamp {_toTimestamp}\n");
            return Result.Ok;
        }
        _out.Write($"AOF analyzed: filename={name}, size={size}, ok_up_to={pos}, ok_up_to_line={_line}, diff={diff}\n");
        if (diff > 0)
        {
            if (!fix)
            {
                _out.Write($"AOF {name} is not valid. Use the --fix option to try fixing it.\n");
                Exit(1);
            }
            if (!last)
            {
                _out.Write($"Failed to truncate AOF {name} because it is not the last file\n");
                Exit(1);
            }
            _out.Write($"This will shrink the AOF {name} from {size} bytes, with {diff} bytes, to {pos} bytes\n");
            _out.Write("Continue? [y/N]: ");
            _out.Flush();
            string? answer = _in.ReadLine();
            if (answer is null || !answer.StartsWith("y", StringComparison.OrdinalIgnoreCase))
            {
                _out.Write("Aborting...\n");
                Exit(1);
            }
            fs.SetLength(pos);
            return Result.Truncated;
        }
        return Result.Ok;
    }

    private bool ProcessAnnotation(FileStream fs, AofLoader.Reader r, string path, bool last)
    {
        _epos = r.Position;
        var buf = new byte[1024];
        int n = r.ReadLine(buf);
        if (n == 0)
        {
            _out.Write($"Failed to read annotations from AOF {path}, aborting...\n");
            Exit(1);
        }
        if (_toTimestamp == 0 || n < 4 || !buf.AsSpan(0, 4).SequenceEqual("#TS:"u8)) return true;
        int end = 4;
        while (end < n && buf[end] >= '0' && buf[end] <= '9') end++;
        if (end == 4 || end >= n || buf[end] != '\r' || !long.TryParse(Encoding.ASCII.GetString(buf, 4, end - 4), out long ts))
        {
            _out.Write("Invalid timestamp annotation\n");
            Exit(1);
            return false;
        }
        if (ts <= _toTimestamp) return true;
        if (_epos == 0)
        {
            _out.Write($"AOF {path} has nothing before timestamp {_toTimestamp}, aborting...\n");
            Exit(1);
        }
        if (!last)
        {
            _out.Write($"Failed to truncate AOF {path} to timestamp {_toTimestamp} to offset {_epos} because it is not the last file.\n");
            _out.Write("If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof.\n");
            Exit(1);
        }
        fs.SetLength(_epos);
        return false;
    }

    private bool ProcessResp(AofLoader.Reader r, string path, ref int multi)
    {
        if (!ReadLong(r, '*', out long argc)) return false;
        for (long i = 0; i < argc; i++)
        {
            if (!ReadString(r, out var str)) return false;
            if (i != 0) continue;
            if (str.Equals("multi", StringComparison.OrdinalIgnoreCase))
            {
                if (multi++ != 0)
                {
                    SetError($"Unexpected MULTI in AOF {path}");
                    return false;
                }
            }
            else if (str.Equals("exec", StringComparison.OrdinalIgnoreCase))
            {
                if (--multi != 0)
                {
                    SetError($"Unexpected EXEC in AOF {path}");
                    return false;
                }
            }
        }
        return true;
    }

    private bool ReadLong(AofLoader.Reader r, char prefix, out long value)
    {
        value = 0;
        _epos = r.Position;
        var buf = new byte[128];
        int n = r.ReadLine(buf);
        if (n == 0) return false;
        if (buf[0] != prefix)
        {
            SetError($"Expected prefix '{prefix}', got: '{(char)buf[0]}'");
            return false;
        }
        int i = 1;
        while (i < n && (buf[i] == ' ' || buf[i] == '\t')) i++;
        bool neg = false;
        if (i < n && (buf[i] == '-' || buf[i] == '+')) neg = buf[i++] == '-';
        for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) value = value * 10 + (buf[i] - '0');
        if (neg) value = -value;
        if (i + 1 < n && buf[i] == '\r' && buf[i + 1] == '\n')
        {
            _line++;
            return true;
        }
        SetError($"Expected \\r\\n, got: {(i < n ? buf[i] : 0):x2}{(i + 1 < n ? buf[i + 1] : 0):x2}");
        return false;
    }

    private bool ReadString(AofLoader.Reader r, out string value)
    {
        value = "";
        if (!ReadLong(r, '$', out long len)) return false;
        if (len < 0 || len > long.MaxValue - 2)
        {
            SetError($"Expected to read string of {len} bytes, which is not in the suitable range");
            return false;
        }
        _epos = r.Position;
        var data = new byte[len + 2];
        int got = r.ReadSome(data);
        if (got != data.Length)
        {
            SetError($"Expected to read {len + 2} bytes, got {got} bytes");
            return false;
        }
        if (data[^2] != '\r' || data[^1] != '\n')
        {
            SetError($"Expected \\r\\n, got: {data[^2]:x2}{data[^1]:x2}");
            return false;
        }
        _line++;
        value = Encoding.Latin1.GetString(data, 0, (int)len);
        return true;
    }
}
