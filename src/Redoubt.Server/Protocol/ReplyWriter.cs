using System.Runtime.CompilerServices;
using System.Text;

namespace Redoubt.Server.Protocol;

/// <summary>
/// A client's output buffer: replies are encoded straight into one growable byte array, in RESP2 or
/// RESP3 depending on the client's protocol, and the whole batch is sent with one write.
/// </summary>
public sealed class ReplyWriter
{
    private byte[] _buf;
    private int _len;

    /// <summary>2 or 3, as negotiated by HELLO.</summary>
    public int Protocol = 2;

    /// <summary>Called for every error reply with the error text (without the leading '-').</summary>
    public Action<string>? OnError;

    public ReplyWriter(int initialSize = 16 * 1024) => _buf = new byte[initialSize];

    public int Length => _len;
    public byte[] Buffer => _buf;
    public ReadOnlySpan<byte> Written => _buf.AsSpan(0, _len);
    public bool IsResp3 => Protocol >= 3;

    // Out-of-band pushes (pub/sub messages and confirmations) in the buffer, as [start, end) pairs with
    // adjacent ones merged. CLIENT REPLY OFF/SKIP silences a command's replies but never pushes, so
    // Truncate keeps these bytes.
    private int[] _pushes = Array.Empty<int>();
    private int _pushPairs;

    /// <summary>
    /// Drops the replies written after <paramref name="length"/> (CLIENT REPLY OFF/SKIP), keeping the
    /// pushes among them, moved down in their order.
    /// </summary>
    public void Truncate(int length)
    {
        if (length >= _len) return;
        int write = length;
        for (int i = 0; i < _pushPairs; i++)
        {
            int start = _pushes[2 * i], end = _pushes[2 * i + 1];
            if (end <= length) continue;
            int from = Math.Max(start, length);
            if (from != write) System.Buffer.BlockCopy(_buf, from, _buf, write, end - from);
            _pushes[2 * i] = write;
            write += end - from;
            _pushes[2 * i + 1] = write;
        }
        _len = write;
    }

    /// <summary>Starts an out-of-band push; pass the result to <see cref="EndPush"/> once it is written.</summary>
    public int BeginPush() => _len;

    /// <summary>Marks the bytes written since <paramref name="start"/> as a push that CLIENT REPLY OFF keeps.</summary>
    public void EndPush(int start)
    {
        if (start == _len) return;
        if (_pushPairs > 0 && _pushes[2 * _pushPairs - 1] == start)
        {
            _pushes[2 * _pushPairs - 1] = _len;
            return;
        }
        if (_pushes.Length < 2 * (_pushPairs + 1)) Array.Resize(ref _pushes, Math.Max(8, _pushes.Length * 2));
        _pushes[2 * _pushPairs] = start;
        _pushes[2 * _pushPairs + 1] = _len;
        _pushPairs++;
    }

    public void Clear()
    {
        _len = 0;
        _pushPairs = 0;
    }

    /// <summary>Exchanges the filled buffer for <paramref name="spare"/>, so it can be sent while new replies accumulate.</summary>
    public byte[] Swap(byte[] spare, out int length)
    {
        var full = _buf;
        length = _len;
        _buf = spare;
        _len = 0;
        _pushPairs = 0;
        return full;
    }

    /// <summary>Drops the first <paramref name="count"/> bytes (after a partial send).</summary>
    public void Consume(int count)
    {
        if (count >= _len) { Clear(); return; }
        System.Buffer.BlockCopy(_buf, count, _buf, 0, _len - count);
        _len -= count;
        int kept = 0;
        for (int i = 0; i < _pushPairs; i++)
        {
            int end = _pushes[2 * i + 1] - count;
            if (end <= 0) continue;
            _pushes[2 * kept] = Math.Max(0, _pushes[2 * i] - count);
            _pushes[2 * kept + 1] = end;
            kept++;
        }
        _pushPairs = kept;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Reserve(int n)
    {
        if (_buf.Length - _len < n) Grow(n);
        return _buf.AsSpan(_len, n);
    }

    private void Grow(int n)
    {
        long want = Math.Max((long)_buf.Length * 2, (long)_len + n);
        if (want > Array.MaxLength) want = Math.Max(Array.MaxLength, _len + n);
        Array.Resize(ref _buf, (int)want);
    }

    public void Raw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Reserve(bytes.Length));
        _len += bytes.Length;
    }

    public void RawAscii(string s)
    {
        var dest = Reserve(s.Length);
        for (int i = 0; i < s.Length; i++) dest[i] = (byte)s[i];
        _len += s.Length;
    }

    public void Ok() => Raw("+OK\r\n"u8);
    public void Queued() => Raw("+QUEUED\r\n"u8);

    public void Simple(ReadOnlySpan<byte> text)
    {
        var d = Reserve(text.Length + 3);
        d[0] = (byte)'+';
        text.CopyTo(d[1..]);
        d[text.Length + 1] = (byte)'\r';
        d[text.Length + 2] = (byte)'\n';
        _len += text.Length + 3;
    }

    public void Simple(string text) => Simple(Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// An error reply. Like Redis's addReplyError: a message that starts with '-' carries its own
    /// code (e.g. "-WRONGTYPE ..."), otherwise "ERR " is prepended. Newlines become spaces.
    /// </summary>
    public void Error(string message) => Error(message, countStats: true);

    /// <summary>
    /// An error reply; <paramref name="countStats"/> false leaves INFO errorstats alone (a script relaying
    /// an error its command already counted).
    /// </summary>
    public void Error(string message, bool countStats)
    {
        string text = message.Length > 0 && message[0] == '-' ? message[1..] : "ERR " + message;
        if (text.AsSpan().IndexOfAny('\r', '\n') >= 0) text = text.Replace('\r', ' ').Replace('\n', ' ');
        Raw("-"u8);
        Raw(Encoding.UTF8.GetBytes(text));
        Raw("\r\n"u8);
        if (countStats) OnError?.Invoke(text);
    }

    /// <summary>A big number: "(digits" in RESP3, a bulk string in RESP2.</summary>
    public void BigNumber(ReadOnlySpan<byte> digits)
    {
        if (!IsResp3) { Bulk(digits); return; }
        Raw("("u8);
        Raw(digits);
        Raw("\r\n"u8);
    }

    /// <summary>A verbatim string of raw bytes with a 3-character format.</summary>
    public void Verbatim(ReadOnlySpan<byte> text, string format)
    {
        if (!IsResp3) { Bulk(text); return; }
        Raw("="u8);
        RawAscii((text.Length + 4).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Raw("\r\n"u8);
        RawAscii(format.Length >= 3 ? format[..3] : format.PadRight(3));
        Raw(":"u8);
        Raw(text);
        Raw("\r\n"u8);
    }

    public void Integer(long value) => PrefixedNumber((byte)':', value);

    private void PrefixedNumber(byte prefix, long value)
    {
        var d = Reserve(24);
        d[0] = prefix;
        value.TryFormat(d[1..], out int n, default, System.Globalization.CultureInfo.InvariantCulture);
        d[n + 1] = (byte)'\r';
        d[n + 2] = (byte)'\n';
        _len += n + 3;
    }

    public void Bulk(ReadOnlySpan<byte> value)
    {
        var d = Reserve(value.Length + 24);
        d[0] = (byte)'$';
        value.Length.TryFormat(d[1..], out int n, default, System.Globalization.CultureInfo.InvariantCulture);
        int p = n + 1;
        d[p++] = (byte)'\r';
        d[p++] = (byte)'\n';
        value.CopyTo(d[p..]);
        p += value.Length;
        d[p++] = (byte)'\r';
        d[p++] = (byte)'\n';
        _len += p;
    }

    public void Bulk(string value) => Bulk(Encoding.UTF8.GetBytes(value));

    /// <summary>A bulk reply holding an integer's decimal text.</summary>
    public void BulkInteger(long value)
    {
        Span<byte> tmp = stackalloc byte[24];
        value.TryFormat(tmp, out int n, default, System.Globalization.CultureInfo.InvariantCulture);
        Bulk(tmp[..n]);
    }

    /// <summary>Null bulk: "$-1" in RESP2, "_" in RESP3.</summary>
    public void Null()
    {
        if (IsResp3) Raw("_\r\n"u8);
        else Raw("$-1\r\n"u8);
    }

    /// <summary>Null array: "*-1" in RESP2, "_" in RESP3.</summary>
    public void NullArray()
    {
        if (IsResp3) Raw("_\r\n"u8);
        else Raw("*-1\r\n"u8);
    }

    public void ArrayHeader(long count) => PrefixedNumber((byte)'*', count);

    public void EmptyArray() => Raw("*0\r\n"u8);

    /// <summary>Map of <paramref name="pairs"/> entries: "%n" in RESP3, a flat array of 2n in RESP2.</summary>
    public void MapHeader(long pairs)
    {
        if (IsResp3) PrefixedNumber((byte)'%', pairs);
        else PrefixedNumber((byte)'*', pairs * 2);
    }

    /// <summary>Set type: "~n" in RESP3, an array in RESP2.</summary>
    public void SetHeader(long count) => PrefixedNumber(IsResp3 ? (byte)'~' : (byte)'*', count);

    /// <summary>Out-of-band push: ">n" in RESP3, an array in RESP2.</summary>
    public void PushHeader(long count) => PrefixedNumber(IsResp3 ? (byte)'>' : (byte)'*', count);

    /// <summary>Attribute-free boolean: "#t"/"#f" in RESP3, ":1"/":0" in RESP2.</summary>
    public void Boolean(bool value)
    {
        if (IsResp3) Raw(value ? "#t\r\n"u8 : "#f\r\n"u8);
        else Raw(value ? ":1\r\n"u8 : ":0\r\n"u8);
    }

    /// <summary>A double as Redis's addReplyDouble prints it: bulk "%.17g" in RESP2, ",..." in RESP3.</summary>
    public void Double(double d)
    {
        Span<byte> text = stackalloc byte[NumberFormat.MaxDoubleLength];
        int n = NumberFormat.WriteG17(text, d);
        if (IsResp3)
        {
            Raw(","u8);
            Raw(text[..n]);
            Raw("\r\n"u8);
        }
        else Bulk(text[..n]);
    }

    /// <summary>Verbatim string ("=len\r\ntxt:...") in RESP3, plain bulk in RESP2 (INFO, CLIENT INFO...).</summary>
    public void Verbatim(string text, string format = "txt")
    {
        if (!IsResp3) { Bulk(text); return; }
        var bytes = Encoding.UTF8.GetBytes(text);
        Raw("="u8);
        RawAscii((bytes.Length + 4).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Raw("\r\n"u8);
        RawAscii(format);
        Raw(":"u8);
        Raw(bytes);
        Raw("\r\n"u8);
    }

    /// <summary>
    /// Starts an aggregate whose length is not known yet; returns a mark for <see cref="EndDeferred"/>.
    /// The header is inserted afterwards, moving the elements written in between.
    /// </summary>
    public int BeginDeferred() => _len;

    /// <summary>Inserts the header for a deferred aggregate: '*' array, '%' map (pairs), '~' set.</summary>
    public void EndDeferred(int mark, long count, byte kind = (byte)'*')
    {
        if (!IsResp3)
        {
            if (kind == (byte)'%') count *= 2;
            kind = (byte)'*';
        }
        Span<byte> header = stackalloc byte[24];
        header[0] = kind;
        count.TryFormat(header[1..], out int n, default, System.Globalization.CultureInfo.InvariantCulture);
        header[n + 1] = (byte)'\r';
        header[n + 2] = (byte)'\n';
        int h = n + 3;
        Reserve(h);
        System.Buffer.BlockCopy(_buf, mark, _buf, mark + h, _len - mark);
        header[..h].CopyTo(_buf.AsSpan(mark));
        _len += h;
        // Pushes written inside the aggregate move with it; one that ends at the mark stays put.
        for (int i = 0; i < _pushPairs; i++)
        {
            if (_pushes[2 * i] >= mark) _pushes[2 * i] += h;
            if (_pushes[2 * i + 1] > mark) _pushes[2 * i + 1] += h;
        }
    }
}
