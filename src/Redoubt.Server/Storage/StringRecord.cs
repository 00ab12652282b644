using System.Runtime.CompilerServices;

namespace Redoubt.Server.Storage;

/// <summary>
/// A string key and its value packed into one array: [key length, 7-bit varint][key][value].
/// One object per string key instead of three (key, value, wrapper) is what keeps 1M small keys
/// within Redis's memory footprint.
/// </summary>
public static class StringRecord
{
    public static byte[] Create(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        int h = VarintSize(key.Length);
        var rec = GC.AllocateUninitializedArray<byte>(h + key.Length + value.Length);
        WriteVarint(rec, key.Length);
        key.CopyTo(rec.AsSpan(h));
        value.CopyTo(rec.AsSpan(h + key.Length));
        return rec;
    }

    /// <summary>A record with the same key and a value of <paramref name="valueLength"/> bytes left for the caller to fill.</summary>
    public static byte[] CreateForKey(ReadOnlySpan<byte> key, int valueLength)
    {
        int h = VarintSize(key.Length);
        var rec = new byte[h + key.Length + valueLength];
        WriteVarint(rec, key.Length);
        key.CopyTo(rec.AsSpan(h));
        return rec;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ReadOnlySpan<byte> Key(byte[] rec)
    {
        int keyLen = ReadVarint(rec, out int h);
        return new ReadOnlySpan<byte>(rec, h, keyLen);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ValueOffset(byte[] rec)
    {
        int keyLen = ReadVarint(rec, out int h);
        return h + keyLen;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ReadOnlySpan<byte> Value(byte[] rec)
    {
        int off = ValueOffset(rec);
        return new ReadOnlySpan<byte>(rec, off, rec.Length - off);
    }

    public static Span<byte> MutableValue(byte[] rec)
    {
        int off = ValueOffset(rec);
        return new Span<byte>(rec, off, rec.Length - off);
    }

    public static int ValueLength(byte[] rec) => rec.Length - ValueOffset(rec);

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
