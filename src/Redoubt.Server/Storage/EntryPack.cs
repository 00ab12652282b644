using System.Runtime.CompilerServices;

namespace Redoubt.Server.Storage;

/// <summary>
/// A sequence of byte strings packed into one array, each preceded by its length as a varint: the
/// compact form of small hashes (Redis's listpack, field and value alternating). One allocation holds
/// the whole collection; lookups scan it linearly, which for the few dozen entries this form is used
/// for is as fast as hashing and far smaller.
///
/// This is a mutable struct meant to live in a field of its owner and be changed through that field;
/// copying it would share the buffer.
/// </summary>
public struct EntryPack
{
    private byte[]? _buf;
    private int _len;
    private int _count;

    public readonly int Count => _count;
    public readonly int ByteLength => _len;
    public readonly long MemoryUsage => _buf == null ? 0 : 24 + ((_buf.Length + 7) & ~7);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int HeaderSize(int length)
        => length < 0x80 ? 1 : length < 0x4000 ? 2 : length < 0x200000 ? 3 : length < 0x10000000 ? 4 : 5;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int WriteHeader(Span<byte> dest, int length)
    {
        int n = 0;
        uint v = (uint)length;
        while (v >= 0x80)
        {
            dest[n++] = (byte)(v | 0x80);
            v >>= 7;
        }
        dest[n++] = (byte)v;
        return n;
    }

    /// <summary>The entry at <paramref name="offset"/>; <paramref name="next"/> receives the following entry's offset.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly ReadOnlySpan<byte> Read(int offset, out int next)
    {
        var buf = _buf!;
        int length = 0, shift = 0;
        byte b;
        do
        {
            b = buf[offset++];
            length |= (b & 0x7F) << shift;
            shift += 7;
        } while (b >= 0x80);
        next = offset + length;
        return new ReadOnlySpan<byte>(buf, offset, length);
    }

    /// <summary>Reads the entry at <paramref name="offset"/> and advances it; false at the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Next(ref int offset, out ReadOnlySpan<byte> entry)
    {
        if (offset >= _len)
        {
            entry = default;
            return false;
        }
        entry = Read(offset, out offset);
        return true;
    }

    /// <summary>
    /// Offset of the first entry equal to <paramref name="needle"/> among entries 0, stride, 2*stride...
    /// (stride 2 searches a hash's fields only), or -1.
    /// </summary>
    public readonly int Find(ReadOnlySpan<byte> needle, int stride)
    {
        int offset = 0, index = 0;
        while (offset < _len)
        {
            int start = offset;
            var entry = Read(offset, out offset);
            if (index % stride == 0 && entry.SequenceEqual(needle)) return start;
            index++;
        }
        return -1;
    }

    /// <summary>Offset of the entry at position <paramref name="index"/> (linear).</summary>
    public readonly int OffsetOf(int index)
    {
        int offset = 0;
        for (int i = 0; i < index; i++) Read(offset, out offset);
        return offset;
    }

    /// <summary>Offsets of every <paramref name="stride"/>-th entry, for random access by position.</summary>
    public readonly void CollectOffsets(Span<int> offsets, int stride)
    {
        int offset = 0, index = 0, n = 0;
        while (offset < _len && n < offsets.Length)
        {
            if (index % stride == 0) offsets[n++] = offset;
            Read(offset, out offset);
            index++;
        }
    }

    private void EnsureRoom(int extra)
    {
        int need = _len + extra;
        if (_buf != null && need <= _buf.Length) return;
        int size = Math.Max(need, _buf == null ? 32 : Math.Min(_buf.Length * 2, _buf.Length + 64 * 1024));
        Array.Resize(ref _buf, Math.Max(size, need));
    }

    /// <summary>Makes room for <paramref name="bytes"/> more bytes at once (a collection read whole from a file).</summary>
    public void Reserve(int bytes) => EnsureRoom(bytes);

    public void Append(ReadOnlySpan<byte> data)
    {
        EnsureRoom(HeaderSize(data.Length) + data.Length);
        int n = WriteHeader(_buf.AsSpan(_len), data.Length);
        data.CopyTo(_buf.AsSpan(_len + n));
        _len += n + data.Length;
        _count++;
    }

    /// <summary>Replaces the entry at <paramref name="offset"/> with <paramref name="data"/>, moving the tail as needed.</summary>
    public void Replace(int offset, ReadOnlySpan<byte> data)
    {
        var old = Read(offset, out int oldEnd);
        if (old.Length == data.Length)
        {
            data.CopyTo(_buf.AsSpan(oldEnd - old.Length));
            return;
        }
        int newSize = HeaderSize(data.Length) + data.Length;
        int delta = newSize - (oldEnd - offset);
        if (delta > 0) EnsureRoom(delta);
        var buf = _buf!;
        Buffer.BlockCopy(buf, oldEnd, buf, oldEnd + delta, _len - oldEnd);
        int n = WriteHeader(buf.AsSpan(offset), data.Length);
        data.CopyTo(buf.AsSpan(offset + n));
        _len += delta;
    }

    /// <summary>Removes <paramref name="entries"/> consecutive entries starting at <paramref name="offset"/>.</summary>
    public void Remove(int offset, int entries)
    {
        int end = offset;
        for (int i = 0; i < entries; i++) Read(end, out end);
        var buf = _buf!;
        Buffer.BlockCopy(buf, end, buf, offset, _len - end);
        _len -= end - offset;
        _count -= entries;
        // Give memory back when the pack has shrunk well below its buffer.
        if (_buf!.Length > 64 && _len < _buf.Length / 4) Array.Resize(ref _buf, Math.Max(32, _len * 2));
    }

    public readonly EntryPack Clone()
    {
        var copy = new EntryPack { _len = _len, _count = _count };
        if (_buf != null) copy._buf = _buf.AsSpan(0, Math.Max(_len, 1)).ToArray();
        return copy;
    }
}
