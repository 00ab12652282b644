using System.Buffers.Binary;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Persistence;

/// <summary>
/// Builds real listpacks (the byte format of RDB's packed hashes, sorted sets, quicklist nodes and stream
/// nodes) into one reusable buffer: strings that parse as 64-bit integers are stored as integers, as
/// Redis does, so the bytes match what Redis writes.
/// </summary>
public sealed class ListpackBuilder
{
    private byte[] _buf = new byte[256];
    private int _len;
    private int _count;

    public const int HeaderSize = 6;

    public int Count => _count;
    /// <summary>Size the listpack will have once finished (header, entries, terminator).</summary>
    public int Size => _len + 1;

    public void Reset()
    {
        _len = HeaderSize;
        _count = 0;
    }

    private void Ensure(int extra)
    {
        if (_len + extra + 1 > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + extra + 64));
    }

    /// <summary>Bytes an element takes (encoding, data and back length), without adding it.</summary>
    public static int EntrySize(ReadOnlySpan<byte> s)
    {
        int body = NumberParser.TryParseInt64(s, out long v) ? IntBodySize(v) : StringBodySize(s.Length);
        return body + BackLenSize(body);
    }

    public static int IntBodySize(long v)
        => v >= 0 && v <= 127 ? 1 : v >= -4096 && v <= 4095 ? 2 : v >= short.MinValue && v <= short.MaxValue ? 3
         : v >= -(1 << 23) && v < (1 << 23) ? 4 : v >= int.MinValue && v <= int.MaxValue ? 5 : 9;

    public static int StringBodySize(int len) => len < 64 ? 1 + len : len < 4096 ? 2 + len : 5 + len;

    public static int BackLenSize(int l) => l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;

    public void Append(ReadOnlySpan<byte> s)
    {
        if (NumberParser.TryParseInt64(s, out long v)) AppendInt(v);
        else AppendString(s);
    }

    public void AppendString(ReadOnlySpan<byte> s)
    {
        int len = s.Length;
        Ensure(len + 10);
        int start = _len;
        var b = _buf;
        if (len < 64) b[_len++] = (byte)(0x80 | len);
        else if (len < 4096)
        {
            b[_len++] = (byte)(0xE0 | (len >> 8));
            b[_len++] = (byte)len;
        }
        else
        {
            b[_len++] = 0xF0;
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(_len), len);
            _len += 4;
        }
        s.CopyTo(b.AsSpan(_len));
        _len += len;
        WriteBackLen(_len - start);
    }

    public void AppendInt(long v)
    {
        Ensure(16);
        int start = _len;
        var b = _buf;
        if (v >= 0 && v <= 127) b[_len++] = (byte)v;
        else if (v >= -4096 && v <= 4095)
        {
            int u = (int)(v & 0x1FFF);
            b[_len++] = (byte)(0xC0 | (u >> 8));
            b[_len++] = (byte)u;
        }
        else if (v >= short.MinValue && v <= short.MaxValue)
        {
            b[_len++] = 0xF1;
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(_len), (short)v);
            _len += 2;
        }
        else if (v >= -(1 << 23) && v < (1 << 23))
        {
            b[_len++] = 0xF2;
            b[_len++] = (byte)v; b[_len++] = (byte)(v >> 8); b[_len++] = (byte)(v >> 16);
        }
        else if (v >= int.MinValue && v <= int.MaxValue)
        {
            b[_len++] = 0xF3;
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(_len), (int)v);
            _len += 4;
        }
        else
        {
            b[_len++] = 0xF4;
            BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(_len), v);
            _len += 8;
        }
        WriteBackLen(_len - start);
    }

    private void WriteBackLen(int l)
    {
        var b = _buf;
        if (l <= 127) b[_len++] = (byte)l;
        else if (l < 16383)
        {
            b[_len++] = (byte)(l >> 7);
            b[_len++] = (byte)((l & 127) | 128);
        }
        else if (l < 2097151)
        {
            b[_len++] = (byte)(l >> 14);
            b[_len++] = (byte)(((l >> 7) & 127) | 128);
            b[_len++] = (byte)((l & 127) | 128);
        }
        else if (l < 268435455)
        {
            b[_len++] = (byte)(l >> 21);
            b[_len++] = (byte)(((l >> 14) & 127) | 128);
            b[_len++] = (byte)(((l >> 7) & 127) | 128);
            b[_len++] = (byte)((l & 127) | 128);
        }
        else
        {
            b[_len++] = (byte)(l >> 28);
            b[_len++] = (byte)(((l >> 21) & 127) | 128);
            b[_len++] = (byte)(((l >> 14) & 127) | 128);
            b[_len++] = (byte)(((l >> 7) & 127) | 128);
            b[_len++] = (byte)((l & 127) | 128);
        }
        _count++;
    }

    /// <summary>Writes the header and terminator; the listpack is valid until the next Reset.</summary>
    public ReadOnlySpan<byte> Finish()
    {
        Ensure(1);
        _buf[_len] = 0xFF;
        int total = _len + 1;
        BinaryPrimitives.WriteUInt32LittleEndian(_buf, (uint)total);
        BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(4), (ushort)Math.Min(_count, 65535));
        return new ReadOnlySpan<byte>(_buf, 0, total);
    }
}

/// <summary>
/// Walks a listpack's entries. Bounds are checked by the span, so a corrupt listpack that escaped
/// validation raises an exception the loader reports as corruption rather than reading stray memory.
/// </summary>
public ref struct ListpackReader
{
    private readonly ReadOnlySpan<byte> _lp;
    private int _pos;

    public ListpackReader(ReadOnlySpan<byte> lp)
    {
        _lp = lp;
        _pos = ListpackBuilder.HeaderSize;
    }

    public readonly int DeclaredCount => BinaryPrimitives.ReadUInt16LittleEndian(_lp[4..]);

    /// <summary>
    /// The next element: an integer (<paramref name="isInt"/>, value in <paramref name="integer"/>) or a
    /// string slice. False at the terminator.
    /// </summary>
    public bool Next(out ReadOnlySpan<byte> str, out long integer, out bool isInt)
    {
        var lp = _lp;
        int p = _pos;
        byte b = lp[p];
        str = default;
        integer = 0;
        isInt = true;
        int body;
        if (b == 0xFF) return false;
        if (b < 0x80) { integer = b; body = 1; }
        else if ((b & 0xC0) == 0x80) { int len = b & 0x3F; str = lp.Slice(p + 1, len); isInt = false; body = 1 + len; }
        else if ((b & 0xE0) == 0xC0)
        {
            int u = ((b & 0x1F) << 8) | lp[p + 1];
            integer = u >= 4096 ? u - 8192 : u;
            body = 2;
        }
        else if ((b & 0xF0) == 0xE0)
        {
            int len = ((b & 0x0F) << 8) | lp[p + 1];
            str = lp.Slice(p + 2, len); isInt = false; body = 2 + len;
        }
        else switch (b)
        {
            case 0xF0:
            {
                uint len = BinaryPrimitives.ReadUInt32LittleEndian(lp[(p + 1)..]);
                if (len > (uint)(lp.Length - p - 5)) throw new RdbFormatException("listpack string length out of range");
                str = lp.Slice(p + 5, (int)len); isInt = false; body = 5 + (int)len;
                break;
            }
            case 0xF1: integer = BinaryPrimitives.ReadInt16LittleEndian(lp[(p + 1)..]); body = 3; break;
            case 0xF2: integer = (lp[p + 1] | (lp[p + 2] << 8) | ((sbyte)lp[p + 3] << 16)); body = 4; break;
            case 0xF3: integer = BinaryPrimitives.ReadInt32LittleEndian(lp[(p + 1)..]); body = 5; break;
            case 0xF4: integer = BinaryPrimitives.ReadInt64LittleEndian(lp[(p + 1)..]); body = 9; break;
            default: throw new RdbFormatException("invalid listpack entry encoding");
        }
        _pos = p + body + ListpackBuilder.BackLenSize(body);
        if (_pos >= lp.Length) throw new RdbFormatException("listpack entry past the end");
        return true;
    }

    /// <summary>The next element as bytes, an integer formatted into <paramref name="scratch"/> (21 bytes).</summary>
    public bool NextBytes(Span<byte> scratch, out ReadOnlySpan<byte> value)
    {
        if (!Next(out var s, out long v, out bool isInt)) { value = default; return false; }
        value = isInt ? scratch[..NumberFormat.WriteInt64(scratch, v)] : s;
        return true;
    }

    /// <summary>
    /// Checks a listpack as Redis does: always that the header's size matches and it ends in 0xFF; with
    /// <paramref name="deep"/>, every entry, its back length and the element count too. Returns the
    /// element count (scanning for it when needed).
    /// </summary>
    public static int Validate(ReadOnlySpan<byte> lp, bool deep)
    {
        if (lp.Length < 7) throw new RdbFormatException("listpack too short");
        if (BinaryPrimitives.ReadUInt32LittleEndian(lp) != (uint)lp.Length) throw new RdbFormatException("listpack size mismatch");
        if (lp[^1] != 0xFF) throw new RdbFormatException("listpack not terminated");
        int declared = BinaryPrimitives.ReadUInt16LittleEndian(lp[4..]);
        if (!deep && declared != 65535) return declared;
        var r = new ListpackReader(lp);
        int n = 0;
        while (true)
        {
            int start = r._pos;
            if (!r.Next(out _, out _, out _)) break;
            if (deep)
            {
                // The back length must decode (right to left) to the entry's body size.
                int end = r._pos;
                int q = end - 1;
                long back = lp[q] & 127;
                int shift = 7;
                while ((lp[q] & 128) != 0)
                {
                    q--;
                    if (q < start) throw new RdbFormatException("listpack back length corrupt");
                    back |= (long)(lp[q] & 127) << shift;
                    shift += 7;
                }
                if (back != q - start) throw new RdbFormatException("listpack back length mismatch");
            }
            n++;
        }
        if (r._pos != lp.Length - 1) throw new RdbFormatException("listpack terminator misplaced");
        if (declared != 65535 && declared != n) throw new RdbFormatException("listpack count mismatch");
        return n;
    }
}

/// <summary>Reads the legacy ziplist format (lists, hashes and sorted sets written before Redis 7).</summary>
public ref struct ZiplistReader
{
    private readonly ReadOnlySpan<byte> _zl;
    private int _pos;

    public ZiplistReader(ReadOnlySpan<byte> zl)
    {
        _zl = zl;
        _pos = 10;
    }

    [ThreadStatic] private static byte[]? ValidateScratch;

    public static int Validate(ReadOnlySpan<byte> zl, bool deep)
    {
        if (zl.Length < 11) throw new RdbFormatException("ziplist too short");
        if (BinaryPrimitives.ReadUInt32LittleEndian(zl) != (uint)zl.Length) throw new RdbFormatException("ziplist size mismatch");
        if (zl[^1] != 0xFF) throw new RdbFormatException("ziplist not terminated");
        int declared = BinaryPrimitives.ReadUInt16LittleEndian(zl[8..]);
        uint tail = BinaryPrimitives.ReadUInt32LittleEndian(zl[4..]);
        if (tail > (uint)zl.Length - 1) throw new RdbFormatException("ziplist tail offset out of range");
        if (!deep && declared != 65535) return declared;
        var r = new ZiplistReader(zl);
        int n = 0, prevSize = 0, last = 10;
        while (true)
        {
            int start = r._pos;
            if (deep && r._zl[start] != 0xFF)
            {
                int prev = r._zl[start] < 254 ? r._zl[start] : (int)BinaryPrimitives.ReadUInt32LittleEndian(r._zl[(start + 1)..]);
                if (prev != prevSize) throw new RdbFormatException("ziplist prevlen mismatch");
            }
            if (!r.NextBytes(ValidateScratch ??= new byte[24], out _)) break;
            prevSize = r._pos - start;
            last = start;
            n++;
        }
        if (r._pos != zl.Length - 1) throw new RdbFormatException("ziplist terminator misplaced");
        if (deep && n > 0 && last != tail) throw new RdbFormatException("ziplist tail offset mismatch");
        if (declared != 65535 && declared != n) throw new RdbFormatException("ziplist count mismatch");
        return n;
    }

    public bool NextBytes(Span<byte> scratch, out ReadOnlySpan<byte> value)
    {
        var zl = _zl;
        int p = _pos;
        value = default;
        if (zl[p] == 0xFF) return false;
        p += zl[p] < 254 ? 1 : 5;
        byte enc = zl[p];
        long v;
        switch (enc >> 6)
        {
            case 0: value = zl.Slice(p + 1, enc & 0x3F); _pos = p + 1 + value.Length; break;
            case 1:
            {
                int len = ((enc & 0x3F) << 8) | zl[p + 1];
                value = zl.Slice(p + 2, len); _pos = p + 2 + len; break;
            }
            case 2:
            {
                uint len = BinaryPrimitives.ReadUInt32BigEndian(zl[(p + 1)..]);
                if (enc != 0x80 || len > (uint)(zl.Length - p - 5)) throw new RdbFormatException("ziplist string length out of range");
                value = zl.Slice(p + 5, (int)len); _pos = p + 5 + (int)len; break;
            }
            default:
                switch (enc)
                {
                    case 0xC0: v = BinaryPrimitives.ReadInt16LittleEndian(zl[(p + 1)..]); _pos = p + 3; break;
                    case 0xD0: v = BinaryPrimitives.ReadInt32LittleEndian(zl[(p + 1)..]); _pos = p + 5; break;
                    case 0xE0: v = BinaryPrimitives.ReadInt64LittleEndian(zl[(p + 1)..]); _pos = p + 9; break;
                    case 0xF0: v = zl[p + 1] | (zl[p + 2] << 8) | ((sbyte)zl[p + 3] << 16); _pos = p + 4; break;
                    case 0xFE: v = (sbyte)zl[p + 1]; _pos = p + 2; break;
                    default:
                        if (enc >= 0xF1 && enc <= 0xFD) { v = (enc & 0x0F) - 1; _pos = p + 1; break; }
                        throw new RdbFormatException("invalid ziplist entry encoding");
                }
                value = scratch[..NumberFormat.WriteInt64(scratch, v)];
                break;
        }
        if (_pos >= zl.Length) throw new RdbFormatException("ziplist entry past the end");
        return true;
    }
}

/// <summary>The legacy zipmap (hashes written by Redis before 2.6): field/value pairs.</summary>
public ref struct ZipmapReader
{
    private readonly ReadOnlySpan<byte> _zm;
    private int _pos;

    public ZipmapReader(ReadOnlySpan<byte> zm)
    {
        if (zm.Length < 2 || zm[^1] != 0xFF) throw new RdbFormatException("zipmap not terminated");
        _zm = zm;
        _pos = 1;
    }

    private int ReadLen()
    {
        byte b = _zm[_pos];
        if (b < 254) { _pos++; return b; }
        if (b == 254)
        {
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(_zm[(_pos + 1)..]);
            _pos += 5;
            if (len > (uint)_zm.Length) throw new RdbFormatException("zipmap length out of range");
            return (int)len;
        }
        throw new RdbFormatException("zipmap length corrupt");
    }

    public bool Next(out ReadOnlySpan<byte> field, out ReadOnlySpan<byte> value)
    {
        field = value = default;
        if (_zm[_pos] == 0xFF) return false;
        int flen = ReadLen();
        field = _zm.Slice(_pos, flen);
        _pos += flen;
        int vlen = ReadLen();
        int free = _zm[_pos++];
        value = _zm.Slice(_pos, vlen);
        _pos += vlen + free;
        if (_pos >= _zm.Length) throw new RdbFormatException("zipmap entry past the end");
        return true;
    }
}

/// <summary>The intset blob of SET_INTSET: encoding width, count, sorted members.</summary>
public static class IntsetBlob
{
    public static int Validate(ReadOnlySpan<byte> blob, bool deep, out int width)
    {
        if (blob.Length < 8) throw new RdbFormatException("intset too short");
        uint enc = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (enc != 2 && enc != 4 && enc != 8) throw new RdbFormatException("intset encoding invalid");
        width = (int)enc;
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(blob[4..]);
        if ((ulong)count * enc + 8 != (ulong)blob.Length) throw new RdbFormatException("intset size mismatch");
        if (count == 0) throw new RdbFormatException("intset empty");
        if (deep)
        {
            long prev = 0;
            for (int i = 0; i < count; i++)
            {
                long v = Get(blob, width, i);
                if (i > 0 && v <= prev) throw new RdbFormatException("intset not sorted");
                prev = v;
            }
        }
        return (int)count;
    }

    public static long Get(ReadOnlySpan<byte> blob, int width, int i) => width switch
    {
        2 => BinaryPrimitives.ReadInt16LittleEndian(blob[(8 + i * 2)..]),
        4 => BinaryPrimitives.ReadInt32LittleEndian(blob[(8 + i * 4)..]),
        _ => BinaryPrimitives.ReadInt64LittleEndian(blob[(8 + i * 8)..]),
    };
}

/// <summary>A payload that breaks the RDB format (bad encoding, inconsistent sizes, failed validation).</summary>
public sealed class RdbFormatException(string message) : Exception(message);
