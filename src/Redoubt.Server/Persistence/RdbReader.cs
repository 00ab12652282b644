using System.Buffers.Binary;
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
/// Reads RDB primitives from bytes in memory. Every length is checked against what remains before
/// anything is allocated for it, so a corrupt length fails as a short read instead of a huge allocation.
/// Strings are returned as slices of the input when stored plainly; integer and LZF forms are decoded
/// into a scratch buffer valid until the next read.
/// </summary>
public sealed class RdbReader
{
    private readonly byte[] _data;
    private readonly int _start;
    private readonly int _end;
    private int _pos;
    private byte[] _scratch = new byte[64];

    public RdbReader(byte[] data, int start, int length)
    {
        _data = data;
        _start = start;
        _pos = start;
        _end = start + length;
    }

    /// <summary>Bytes consumed so far (the file offset when the input is a whole file).</summary>
    public long Offset => _pos - _start;
    public int Remaining => _end - _pos;
    public ReadOnlySpan<byte> Consumed => new(_data, _start, _pos - _start);

    private void Need(long n)
    {
        if (n < 0 || n > _end - _pos) throw new RdbShortReadException(Offset);
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
