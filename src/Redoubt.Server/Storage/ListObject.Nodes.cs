namespace Redoubt.Server.Storage;

/// <summary>
/// The node chain of <see cref="ListObject"/>. An element is stored as
/// [length, 7 bits a byte, low bits first][bytes][the same length, mirrored], so from an element's start
/// the next one is found by reading forward and from its end the previous one by reading backward.
/// A node's elements occupy Buf[Start..End); the room on either side absorbs pushes without copying.
/// </summary>
public sealed partial class ListObject
{
    internal sealed class Node
    {
        public byte[] Buf = [];
        public int Start, End, Count;
        /// <summary>Holds one element of at least <see cref="PackedThreshold"/> bytes and takes no other.</summary>
        public bool Plain;
        public Node? Prev, Next;
        public int Used => End - Start;
    }

    // ---- element encoding ------------------------------------------------------------------------

    private static int VarLen(int n) => n < 1 << 7 ? 1 : n < 1 << 14 ? 2 : n < 1 << 21 ? 3 : n < 1 << 28 ? 4 : 5;

    private static int EntrySize(int length) => length + 2 * VarLen(length);

    private static void WriteEntry(byte[] buf, int at, ReadOnlySpan<byte> value)
    {
        int len = value.Length, k = VarLen(len);
        int x = len;
        for (int i = 0; i < k; i++, x >>= 7) buf[at + i] = (byte)((x & 0x7f) | (i < k - 1 ? 0x80 : 0));
        value.CopyTo(buf.AsSpan(at + k));
        int end = at + k + len + k;
        x = len;
        for (int i = 0; i < k; i++, x >>= 7) buf[end - 1 - i] = (byte)((x & 0x7f) | (i < k - 1 ? 0x80 : 0));
    }

    private static int ReadLength(byte[] buf, int at, out int dataStart)
    {
        int value = 0, shift = 0;
        while (true)
        {
            byte b = buf[at++];
            value |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0) break;
            shift += 7;
        }
        dataStart = at;
        return value;
    }

    private static ReadOnlySpan<byte> ValueAt(Node n, int at)
    {
        int len = ReadLength(n.Buf, at, out int data);
        return new ReadOnlySpan<byte>(n.Buf, data, len);
    }

    private static int NextEntry(byte[] buf, int at)
    {
        int len = ReadLength(buf, at, out int data);
        return data + len + VarLen(len);
    }

    private static int EntrySizeAt(byte[] buf, int at) => NextEntry(buf, at) - at;

    /// <summary>The start of the element that ends at <paramref name="end"/>.</summary>
    private static int EntryStartBefore(byte[] buf, int end)
    {
        int value = 0, shift = 0, k = 0, p = end - 1;
        while (true)
        {
            byte b = buf[p--];
            k++;
            value |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0) break;
            shift += 7;
        }
        return end - 2 * k - value;
    }

    // ---- node sizing -----------------------------------------------------------------------------

    private static bool IsLarge(int length) => length >= PackedThreshold;

    private int NodeByteLimit => _fill < 0 ? 4096 << (-_fill - 1) : SizeSafetyLimit;

    /// <summary>Whether an element of <paramref name="size"/> encoded bytes may join node <paramref name="n"/>.</summary>
    private bool AllowInsert(Node n, int size, int valueLength)
    {
        if (n.Plain || IsLarge(valueLength)) return false;
        long newSize = (long)n.Used + size;
        if (_fill < 0) return newSize <= NodeByteLimit;
        return newSize <= SizeSafetyLimit && n.Count < _fill;
    }

    private bool Oversized(Node n)
    {
        if (n.Count <= 1) return false;
        if (_fill < 0) return n.Used > NodeByteLimit;
        return n.Used > SizeSafetyLimit || n.Count > _fill;
    }

    /// <summary>
    /// A buffer size for <paramref name="required"/> bytes: doubling from <paramref name="current"/>, but
    /// never past the node limit unless one element alone is bigger, then exactly what it needs.
    /// </summary>
    private int GrowCapacity(int current, int required)
    {
        int limit = NodeByteLimit;
        if (required > limit) return required;
        long cap = Math.Max(MinNodeCapacity, current);
        while (cap < required) cap *= 2;
        return (int)Math.Min(cap, limit);
    }

    private Node NewNode(int size, int valueLength, bool towardTail)
    {
        int cap = IsLarge(valueLength) ? size : GrowCapacity(0, size);
        var n = new Node { Buf = new byte[cap], Plain = IsLarge(valueLength) };
        n.Start = n.End = towardTail ? 0 : cap;
        return n;
    }

    // ---- byte moves inside a node ----------------------------------------------------------------

    private void InsertInto(Node n, int at, ReadOnlySpan<byte> value, int size)
    {
        int w = MakeRoom(n, at, size);
        WriteEntry(n.Buf, w, value);
        n.Count++;
        _count++;
    }

    /// <summary>
    /// Opens a gap of <paramref name="need"/> bytes at <paramref name="at"/> (an element boundary) and
    /// returns where it now starts. Moves the shorter side when it has room; otherwise lays the node out
    /// again, growing it if needed, with the free room where pushes will want it: after the data of a
    /// tail node, before that of a head node, mostly on the pushed side of a list's only node.
    /// </summary>
    private int MakeRoom(Node n, int at, int need)
    {
        int before = at - n.Start, after = n.End - at;
        var buf = n.Buf;
        bool tailRoom = buf.Length - n.End >= need, headRoom = n.Start >= need;
        // Move the shorter side; an empty node (or a tie) uses whichever side has room.
        bool moveTail = after < before ? tailRoom : after > before ? false : tailRoom;
        bool moveHead = !moveTail && (after > before ? headRoom : after == before && headRoom);
        if (moveTail)
        {
            buf.AsSpan(at, after).CopyTo(buf.AsSpan(at + need));
            n.End += need;
            return at;
        }
        if (moveHead)
        {
            buf.AsSpan(n.Start, before).CopyTo(buf.AsSpan(n.Start - need));
            n.Start -= need;
            return at - need;
        }
        int required = n.Used + need;
        int cap = required > buf.Length ? GrowCapacity(buf.Length, required) : buf.Length;
        int free = cap - required;
        bool only = _head == _tail;
        int ns;
        if (after == 0) ns = only ? free / 4 : 0;
        else if (before == 0) ns = only ? free - free / 4 : free;
        else ns = free / 2;
        if (cap != buf.Length)
        {
            var grown = new byte[cap];
            buf.AsSpan(n.Start, before).CopyTo(grown.AsSpan(ns));
            buf.AsSpan(at, after).CopyTo(grown.AsSpan(ns + before + need));
            _bufferBytes += cap - buf.Length;
            n.Buf = grown;
        }
        else if (ns <= n.Start)
        {
            // Moving left: the front part first, so it cannot overwrite the back part's source.
            buf.AsSpan(n.Start, before).CopyTo(buf.AsSpan(ns));
            buf.AsSpan(at, after).CopyTo(buf.AsSpan(ns + before + need));
        }
        else
        {
            buf.AsSpan(at, after).CopyTo(buf.AsSpan(ns + before + need));
            buf.AsSpan(n.Start, before).CopyTo(buf.AsSpan(ns));
        }
        n.Start = ns;
        n.End = ns + required;
        return ns + before;
    }

    /// <summary>
    /// Removes the bytes [at, at+len) by moving the shorter side over them. Returns how far the part
    /// before <paramref name="at"/> moved (0 or <paramref name="len"/>).
    /// </summary>
    private static int CloseGap(Node n, int at, int len)
    {
        var buf = n.Buf;
        int before = at - n.Start, after = n.End - at - len;
        if (before < after)
        {
            buf.AsSpan(n.Start, before).CopyTo(buf.AsSpan(n.Start + len));
            n.Start += len;
            return len;
        }
        buf.AsSpan(at + len, after).CopyTo(buf.AsSpan(at));
        n.End -= len;
        return 0;
    }

    /// <summary>Removes one element of <paramref name="size"/> bytes; a node left empty leaves the chain.</summary>
    private void RemoveEntry(Node n, int at, int size)
    {
        CloseGap(n, at, size);
        n.Count--;
        _count--;
        if (n.Count == 0) Unlink(n);
        else MaybeShrink(n);
    }

    /// <summary>Gives back a buffer mostly left empty by removals (a quarter used or less).</summary>
    private void MaybeShrink(Node n)
    {
        if (n.Buf.Length <= 64 || n.Used > n.Buf.Length / 4) return;
        int cap = GrowCapacity(0, n.Used);
        if (cap >= n.Buf.Length) return;
        var buf = new byte[cap];
        int ns = (cap - n.Used) / 2;
        n.Buf.AsSpan(n.Start, n.Used).CopyTo(buf.AsSpan(ns));
        _bufferBytes += cap - n.Buf.Length;
        n.Buf = buf;
        n.End = ns + n.Used;
        n.Start = ns;
    }

    /// <summary>
    /// Moves the elements from <paramref name="at"/> to the node's end into a new node linked right after
    /// it; returns that node, or null when there is nothing to move.
    /// </summary>
    private Node? SplitAfter(Node n, int at)
    {
        if (at >= n.End) return null;
        int moved = 0;
        for (int p = at; p < n.End; p = NextEntry(n.Buf, p)) moved++;
        int bytes = n.End - at;
        var right = new Node { Buf = new byte[GrowCapacity(0, bytes)], Count = moved };
        n.Buf.AsSpan(at, bytes).CopyTo(right.Buf);
        right.End = bytes;
        n.End = at;
        n.Count -= moved;
        LinkAfter(n, right);
        if (n.Count == 0) Unlink(n);
        return right;
    }

    /// <summary>Splits a node that grew past the limits into halves until each part fits.</summary>
    private void SplitIfOversized(Node n)
    {
        if (!Oversized(n)) return;
        int off = n.Start;
        for (int i = 0; i < n.Count / 2; i++) off = NextEntry(n.Buf, off);
        var right = SplitAfter(n, off);
        MaybeShrink(n);
        SplitIfOversized(n);
        if (right != null) SplitIfOversized(right);
    }

    // ---- the chain -------------------------------------------------------------------------------

    private void LinkFirst(Node n)
    {
        n.Prev = null;
        n.Next = _head;
        if (_head != null) _head.Prev = n;
        else _tail = n;
        _head = n;
        _nodeCount++;
        _bufferBytes += n.Buf.Length;
    }

    private void LinkLast(Node n)
    {
        n.Next = null;
        n.Prev = _tail;
        if (_tail != null) _tail.Next = n;
        else _head = n;
        _tail = n;
        _nodeCount++;
        _bufferBytes += n.Buf.Length;
    }

    private void LinkAfter(Node at, Node n)
    {
        n.Prev = at;
        n.Next = at.Next;
        if (at.Next != null) at.Next.Prev = n;
        else _tail = n;
        at.Next = n;
        _nodeCount++;
        _bufferBytes += n.Buf.Length;
    }

    private void LinkBefore(Node at, Node n)
    {
        n.Next = at;
        n.Prev = at.Prev;
        if (at.Prev != null) at.Prev.Next = n;
        else _head = n;
        at.Prev = n;
        _nodeCount++;
        _bufferBytes += n.Buf.Length;
    }

    /// <summary>Elements, nodes and buffer bytes counted by walking the chain (to check the running totals).</summary>
    internal (long Count, int Nodes, long BufferBytes) Recount()
    {
        long count = 0, bytes = 0;
        int nodes = 0;
        for (var n = _head; n != null; n = n.Next)
        {
            count += n.Count;
            bytes += n.Buf.Length;
            nodes++;
        }
        return (count, nodes, bytes);
    }

    internal long BufferBytes => _bufferBytes;

    private void Unlink(Node n)
    {
        if (n.Prev != null) n.Prev.Next = n.Next;
        else _head = n.Next;
        if (n.Next != null) n.Next.Prev = n.Prev;
        else _tail = n.Prev;
        n.Prev = n.Next = null;
        _nodeCount--;
        _bufferBytes -= n.Buf.Length;
    }
}
