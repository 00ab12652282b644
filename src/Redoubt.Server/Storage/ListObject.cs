namespace Redoubt.Server.Storage;

/// <summary>
/// A list value, laid out like Redis's quicklist: a doubly linked chain of nodes, each one byte array
/// holding a run of elements packed back to back. An element costs its bytes plus a length prefix and
/// a mirrored length suffix (one byte each below 128 bytes), so the chain can be walked both ways
/// without per-element objects: a million short elements fill under two thousand arrays, not a million.
/// Nodes keep free room on the side pushes arrive from, so pushes and pops at either end are amortized
/// O(1); index lookups skip whole nodes by their counts and scan one node from its nearer end.
/// Node size follows list-max-listpack-size ("fill"): negative values cap a node's bytes at 4..64 KB,
/// positive values cap its element count (with an 8 KB safety limit), as Redis does. Elements of at
/// least <see cref="PackedThreshold"/> bytes get a node of their own (Redis's plain nodes).
/// </summary>
public sealed partial class ListObject : RedisObject
{
    /// <summary>Redis 7.0's default list-max-listpack-size: nodes of at most 8 KB.</summary>
    public const int DefaultFill = -2;
    private const int SizeSafetyLimit = 8192;
    private const int MinNodeCapacity = 16;

    /// <summary>
    /// Elements at least this long are stored in a node of their own (DEBUG QUICKLIST-PACKED-THRESHOLD).
    /// Process-wide, like the setting it mirrors.
    /// </summary>
    public static long PackedThreshold = 1L << 30;

    private Node? _head, _tail;
    private long _count;
    private int _nodeCount;
    // The buffers' total length, kept as nodes come, go and are resized: MEMORY USAGE and the memory
    // accounting (which measures a value after every command that touched it) must not walk the chain.
    private long _bufferBytes;
    private readonly int _fill;

    public ListObject(byte[] key, int fill = DefaultFill) : base(key)
    {
        // Redis clamps the fill the same way when a list is created.
        _fill = Math.Clamp(fill, -5, 1 << 15);
    }

    public override RedisType Type => RedisType.List;

    /// <summary>Redis 7.0 stores every list as a quicklist, whatever its size.</summary>
    public override string Encoding => "quicklist";

    public long Count => _count;
    public int NodeCount => _nodeCount;
    public int Fill => _fill;

    /// <summary>The object, its key, and per node the node object, its array header and its buffer.</summary>
    public override long MemoryUsage => 64 + 24 + Key.Length + (long)_nodeCount * (NodeOverhead + 24) + _bufferBytes;

    private const int NodeOverhead = 56;

    public override RedisObject Clone(byte[] newKey)
    {
        var copy = new ListObject(newKey, _fill);
        for (var n = _head; n != null; n = n.Next)
        {
            var buf = new byte[Math.Max(MinNodeCapacity, n.Used)];
            n.Buf.AsSpan(n.Start, n.Used).CopyTo(buf);
            copy.LinkLast(new Node { Buf = buf, Start = 0, End = n.Used, Count = n.Count, Plain = n.Plain });
        }
        copy._count = _count;
        return copy;
    }

    // ---- reading --------------------------------------------------------------------------------

    public ReadOnlySpan<byte> First => _head is { } n ? ValueAt(n, n.Start) : default;

    public ReadOnlySpan<byte> Last => _tail is { } n ? ValueAt(n, EntryStartBefore(n.Buf, n.End)) : default;

    /// <summary>The element at <paramref name="index"/> (negative counts from the tail); false when out of range.</summary>
    public bool TryGet(long index, out ReadOnlySpan<byte> value)
    {
        if (!TrySeek(index, out var cur))
        {
            value = default;
            return false;
        }
        value = ValueAt(cur.Node!, cur.Offset);
        return true;
    }

    /// <summary>
    /// A position in the list, for walking it in either direction. Valid until the list is modified.
    /// </summary>
    public struct Cursor
    {
        internal Node? Node;
        internal int Offset;
        public readonly bool IsValid => Node != null;
    }

    /// <summary>Positions a cursor on element <paramref name="index"/> (negative counts from the tail).</summary>
    public bool TrySeek(long index, out Cursor cursor)
    {
        cursor = default;
        if (index < 0) index += _count;
        if (index < 0 || index >= _count) return false;
        Node n;
        long skipped;
        if (index < _count / 2)
        {
            n = _head!;
            skipped = 0;
            while (skipped + n.Count <= index)
            {
                skipped += n.Count;
                n = n.Next!;
            }
        }
        else
        {
            n = _tail!;
            skipped = _count - n.Count;
            while (skipped > index)
            {
                n = n.Prev!;
                skipped -= n.Count;
            }
        }
        int within = (int)(index - skipped);
        int off;
        if (within <= n.Count / 2)
        {
            off = n.Start;
            for (int i = 0; i < within; i++) off = NextEntry(n.Buf, off);
        }
        else
        {
            off = n.End;
            for (int i = n.Count; i > within; i--) off = EntryStartBefore(n.Buf, off);
        }
        cursor.Node = n;
        cursor.Offset = off;
        return true;
    }

    public static ReadOnlySpan<byte> Current(in Cursor cursor) => ValueAt(cursor.Node!, cursor.Offset);

    /// <summary>Moves toward the tail; false (and invalid) past the last element.</summary>
    public static bool MoveNext(ref Cursor cursor)
    {
        var n = cursor.Node;
        if (n is null) return false;
        int next = NextEntry(n.Buf, cursor.Offset);
        if (next < n.End)
        {
            cursor.Offset = next;
            return true;
        }
        cursor.Node = n.Next;
        cursor.Offset = n.Next?.Start ?? 0;
        return cursor.Node != null;
    }

    /// <summary>Moves toward the head; false (and invalid) before the first element.</summary>
    public static bool MovePrev(ref Cursor cursor)
    {
        var n = cursor.Node;
        if (n is null) return false;
        if (cursor.Offset > n.Start)
        {
            cursor.Offset = EntryStartBefore(n.Buf, cursor.Offset);
            return true;
        }
        var p = n.Prev;
        cursor.Node = p;
        cursor.Offset = p is null ? 0 : EntryStartBefore(p.Buf, p.End);
        return p != null;
    }

    /// <summary>The first position from the head (or from the tail) holding <paramref name="value"/>; invalid when absent.</summary>
    public Cursor Find(ReadOnlySpan<byte> value, bool fromTail)
    {
        Cursor cur = default;
        if (_count == 0) return cur;
        if (fromTail)
        {
            cur.Node = _tail;
            cur.Offset = EntryStartBefore(_tail!.Buf, _tail.End);
            do { if (Current(cur).SequenceEqual(value)) return cur; } while (MovePrev(ref cur));
        }
        else
        {
            cur.Node = _head;
            cur.Offset = _head!.Start;
            do { if (Current(cur).SequenceEqual(value)) return cur; } while (MoveNext(ref cur));
        }
        return default;
    }

    // ---- pushing and popping at the ends ---------------------------------------------------------

    public void PushHead(ReadOnlySpan<byte> value)
    {
        int size = EntrySize(value.Length);
        var n = _head;
        if (n is null || !AllowInsert(n, size, value.Length))
        {
            n = NewNode(size, value.Length, towardTail: false);
            LinkFirst(n);
        }
        InsertInto(n, n.Start, value, size);
    }

    public void PushTail(ReadOnlySpan<byte> value)
    {
        int size = EntrySize(value.Length);
        var n = _tail;
        if (n is null || !AllowInsert(n, size, value.Length))
        {
            n = NewNode(size, value.Length, towardTail: true);
            LinkLast(n);
        }
        InsertInto(n, n.End, value, size);
    }

    public void Push(ReadOnlySpan<byte> value, bool head)
    {
        if (head) PushHead(value);
        else PushTail(value);
    }

    /// <summary>Removes and returns the first (or last) element; null when empty.</summary>
    public byte[]? Pop(bool head)
    {
        if (_count == 0) return null;
        var value = (head ? First : Last).ToArray();
        if (head) RemoveHead(1);
        else RemoveTail(1);
        return value;
    }

    /// <summary>Drops the first <paramref name="n"/> elements (all of them when n exceeds the length).</summary>
    public void RemoveHead(long n)
    {
        while (n > 0 && _head is { } node)
        {
            if (node.Count <= n)
            {
                n -= node.Count;
                _count -= node.Count;
                Unlink(node);
                continue;
            }
            int off = node.Start;
            for (long i = 0; i < n; i++) off = NextEntry(node.Buf, off);
            node.Start = off;
            node.Count -= (int)n;
            _count -= n;
            MaybeShrink(node);
            return;
        }
    }

    /// <summary>Drops the last <paramref name="n"/> elements (all of them when n exceeds the length).</summary>
    public void RemoveTail(long n)
    {
        while (n > 0 && _tail is { } node)
        {
            if (node.Count <= n)
            {
                n -= node.Count;
                _count -= node.Count;
                Unlink(node);
                continue;
            }
            int off = node.End;
            for (long i = 0; i < n; i++) off = EntryStartBefore(node.Buf, off);
            node.End = off;
            node.Count -= (int)n;
            _count -= n;
            MaybeShrink(node);
            return;
        }
    }

    // ---- edits in the middle ---------------------------------------------------------------------

    /// <summary>Replaces the element at <paramref name="index"/> (LSET); false when out of range.</summary>
    public bool Set(long index, ReadOnlySpan<byte> value)
    {
        if (!TrySeek(index, out var cur)) return false;
        var n = cur.Node!;
        int oldSize = EntrySizeAt(n.Buf, cur.Offset);
        int size = EntrySize(value.Length);
        if (IsLarge(value.Length) || n.Plain)
        {
            // A large element lives alone, and a plain node takes no neighbours: the new value gets a
            // node of its own right after the old one's place.
            SplitAfter(n, cur.Offset + oldSize);
            var fresh = NewNode(size, value.Length, towardTail: true);
            LinkAfter(n, fresh);
            InsertInto(fresh, fresh.Start, value, size);
            RemoveEntry(n, cur.Offset, oldSize);
            return true;
        }
        int at = cur.Offset;
        if (size > oldSize) at = MakeRoom(n, at + oldSize, size - oldSize) - oldSize;
        else if (size < oldSize) at += CloseGap(n, at + size, oldSize - size);
        WriteEntry(n.Buf, at, value);
        SplitIfOversized(n);
        return true;
    }

    /// <summary>Inserts <paramref name="value"/> before or after the element at <paramref name="pivot"/> (LINSERT).</summary>
    public void InsertAt(in Cursor pivot, ReadOnlySpan<byte> value, bool after)
    {
        var n = pivot.Node!;
        int at = after ? NextEntry(n.Buf, pivot.Offset) : pivot.Offset;
        int size = EntrySize(value.Length);
        if (IsLarge(value.Length) || n.Plain)
        {
            // Goes into a neighbour with room at the touching end, else into a node of its own.
            if (at == n.End && n.Next is { } next && AllowInsert(next, size, value.Length))
            {
                InsertInto(next, next.Start, value, size);
                return;
            }
            if (at == n.Start && n.Prev is { } prev && AllowInsert(prev, size, value.Length))
            {
                InsertInto(prev, prev.End, value, size);
                return;
            }
            var fresh = NewNode(size, value.Length, towardTail: at != n.Start);
            if (at == n.Start) LinkBefore(n, fresh);
            else
            {
                SplitAfter(n, at);
                LinkAfter(n, fresh);
            }
            InsertInto(fresh, fresh.Start, value, size);
            return;
        }
        InsertInto(n, at, value, size);
        SplitIfOversized(n);
    }

    /// <summary>
    /// Removes up to <paramref name="max"/> elements equal to <paramref name="value"/> (0 = all), scanning
    /// from the head or from the tail (LREM). Returns how many were removed.
    /// </summary>
    public long RemoveMatching(ReadOnlySpan<byte> value, long max, bool fromTail)
    {
        long removed = 0;
        var n = fromTail ? _tail : _head;
        while (n != null && (max == 0 || removed < max))
        {
            var following = fromTail ? n.Prev : n.Next;
            removed += fromTail ? CompactBackward(n, value, max == 0 ? long.MaxValue : max - removed)
                                : CompactForward(n, value, max == 0 ? long.MaxValue : max - removed);
            if (n.Count == 0) Unlink(n);
            else MaybeShrink(n);
            n = following;
        }
        _count -= removed;
        return removed;
    }

    // Keeps the node's entries that do not match, moving them toward the head; returns how many went.
    private static long CompactForward(Node n, ReadOnlySpan<byte> value, long limit)
    {
        var buf = n.Buf;
        int read = n.Start, write = n.Start;
        long removed = 0;
        while (read < n.End)
        {
            int next = NextEntry(buf, read);
            if (removed < limit && ValueAt(n, read).SequenceEqual(value)) removed++;
            else
            {
                if (write != read) buf.AsSpan(read, next - read).CopyTo(buf.AsSpan(write));
                write += next - read;
            }
            read = next;
        }
        n.End = write;
        n.Count -= (int)removed;
        return removed;
    }

    // The same from the node's end toward its start, so the matches nearest the tail go first.
    private static long CompactBackward(Node n, ReadOnlySpan<byte> value, long limit)
    {
        var buf = n.Buf;
        int read = n.End, write = n.End;
        long removed = 0;
        while (read > n.Start)
        {
            int start = EntryStartBefore(buf, read);
            if (removed < limit && ValueAt(n, start).SequenceEqual(value)) removed++;
            else
            {
                int len = read - start;
                write -= len;
                if (write != start) buf.AsSpan(start, len).CopyTo(buf.AsSpan(write));
            }
            read = start;
        }
        n.Start = write;
        n.Count -= (int)removed;
        return removed;
    }
}
