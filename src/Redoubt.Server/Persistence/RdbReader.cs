using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Microsoft.Win32.SafeHandles;
using System.Globalization;
using System.Text;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Persistence;

/// <summary>Input ended in the middle of something (Redis's "Unexpected EOF reading RDB file").</summary>
public sealed class RdbShortReadException(long offset) : Exception("Unexpected EOF reading RDB file")
{
    public long Offset { get; } = offset;
}

/// <summary>
/// Reads RDB primitives from bytes in memory or from a file. Every length is checked against what
/// remains before anything is allocated for it, so a corrupt length fails as a short read instead of a
/// huge allocation. Strings are returned as slices of the input when stored plainly; integer and LZF
/// forms are decoded into a scratch buffer. Either kind of slice is valid until the next read, except
/// that a plain slice survives one more string read (the loader keeps a key's bytes while it reads the
/// value).
///
/// A file is read through a small window rather than whole: reading a large file into one array costs
/// the allocation, zeroing and page faults of its whole size before the first key is parsed. The window
/// rotates through three buffers and never rewrites the one it just left, which is what keeps a plain
/// slice valid across the next string read (at most two refills).
/// </summary>
public sealed class RdbReader
{
    /// <summary>Bytes read from a file at a time.</summary>
    private const int WindowBytes = 1 << 20;

    private byte[] _data;
    private readonly int _start;
    private int _end;
    private int _pos;
    private byte[] _scratch = new byte[64];

    // File input (null for bytes in memory): the handle, the file offset of _data[0], where the input
    // ends in the file, the window buffers, and the checksum of what has left the window.
    private readonly SafeFileHandle? _file;
    private long _windowFileOffset;
    private readonly long _fileEnd, _fileStart;
    private readonly byte[]?[] _windows = new byte[3][];
    private int _window;
    private ulong _crcOfDropped;

    public RdbReader(byte[] data, int start, int length)
    {
        _data = data;
        _start = start;
        _pos = start;
        _end = start + length;
    }

    /// <summary>Reads the file behind <paramref name="file"/> from <paramref name="offset"/> to its end.</summary>
    public RdbReader(SafeFileHandle file, long offset)
    {
        _file = file;
        _fileStart = _windowFileOffset = offset;
        _fileEnd = RandomAccess.GetLength(file);
        _data = [];
    }

    /// <summary>Bytes consumed so far (the file offset when the input is a whole file).</summary>
    public long Offset => _file == null ? _pos - _start : _windowFileOffset + _pos - _fileStart;
    public long Remaining => _file == null ? _end - _pos : _fileEnd - (_windowFileOffset + _pos);

    /// <summary>The CRC64 of everything consumed so far (the RDB checksum covers all before it).</summary>
    public ulong ChecksumOfConsumed()
        => _file == null
            ? Crc64.Update(0, new ReadOnlySpan<byte>(_data, _start, _pos - _start))
            : Crc64.Update(_crcOfDropped, new ReadOnlySpan<byte>(_data, 0, _pos));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Need(long n)
    {
        if (n < 0 || n > _end - _pos) Refill(n);
    }

    /// <summary>Brings at least <paramref name="n"/> unread bytes into the window, or fails as a short read.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Refill(long n)
    {
        if (_file == null || n < 0 || n > Remaining) throw new RdbShortReadException(Offset);
        int unread = _end - _pos;
        _crcOfDropped = Crc64.Update(_crcOfDropped, new ReadOnlySpan<byte>(_data, 0, _pos));
        _window = (_window + 1) % _windows.Length;
        int size = (int)Math.Max(WindowBytes, n);
        var next = _windows[_window];
        if (next == null || next.Length < size) _windows[_window] = next = GC.AllocateUninitializedArray<byte>(size);
        _data.AsSpan(_pos, unread).CopyTo(next);
        _windowFileOffset += _pos;
        _data = next;
        _pos = 0;
        _end = unread;
        int want = (int)Math.Min(next.Length - unread, _fileEnd - (_windowFileOffset + unread));
        while (_end - unread < want)
        {
            int got = RandomAccess.Read(_file, next.AsSpan(_end, want - (_end - unread)), _windowFileOffset + _end);
            if (got <= 0) throw new RdbShortReadException(Offset);
            _end += got;
        }
    }

    /// <summary>Fails when <paramref name="count"/> items of at least <paramref name="minBytes"/> each cannot fit in what remains.</summary>
    public void CheckCount(ulong count, int minBytes)
    {
        if (count > (ulong)Remaining / (ulong)Math.Max(1, minBytes)) throw new RdbShortReadException(Offset);
    }

    public byte ReadByte()
    {
        Need(1);
        return _data[_pos++];
    }

    public void ReadRaw(Span<byte> dest)
    {
        Need(dest.Length);
        _data.AsSpan(_pos, dest.Length).CopyTo(dest);
        _pos += dest.Length;
    }

    public ReadOnlySpan<byte> ReadRawSpan(int n)
    {
        Need(n);
        var s = new ReadOnlySpan<byte>(_data, _pos, n);
        _pos += n;
        return s;
    }

    public long ReadInt64LE()
    {
        Need(8);
        long v = BinaryPrimitives.ReadInt64LittleEndian(_data.AsSpan(_pos));
        _pos += 8;
        return v;
    }

    public int ReadInt32LE()
    {
        Need(4);
        int v = BinaryPrimitives.ReadInt32LittleEndian(_data.AsSpan(_pos));
        _pos += 4;
        return v;
    }

    public double ReadBinaryDouble() => BitConverter.Int64BitsToDouble(ReadInt64LE());

    /// <summary>A length, or with <paramref name="encoded"/> the special string encoding it announces.</summary>
    public ulong ReadLen(out bool encoded)
    {
        encoded = false;
        byte b = ReadByte();
        switch (b >> 6)
        {
            case 0: return (ulong)(b & 0x3F);
            case 1: return (ulong)(((b & 0x3F) << 8) | ReadByte());
            case 3:
                encoded = true;
                return (ulong)(b & 0x3F);
        }
        if (b == 0x80)
        {
            Need(4);
            uint v = BinaryPrimitives.ReadUInt32BigEndian(_data.AsSpan(_pos));
            _pos += 4;
            return v;
        }
        if (b == 0x81)
        {
            Need(8);
            ulong v = BinaryPrimitives.ReadUInt64BigEndian(_data.AsSpan(_pos));
            _pos += 8;
            return v;
        }
        throw new RdbFormatException($"Unknown length encoding {b} in rdbLoadLen()");
    }

    public ulong ReadLen()
    {
        ulong v = ReadLen(out bool encoded);
        if (encoded) throw new RdbFormatException("Unexpected string encoding where a length was expected");
        return v;
    }

    /// <summary>True when the last string read was a slice of the input itself (stable until the input is dropped).</summary>
    public bool LastInPlace { get; private set; }

    /// <summary>A string, valid until the next read.</summary>
    public ReadOnlySpan<byte> ReadStringSpan()
    {
        ulong len = ReadLen(out bool encoded);
        LastInPlace = !encoded;
        if (!encoded)
        {
            if (len > (ulong)Remaining) throw new RdbShortReadException(Offset);
            return ReadRawSpan((int)len);
        }
        switch (len)
        {
            case 0: return FormatInt((sbyte)ReadByte());
            case 1:
            {
                Need(2);
                short v = BinaryPrimitives.ReadInt16LittleEndian(_data.AsSpan(_pos));
                _pos += 2;
                return FormatInt(v);
            }
            case 2: return FormatInt(ReadInt32LE());
            case 3:
            {
                ulong clen = ReadLen(), olen = ReadLen();
                if (clen > (ulong)Remaining) throw new RdbShortReadException(Offset);
                // LZF expands at most ~88 times (a 3-byte back reference yields 264 bytes): a larger
                // claimed size is corrupt and must not be allocated.
                if (olen > clen * 90 + 64 || olen > (ulong)Array.MaxLength) throw new RdbFormatException("Invalid LZF compressed string");
                var compressed = ReadRawSpan((int)clen);
                if (_scratch.Length < (int)olen) _scratch = new byte[Math.Max((int)olen, _scratch.Length * 2)];
                var dest = _scratch.AsSpan(0, (int)olen);
                if (!Lzf.Decompress(compressed, dest)) throw new RdbFormatException("Invalid LZF compressed string");
                return dest;
            }
            default: throw new RdbFormatException($"Unknown RDB string encoding type {len}");
        }
    }

    private ReadOnlySpan<byte> FormatInt(long v)
    {
        int n = NumberFormat.WriteInt64(_scratch, v);
        return new ReadOnlySpan<byte>(_scratch, 0, n);
    }

    public byte[] ReadStringBytes() => ReadStringSpan().ToArray();

    public string ReadStringText() => Encoding.Latin1.GetString(ReadStringSpan());

    /// <summary>The legacy ZSET double: a 1-byte length then ASCII, 253/254/255 for nan/+inf/-inf.</summary>
    public double ReadLegacyDouble()
    {
        byte len = ReadByte();
        switch (len)
        {
            case 253: return double.NaN;
            case 254: return double.PositiveInfinity;
            case 255: return double.NegativeInfinity;
        }
        var text = ReadRawSpan(len);
        if (!double.TryParse(Encoding.ASCII.GetString(text), NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
            throw new RdbFormatException("Invalid double value");
        return d;
    }
}
