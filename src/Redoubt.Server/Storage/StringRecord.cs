using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Redoubt.Server.Storage;

/// <summary>
/// A string key and its value packed into one array. One object per string key instead of three
/// (key, value, wrapper) is what keeps 1M small keys within Redis's memory footprint.
///
/// Layout: a 7-bit varint header holding (key length &lt;&lt; 1 | grown), then the key.
/// Exact records (grown = 0), what SET and friends create: [header][key][value], the value running
/// to the end of the array.
/// Grown records (grown = 1), made by APPEND, SETRANGE, SETBIT and BITFIELD when a value gets longer:
/// [header][key][value length, int32 LE][value][spare zero bytes]. The spare room makes repeated
/// growth amortized O(1) like Redis's greedy sds allocation; without it, setting bits of a bitmap in
/// increasing order would copy the whole value every 8 bits.
/// Always read through <see cref="Value"/>/<see cref="ValueLength"/>, never from the array length.
/// </summary>
public static class StringRecord
{
    /// <summary>Above this value size, growth adds this much room instead of doubling (as sds does).</summary>
    private const int MaxPrealloc = 1024 * 1024;
    private const int LengthFieldSize = 4;

    public static byte[] Create(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        int h = VarintSize(key.Length << 1);
        var rec = GC.AllocateUninitializedArray<byte>(h + key.Length + value.Length);
        WriteVarint(rec, key.Length << 1);
        key.CopyTo(rec.AsSpan(h));
        value.CopyTo(rec.AsSpan(h + key.Length));
        return rec;
    }

    /// <summary>A record with the same key and a value of <paramref name="valueLength"/> zero bytes for the caller to fill.</summary>
    public static byte[] CreateForKey(ReadOnlySpan<byte> key, int valueLength)
    {
        int h = VarintSize(key.Length << 1);
        var rec = new byte[h + key.Length + valueLength];
        WriteVarint(rec, key.Length << 1);
        key.CopyTo(rec.AsSpan(h));
        return rec;
    }

    /// <summary>
    /// Largest value length a record for <paramref name="keyLength"/> can hold, whatever its layout
    /// (bounded by the largest .NET array).
    /// </summary>
    public static long MaxValueLength(int keyLength) => Array.MaxLength - (long)VarintSize(keyLength << 1) - keyLength - LengthFieldSize;

    /// <summary>
    /// Lengthens the value of <paramref name="rec"/> to <paramref name="newLength"/> bytes, the new bytes
    /// zero. Returns <paramref name="rec"/> itself when its spare room suffices, else a new grown record
    /// with room to spare (the caller stores it with Database.ReplaceAt). The new length must not be
    /// shorter than the current one nor above <see cref="MaxValueLength"/>.
    /// </summary>
    public static byte[] GrowValue(byte[] rec, int newLength)
    {
        int header = ReadVarint(rec, out int h);
        int keyLen = header >> 1;
        int oldLen;
        if ((header & 1) != 0)
        {
            int lenPos = h + keyLen;
            oldLen = BinaryPrimitives.ReadInt32LittleEndian(rec.AsSpan(lenPos));
            int valueStart = lenPos + LengthFieldSize;
            if (newLength <= rec.Length - valueStart)
            {
                rec.AsSpan(valueStart + oldLen, newLength - oldLen).Clear();
                BinaryPrimitives.WriteInt32LittleEndian(rec.AsSpan(lenPos), newLength);
                return rec;
            }
        }
        else oldLen = rec.Length - h - keyLen;

        long room = newLength < MaxPrealloc ? (long)newLength * 2 : (long)newLength + MaxPrealloc;
        int newH = VarintSize((keyLen << 1) | 1);
        long fixedPart = newH + keyLen + LengthFieldSize;
        long total = Math.Min(fixedPart + room, Array.MaxLength);
        var grown = new byte[total];
        WriteVarint(grown, (keyLen << 1) | 1);
        rec.AsSpan(h, keyLen).CopyTo(grown.AsSpan(newH));
        BinaryPrimitives.WriteInt32LittleEndian(grown.AsSpan(newH + keyLen), newLength);
        int oldStart = ValueOffset(rec);
        rec.AsSpan(oldStart, oldLen).CopyTo(grown.AsSpan((int)fixedPart));
        return grown;
    }

    /// <summary>
    /// Shortens the value of <paramref name="rec"/> to its first <paramref name="newLength"/> bytes. A
    /// grown record only takes the new length (what is cut off becomes spare room, so edits that shrink
    /// and regrow a value, like sparse HyperLogLog updates, do not reallocate); an exact record is copied
    /// into a new exact one. The caller stores the result with Database.ReplaceAt.
    /// </summary>
    public static byte[] ShrinkValue(byte[] rec, int newLength)
    {
        int header = ReadVarint(rec, out int h);
        int keyLen = header >> 1;
        if ((header & 1) != 0)
        {
            BinaryPrimitives.WriteInt32LittleEndian(rec.AsSpan(h + keyLen), newLength);
            return rec;
        }
        return Create(new ReadOnlySpan<byte>(rec, h, keyLen), new ReadOnlySpan<byte>(rec, h + keyLen, newLength));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ReadOnlySpan<byte> Key(byte[] rec)
    {
        int keyLen = ReadVarint(rec, out int h) >> 1;
        return new ReadOnlySpan<byte>(rec, h, keyLen);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ValueOffset(byte[] rec)
    {
        int header = ReadVarint(rec, out int h);
        return h + (header >> 1) + ((header & 1) != 0 ? LengthFieldSize : 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ReadOnlySpan<byte> Value(byte[] rec)
    {
        int header = ReadVarint(rec, out int h);
        int off = h + (header >> 1);
        if ((header & 1) == 0) return new ReadOnlySpan<byte>(rec, off, rec.Length - off);
        int len = BinaryPrimitives.ReadInt32LittleEndian(rec.AsSpan(off));
        return new ReadOnlySpan<byte>(rec, off + LengthFieldSize, len);
    }

    /// <summary>The value for in-place edits that keep its length (SETRANGE, SETBIT, INCR of equal width...).</summary>
    public static Span<byte> MutableValue(byte[] rec)
    {
        int header = ReadVarint(rec, out int h);
        int off = h + (header >> 1);
        if ((header & 1) == 0) return new Span<byte>(rec, off, rec.Length - off);
        int len = BinaryPrimitives.ReadInt32LittleEndian(rec.AsSpan(off));
        return new Span<byte>(rec, off + LengthFieldSize, len);
    }

    public static int ValueLength(byte[] rec)
    {
        int header = ReadVarint(rec, out int h);
        int off = h + (header >> 1);
        if ((header & 1) == 0) return rec.Length - off;
        return BinaryPrimitives.ReadInt32LittleEndian(rec.AsSpan(off));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ReadVarint(byte[] rec, out int headerSize)
    {
        byte b = rec[0];
        if (b < 0x80) { headerSize = 1; return b; }
        int value = b & 0x7F, shift = 7, i = 1;
        while (true)
        {
            b = rec[i++];
            value |= (b & 0x7F) << shift;
            if (b < 0x80) break;
            shift += 7;
        }
        headerSize = i;
        return value;
    }

    private static int VarintSize(int v)
    {
        int n = 1;
        while (v >= 0x80) { v >>= 7; n++; }
        return n;
    }

    private static void WriteVarint(byte[] dest, int v)
    {
        int i = 0;
        while (v >= 0x80)
        {
            dest[i++] = (byte)(v | 0x80);
            v >>= 7;
        }
        dest[i] = (byte)v;
    }
}
