namespace Redoubt.Server.Protocol;

/// <summary>Outcome of trying to parse one command from the query buffer.</summary>
public enum ParseStatus
{
    /// <summary>A whole command was parsed (it may have zero arguments: an empty line or "*0").</summary>
    Complete,
    /// <summary>More bytes are needed; <see cref="RespParser.Needed"/> says how many in total, when known.</summary>
    Incomplete,
    /// <summary>The input breaks the protocol; <see cref="RespParser.Error"/> holds Redis's exact reply text.</summary>
    Error,
}

/// <summary>
/// Parses RESP multibulk requests and inline commands out of a client's query buffer without copying:
/// each argument is an (offset, length) slice of the buffer, valid until the buffer is compacted.
/// Limits and error texts follow Redis 7.0's processMultibulkBuffer/processInlineBuffer.
/// </summary>
public sealed class RespParser
{
    /// <summary>Redis's PROTO_INLINE_MAX_SIZE: the longest line without a newline we tolerate.</summary>
    public const int InlineMaxSize = 64 * 1024;

    /// <summary>Arguments an unauthenticated client may send in one multibulk, and bytes in one bulk.</summary>
    public const int UnauthenticatedMaxArgs = 10;
    public const int UnauthenticatedMaxBulk = 16384;

    private int[] _offsets = new int[16];
    private int[] _lengths = new int[16];
    private byte[][]? _inlineArgs; // inline commands with quotes/escapes need owned copies

    public int Count { get; private set; }
    public string? Error { get; private set; }
    /// <summary>When Incomplete, the total bytes from the start of the command needed before re-parsing helps (0 = unknown).</summary>
    public int Needed { get; private set; }
    /// <summary>When Incomplete inside a bulk argument, where its data starts, from the start of the command (else 0).</summary>
    public int NeededBulkStart { get; private set; }
    /// <summary>Set when the last parsed command was inline (used by replication's newline keep-alives).</summary>
    public bool WasInline { get; private set; }

    public long ProtoMaxBulkLen = 512L * 1024 * 1024;
    public bool AuthRequired;
    /// <summary>The master link skips the bulk size limit, as Redis does for CLIENT_MASTER.</summary>
    public bool IsMasterLink;

    public int Offset(int i) => _offsets[i];
    public int Length(int i) => _lengths[i];
    public byte[]? InlineArg(int i) => _inlineArgs is null ? null : _inlineArgs[i];
    public bool HasOwnedArgs => _inlineArgs != null;

    /// <summary>Parses one command starting at <paramref name="pos"/>; on Complete, <paramref name="consumed"/> is its size.</summary>
    public ParseStatus Parse(byte[] buf, int pos, int end, out int consumed)
    {
        consumed = 0;
        Count = 0;
        Needed = 0;
        NeededBulkStart = 0;
        _inlineArgs = null;
        if (pos >= end) return ParseStatus.Incomplete;
        if (buf[pos] == (byte)'*')
        {
            WasInline = false;
            return ParseMultibulk(buf, pos, end, out consumed);
        }
        WasInline = true;
        return ParseInline(buf, pos, end, out consumed);
    }

    private ParseStatus ParseMultibulk(byte[] buf, int start, int end, out int consumed)
    {
        consumed = 0;
        var span = buf.AsSpan(start, end - start);
        int cr = span.IndexOf((byte)'\r');
        if (cr < 0)
        {
            if (end - start > InlineMaxSize) return Fail("Protocol error: too big mbulk count string");
            return ParseStatus.Incomplete;
        }
        if (cr + 1 >= span.Length) return ParseStatus.Incomplete; // need the \n too
        if (!NumberParser.TryParseInt64(span.Slice(1, cr - 1), out long count) || count > int.MaxValue)
            return Fail("Protocol error: invalid multibulk length");
        if (count > UnauthenticatedMaxArgs && AuthRequired)
            return Fail("Protocol error: unauthenticated multibulk length");
        int p = start + cr + 2;
        if (count <= 0)
        {
            consumed = p - start;
            return ParseStatus.Complete;
        }
        int argc = (int)count;
        int reserve = Math.Min(argc, 1024);
        if (_offsets.Length < reserve) Grow(reserve);
        int n = 0;
        while (n < argc)
        {
            if (p >= end) return Incomplete(0);
            var rest = buf.AsSpan(p, end - p);
            int lcr = rest.IndexOf((byte)'\r');
            if (lcr < 0)
            {
                if (rest.Length > InlineMaxSize) return Fail("Protocol error: too big bulk count string");
                return Incomplete(0);
            }
            if (lcr + 1 >= rest.Length) return Incomplete(0);
            if (rest[0] != (byte)'$')
                return Fail($"Protocol error: expected '$', got '{(char)rest[0]}'");
            if (!NumberParser.TryParseInt64(rest.Slice(1, lcr - 1), out long len) || len < 0 ||
                (!IsMasterLink && len > ProtoMaxBulkLen))
                return Fail("Protocol error: invalid bulk length");
            if (len > UnauthenticatedMaxBulk && AuthRequired)
                return Fail("Protocol error: unauthenticated bulk length");
            int dataStart = p + lcr + 2;
            long dataEnd = (long)dataStart + len + 2;
            if (dataEnd > end)
            {
                // Tell the caller how big the buffer must get; the bulk header is re-read next time.
                NeededBulkStart = dataStart - start;
                return Incomplete(dataEnd - start);
            }
            if (n == _offsets.Length) Grow(Math.Min(argc, n * 2));
            _offsets[n] = dataStart;
            _lengths[n] = (int)len;
            n++;
            p = (int)dataEnd; // like Redis, the two bytes after the payload are skipped unchecked
        }
        Count = n;
        consumed = p - start;
        return ParseStatus.Complete;
    }

    private ParseStatus ParseInline(byte[] buf, int start, int end, out int consumed)
    {
        consumed = 0;
        var span = buf.AsSpan(start, end - start);
        int nl = span.IndexOf((byte)'\n');
        if (nl < 0)
        {
            if (span.Length > InlineMaxSize) return Fail("Protocol error: too big inline request");
            return ParseStatus.Incomplete;
        }
        int lineLen = nl;
        if (nl > 0 && span[nl - 1] == (byte)'\r') lineLen--;
        var line = span.Slice(0, lineLen);
        consumed = nl + 1;
        if (!InlineSplitter.Split(line, out var args)) return Fail("Protocol error: unbalanced quotes in request");
        if (args.Count == 0)
        {
            Count = 0;
            return ParseStatus.Complete;
        }
        _inlineArgs = args.ToArray();
        if (_offsets.Length < _inlineArgs.Length) Grow(_inlineArgs.Length);
        for (int i = 0; i < _inlineArgs.Length; i++) { _offsets[i] = 0; _lengths[i] = _inlineArgs[i].Length; }
        Count = _inlineArgs.Length;
        return ParseStatus.Complete;
    }

    private ParseStatus Incomplete(long needed)
    {
        Needed = needed > int.MaxValue ? int.MaxValue : (int)needed;
        return ParseStatus.Incomplete;
    }

    private ParseStatus Fail(string message)
    {
        Error = message;
        return ParseStatus.Error;
    }

    private void Grow(int size)
    {
        if (size <= _offsets.Length) size = _offsets.Length * 2;
        Array.Resize(ref _offsets, size);
        Array.Resize(ref _lengths, size);
    }
}
