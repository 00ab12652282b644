using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Redoubt.Server.Storage;

/// <summary>
/// The compact form of small sets whose members are all integers (Redis's intset): a sorted array of
/// integers stored 2, 4 or 8 bytes wide, widened when a member needs it (never narrowed, as Redis).
/// Iteration is in ascending order, which is the order Redis replies with for this encoding.
///
/// A mutable struct meant to live in a field of its owner and be changed through that field.
/// </summary>
public struct IntSet
{
    private byte[]? _data;
    private int _count;
    private int _width; // 2, 4 or 8 once anything was added

    public readonly int Count => _count;
    /// <summary>Bytes per member (2, 4 or 8; 2 while empty), as the RDB intset blob records it.</summary>
    public readonly int Width => _width == 0 ? 2 : _width;
    public readonly long MemoryUsage => _data == null ? 0 : 24 + ((_data.Length + 7) & ~7);

    private static int WidthFor(long v)
        => v >= short.MinValue && v <= short.MaxValue ? 2 : v >= int.MinValue && v <= int.MaxValue ? 4 : 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long ReadAt(byte[] data, int width, int index) => width switch
    {
        2 => BinaryPrimitives.ReadInt16LittleEndian(data.AsSpan(index * 2)),
        4 => BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(index * 4)),
        _ => BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(index * 8)),
    };

    private static void WriteAt(byte[] data, int width, int index, long v)
    {
        switch (width)
        {
            case 2: BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(index * 2), (short)v); break;
            case 4: BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(index * 4), (int)v); break;
            default: BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(index * 8), v); break;
        }
    }

    public readonly long Get(int index) => ReadAt(_data!, _width, index);

    /// <summary>Binary search: the index of <paramref name="v"/>, or the bitwise complement of where it would go.</summary>
    private readonly int Search(long v)
    {
        int lo = 0, hi = _count - 1;
        var data = _data;
        int width = _width;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            long m = ReadAt(data!, width, mid);
            if (m == v) return mid;
            if (m < v) lo = mid + 1;
            else hi = mid - 1;
        }
        return ~lo;
    }

    public readonly bool Contains(long v) => _count > 0 && WidthFor(v) <= _width && Search(v) >= 0;

    /// <summary>Adds <paramref name="v"/>; false when already present.</summary>
    public bool Add(long v)
    {
        int width = WidthFor(v);
        if (_count == 0 && _width == 0) _width = width;
        if (width > _width)
        {
            // A value wider than the current encoding lies beyond every member: first or last.
            Upgrade(width);
            Insert(v < 0 ? 0 : _count, v);
            return true;
        }
        int pos = _count == 0 ? ~0 : Search(v);
        if (pos >= 0) return false;
        Insert(~pos, v);
        return true;
    }

    private void Upgrade(int width)
    {
        var data = new byte[Math.Max(_count + 1, 4) * width];
        for (int i = 0; i < _count; i++) WriteAt(data, width, i, ReadAt(_data!, _width, i));
        _data = data;
        _width = width;
    }

    private void Insert(int index, long v)
    {
        int width = _width;
        if (_data == null || (_count + 1) * width > _data.Length)
            Array.Resize(ref _data, Math.Max(4, _count * 2) * width);
        Buffer.BlockCopy(_data, index * width, _data, (index + 1) * width, (_count - index) * width);
        WriteAt(_data, width, index, v);
        _count++;
    }

    /// <summary>Removes <paramref name="v"/>; false when absent.</summary>
    public bool Remove(long v)
    {
        if (!Contains(v)) return false;
        RemoveAt(Search(v));
        return true;
    }

    public void RemoveAt(int index)
    {
        int width = _width;
        Buffer.BlockCopy(_data!, (index + 1) * width, _data!, index * width, (_count - index - 1) * width);
        _count--;
        if (_data!.Length > 64 && _count * width < _data.Length / 4) Array.Resize(ref _data, Math.Max(4, _count * 2) * width);
    }

    public readonly IntSet Clone()
    {
        var copy = new IntSet { _count = _count, _width = _width };
        if (_data != null) copy._data = (byte[])_data.Clone();
        return copy;
    }
}
