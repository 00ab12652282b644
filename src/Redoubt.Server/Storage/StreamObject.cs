using System.Runtime.CompilerServices;

namespace Redoubt.Server.Storage;

/// <summary>
/// A stream (Redis's t_stream): entries ordered by ID, packed into nodes the way Redis packs them into
/// listpacks under a radix tree. Each <see cref="StreamNode"/> holds a master ID and master fields (the
/// first entry's) and a byte array of entries, each stored as deltas from the master ID with its field
/// names left out when they equal the master fields. Nodes sit in an array sorted by master ID, so
/// finding an ID is a binary search over nodes plus a scan of one node (at most stream-node-max-entries
/// entries), appending is amortized O(1), and whole nodes drop off the front when trimming.
/// Deleted entries stay in their node flagged as deleted (as in Redis) until the node empties.
/// Consumer groups live in <see cref="StreamObject"/>'s group half (StreamObject.Groups.cs).
/// </summary>
public sealed partial class StreamObject : RedisObject
{
    private StreamNode[] _nodes = [];
    private int _nodeCount;
    // Bytes held by the nodes (arrays at their capacity plus per-node overhead), kept current so that
    // MemoryUsage stays O(1).
    private long _nodeBytes;

    /// <summary>Live entries.</summary>
    public long Length;
    public StreamId LastId;
    /// <summary>The first live entry's ID (0-0 when empty), as Redis keeps it for XINFO and lag.</summary>
    public StreamId FirstId;
    public StreamId MaxDeletedId;
    public long EntriesAdded;

    public StreamObject(byte[] key) : base(key) { }

    public override RedisType Type => RedisType.Stream;
    public override string Encoding => "stream";
    public int NodeCount => _nodeCount;

    public override long MemoryUsage => 120 + _nodeBytes + GroupsMemory();

    public override RedisObject Clone(byte[] newKey)
    {
        var s = new StreamObject(newKey)
        {
            Length = Length, LastId = LastId, FirstId = FirstId, MaxDeletedId = MaxDeletedId,
            EntriesAdded = EntriesAdded, _nodeBytes = _nodeBytes, _nodeCount = _nodeCount,
            _nodes = new StreamNode[_nodes.Length],
        };
        for (int i = 0; i < _nodeCount; i++) s._nodes[i] = _nodes[i].Clone();
        CloneGroupsInto(s);
        return s;
    }

    // ---- appending -------------------------------------------------------------------------------

    /// <summary>
    /// Appends an entry with <paramref name="id"/> (greater than <see cref="LastId"/>, checked by the
    /// caller) and the field/value pairs given by <paramref name="arg"/> for indexes
    /// <paramref name="first"/>..<paramref name="first"/>+2*<paramref name="pairs"/>-1. A new node starts
    /// when the tail node reaches <paramref name="maxBytes"/> or <paramref name="maxEntries"/>
    /// (Redis's stream-node-max-bytes/-entries; 0 means no limit).
    /// </summary>
    public void Append<TSource>(StreamId id, TSource arg, int first, int pairs, long maxBytes, long maxEntries)
        where TSource : struct, IFieldSource
    {
        long total = 0;
        for (int i = 0; i < pairs * 2; i++) total += arg.Get(first + i).Length;
        var tail = _nodeCount > 0 ? _nodes[_nodeCount - 1] : null;
        if (tail != null)
        {
            if (maxBytes <= 0 || maxBytes > int.MaxValue) maxBytes = int.MaxValue;
            if (tail.Used + total >= maxBytes || (maxEntries > 0 && tail.Live + tail.Deleted >= maxEntries))
            {
                _nodeBytes -= tail.Footprint;
                tail.ShrinkToFit();
                _nodeBytes += tail.Footprint;
                tail = null;
            }
        }
        if (tail == null)
        {
            tail = StreamNode.Create(id, arg, first, pairs);
            if (_nodeCount == _nodes.Length) Array.Resize(ref _nodes, Math.Max(4, _nodes.Length * 2));
            _nodes[_nodeCount++] = tail;
            _nodeBytes += tail.Footprint + 8;
        }
        long before = tail.Footprint;
        tail.AppendEntry(id, arg, first, pairs);
        _nodeBytes += tail.Footprint - before;
        if (Length == 0) FirstId = id;
        Length++;
        LastId = id;
        EntriesAdded++;
    }

    /// <summary>Appends an entry given as arrays (building a stream from a snapshot, tests).</summary>
    public void Append(StreamId id, IReadOnlyList<byte[]> fieldsAndValues, long maxBytes, long maxEntries)
        => Append(id, new ListSource(fieldsAndValues), 0, fieldsAndValues.Count / 2, maxBytes, maxEntries);

    private readonly struct ListSource(IReadOnlyList<byte[]> items) : IFieldSource
    {
        public ReadOnlySpan<byte> Get(int i) => items[i];
    }

    // ---- cursors ---------------------------------------------------------------------------------

    /// <summary>
    /// Positions a cursor on the first live entry with ID &gt;= <paramref name="start"/>; false when none.
    /// </summary>
    public bool SeekFirst(StreamId start, out StreamCursor cur)
    {
        cur = default;
        if (_nodeCount == 0) return false;
        int n = FindNode(start);
        if (n < 0) n = 0;
        for (; n < _nodeCount; n++)
        {
            var node = _nodes[n];
            int off = node.EntriesStart;
            while (off < node.Used)
            {
                var e = node.ReadHeader(off);
                if (!e.Deleted && e.Id >= start)
                {
                    cur = new StreamCursor(n, off, e);
                    return true;
                }
                off = e.End;
            }
        }
        return false;
    }

    /// <summary>Positions a cursor on the last live entry with ID &lt;= <paramref name="end"/>; false when none.</summary>
    public bool SeekLast(StreamId end, out StreamCursor cur)
    {
        cur = default;
        if (_nodeCount == 0) return false;
        int n = FindNode(end);
        for (; n >= 0; n--)
        {
            var node = _nodes[n];
            int off = node.Used;
            while (off > node.EntriesStart)
            {
                off = node.PreviousEntry(off);
                var e = node.ReadHeader(off);
                if (!e.Deleted && e.Id <= end)
                {
                    cur = new StreamCursor(n, off, e);
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>Moves to the next live entry; false at the end.</summary>
    public bool MoveNext(ref StreamCursor cur)
    {
        int n = cur.Node, off = cur.Entry.End;
        for (; n < _nodeCount; n++)
        {
            var node = _nodes[n];
            if (off < 0) off = node.EntriesStart;
            while (off < node.Used)
            {
                var e = node.ReadHeader(off);
                if (!e.Deleted)
                {
                    cur = new StreamCursor(n, off, e);
                    return true;
                }
                off = e.End;
            }
            off = -1;
        }
        return false;
    }

    /// <summary>Moves to the previous live entry; false at the start.</summary>
    public bool MovePrevious(ref StreamCursor cur)
    {
        int n = cur.Node, off = cur.Offset;
        for (; n >= 0; n--)
        {
            var node = _nodes[n];
            if (off < 0) off = node.Used;
            while (off > node.EntriesStart)
            {
                off = node.PreviousEntry(off);
                var e = node.ReadHeader(off);
                if (!e.Deleted)
                {
                    cur = new StreamCursor(n, off, e);
                    return true;
                }
            }
            off = -1;
        }
        return false;
    }

    /// <summary>The field/value pairs of the entry under the cursor.</summary>
    public StreamFields Fields(in StreamCursor cur) => new(_nodes[cur.Node], cur.Entry);

    /// <summary>True when a live entry with exactly this ID exists.</summary>
    public bool Contains(StreamId id) => SeekFirst(id, out var cur) && cur.Id == id;

    /// <summary>Index of the last node whose master ID is &lt;= <paramref name="id"/>, or -1.</summary>
    private int FindNode(StreamId id)
    {
        int lo = 0, hi = _nodeCount - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_nodes[mid].Master <= id) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        return found;
    }

    // ---- deleting --------------------------------------------------------------------------------

    /// <summary>Deletes the live entry with this ID (XDEL); false when there is none.</summary>
    public bool Delete(StreamId id)
    {
        if (!SeekFirst(id, out var cur) || cur.Id != id) return false;
        var node = _nodes[cur.Node];
        if (node.Live == 1) RemoveNodeAt(cur.Node);
        else node.MarkDeleted(cur.Offset);
        Length--;
        return true;
    }

    /// <summary>Recomputes <see cref="FirstId"/> after deletions (Redis's streamGetEdgeID).</summary>
    public void RefreshFirstId() => FirstId = Length > 0 && SeekFirst(StreamId.Zero, out var c) ? c.Id : StreamId.Zero;

    /// <summary>The last live entry's ID, or 0-0 when empty (Redis's streamLastValidID).</summary>
    public StreamId LastValidId() => SeekLast(StreamId.Max, out var c) ? c.Id : StreamId.Zero;

    private void RemoveNodeAt(int n)
    {
        _nodeBytes -= _nodes[n].Footprint + 8;
        Array.Copy(_nodes, n + 1, _nodes, n, _nodeCount - n - 1);
        _nodes[--_nodeCount] = null!;
        if (_nodeCount == 0) _nodes = [];
    }

    /// <summary>
    /// Redis's streamTrim: with <paramref name="maxLen"/> &gt;= 0 trims to that length, otherwise drops
    /// entries below <paramref name="minId"/>. Whole nodes go first; with <paramref name="approx"/> it
    /// stops at the first node it cannot drop whole, otherwise it flags entries inside that node.
    /// <paramref name="limit"/> (0 = none) caps the entries removed, counted by whole nodes.
    /// Returns the number of entries removed.
    /// </summary>
    public long Trim(long maxLen, StreamId minId, bool approx, long limit)
    {
        long deleted = 0;
        int drop = 0;
        while (drop < _nodeCount)
        {
            if (maxLen >= 0 && Length <= maxLen) break;
            var node = _nodes[drop];
            long entries = node.Live;
            if (limit > 0 && deleted + entries > limit) break;
            bool removeNode = maxLen >= 0 ? Length - entries >= maxLen : node.LastEntryId() < minId;
            if (removeNode)
            {
                Length -= entries;
                deleted += entries;
                drop++;
                continue;
            }
            if (approx) break;
            int off = node.EntriesStart;
            while (off < node.Used)
            {
                var e = node.ReadHeader(off);
                bool stop = maxLen >= 0 ? Length <= maxLen : e.Id >= minId;
                if (stop) break;
                if (!e.Deleted)
                {
                    node.MarkDeleted(off);
                    Length--;
                    deleted++;
                }
                off = e.End;
            }
            break;
        }
        if (drop > 0)
        {
            for (int i = 0; i < drop; i++) _nodeBytes -= _nodes[i].Footprint + 8;
            Array.Copy(_nodes, drop, _nodes, 0, _nodeCount - drop);
            Array.Clear(_nodes, _nodeCount - drop, drop);
            _nodeCount -= drop;
            if (_nodeCount == 0) _nodes = [];
        }
        if (Length == 0) FirstId = StreamId.Zero;
        else if (deleted > 0) RefreshFirstId();
        return deleted;
    }
}

/// <summary>Where appended field/value bytes come from, by index (a struct so nothing is allocated).</summary>
public interface IFieldSource
{
    ReadOnlySpan<byte> Get(int i);
}

/// <summary>A position on a live entry of a stream; valid until the stream changes.</summary>
public readonly struct StreamCursor
{
    internal readonly int Node, Offset;
    internal readonly StreamNode.EntryHeader Entry;

    internal StreamCursor(int node, int offset, StreamNode.EntryHeader entry)
    {
        Node = node;
        Offset = offset;
        Entry = entry;
    }

    public StreamId Id => Entry.Id;
    public int FieldCount => Entry.FieldCount;
}

/// <summary>Enumerates an entry's field/value pairs straight from its node's bytes.</summary>
public ref struct StreamFields
{
    private readonly StreamNode _node;
    private readonly bool _same;
    private readonly int _count;
    private int _pos, _masterPos, _index;

    internal StreamFields(StreamNode node, StreamNode.EntryHeader e)
    {
        _node = node;
        _same = e.SameFields;
        _count = e.FieldCount;
        _pos = e.FieldsStart;
        _masterPos = node.MasterFieldsStart;
        _index = 0;
        Field = Value = default;
    }

    public int Count => _count;
    public ReadOnlySpan<byte> Field { get; private set; }
    public ReadOnlySpan<byte> Value { get; private set; }

    public bool MoveNext()
    {
        if (_index == _count) return false;
        _index++;
        var buf = _node.Buf;
        if (_same) Field = StreamNode.ReadBytes(buf, ref _masterPos);
        else Field = StreamNode.ReadBytes(buf, ref _pos);
        Value = StreamNode.ReadBytes(buf, ref _pos);
        return true;
    }
}

/// <summary>
/// One packed node: [master field count][master fields...] then entries, each
/// [flags][ms delta][seq delta (zigzag)][field count unless same fields][fields/values][back length].
/// Integers are varints; the back length lets the node be walked backwards.
/// </summary>
public sealed class StreamNode
{
    private const byte FlagDeleted = 1, FlagSameFields = 2;

    public readonly StreamId Master;
    internal byte[] Buf;
    internal int Used;
    internal readonly int MasterFieldsStart, EntriesStart;
    private readonly int _masterFieldCount;
    public int Live, Deleted;

    internal static StreamNode Create<TSource>(StreamId master, TSource arg, int first, int pairs)
        where TSource : struct, IFieldSource
    {
        int size = VarSize((ulong)pairs);
        for (int i = 0; i < pairs; i++) size += BytesSize(arg.Get(first + 2 * i).Length);
        var buf = new byte[Math.Max(64, size * 4)];
        int p = WriteVar(buf, 0, (ulong)pairs);
        int fieldsStart = p;
        for (int i = 0; i < pairs; i++) p = WriteBytes(buf, p, arg.Get(first + 2 * i));
        return new StreamNode(master, buf, fieldsStart, p, pairs);
    }

    private StreamNode(StreamId master, byte[] buf, int fieldsStart, int entriesStart, int masterFields)
    {
        Master = master;
        Buf = buf;
        MasterFieldsStart = fieldsStart;
        EntriesStart = Used = entriesStart;
        _masterFieldCount = masterFields;
    }

    private StreamNode(StreamNode o)
    {
        Master = o.Master;
        Buf = o.Buf.AsSpan(0, o.Used).ToArray();
        Used = o.Used;
        MasterFieldsStart = o.MasterFieldsStart;
        EntriesStart = o.EntriesStart;
        _masterFieldCount = o._masterFieldCount;
        Live = o.Live;
        Deleted = o.Deleted;
    }

    internal StreamNode Clone() => new(this);

    /// <summary>Bytes this node holds: the object and its array at capacity.</summary>
    internal long Footprint => 48 + 24 + ((Buf.Length + 7) & ~7);

    internal void ShrinkToFit()
    {
        if (Buf.Length != Used) Buf = Buf.AsSpan(0, Used).ToArray();
    }

    internal void AppendEntry<TSource>(StreamId id, TSource arg, int first, int pairs) where TSource : struct, IFieldSource
    {
        bool same = pairs == _masterFieldCount;
        if (same)
        {
            int mp = MasterFieldsStart;
            for (int i = 0; i < pairs && same; i++)
                same = ReadBytes(Buf, ref mp).SequenceEqual(arg.Get(first + 2 * i));
        }
        ulong msDelta = id.Ms - Master.Ms;
        ulong seqZig = ZigZag((long)(id.Seq - Master.Seq));
        int size = 1 + VarSize(msDelta) + VarSize(seqZig);
        if (!same) size += VarSize((ulong)pairs);
        for (int i = 0; i < pairs; i++)
        {
            if (!same) size += BytesSize(arg.Get(first + 2 * i).Length);
            size += BytesSize(arg.Get(first + 2 * i + 1).Length);
        }
        size += VarSize((ulong)size);
        if (Used + size > Buf.Length)
        {
            int cap = Math.Max(Used + size, Buf.Length + (Buf.Length >> 1));
            Array.Resize(ref Buf, cap);
        }
        int start = Used, p = Used;
        Buf[p++] = same ? FlagSameFields : (byte)0;
        p = WriteVar(Buf, p, msDelta);
        p = WriteVar(Buf, p, seqZig);
        if (!same) p = WriteVar(Buf, p, (ulong)pairs);
        for (int i = 0; i < pairs; i++)
        {
            if (!same) p = WriteBytes(Buf, p, arg.Get(first + 2 * i));
            p = WriteBytes(Buf, p, arg.Get(first + 2 * i + 1));
        }
        p = WriteBackLength(Buf, p, p - start);
        Used = p;
        Live++;
    }

    internal readonly struct EntryHeader
    {
        public readonly StreamId Id;
        public readonly int FieldsStart, End, FieldCount;
        public readonly bool Deleted, SameFields;

        public EntryHeader(StreamId id, int fieldsStart, int end, int fieldCount, bool deleted, bool same)
        {
            Id = id;
            FieldsStart = fieldsStart;
            End = end;
            FieldCount = fieldCount;
            Deleted = deleted;
            SameFields = same;
        }
    }

    /// <summary>Decodes the entry starting at <paramref name="off"/> (its end includes the back length).</summary>
    internal EntryHeader ReadHeader(int off)
    {
        var buf = Buf;
        byte flags = buf[off];
        int p = off + 1;
        ulong msDelta = ReadVar(buf, ref p);
        long seqDelta = UnZigZag(ReadVar(buf, ref p));
        var id = new StreamId(Master.Ms + msDelta, Master.Seq + (ulong)seqDelta);
        bool same = (flags & FlagSameFields) != 0;
        int count = same ? _masterFieldCount : (int)ReadVar(buf, ref p);
        int fieldsStart = p;
        for (int i = 0; i < count; i++)
        {
            if (!same) SkipBytes(buf, ref p);
            SkipBytes(buf, ref p);
        }
        int body = p - off;
        int end = p + VarSize((ulong)body);
        return new EntryHeader(id, fieldsStart, end, count, (flags & FlagDeleted) != 0, same);
    }

    /// <summary>The offset of the entry ending at <paramref name="end"/>.</summary>
    internal int PreviousEntry(int end)
    {
        var buf = Buf;
        int p = end - 1;
        ulong v = (ulong)(buf[p] & 0x7F);
        int shift = 7;
        while ((buf[p] & 0x80) != 0)
        {
            p--;
            v |= (ulong)(buf[p] & 0x7F) << shift;
            shift += 7;
        }
        return p - (int)v;
    }

    internal void MarkDeleted(int off)
    {
        Buf[off] |= FlagDeleted;
        Live--;
        Deleted++;
    }

    /// <summary>The ID of the node's last entry, deleted or not (Redis's lpGetEdgeStreamID).</summary>
    internal StreamId LastEntryId() => ReadHeader(PreviousEntry(Used)).Id;

    // ---- encoding helpers ------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int VarSize(ulong v)
    {
        int n = 1;
        while (v >= 0x80) { v >>= 7; n++; }
        return n;
    }

    private static int BytesSize(int len) => VarSize((ulong)len) + len;

    private static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));
    private static long UnZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    private static int WriteVar(byte[] buf, int p, ulong v)
    {
        while (v >= 0x80)
        {
            buf[p++] = (byte)(v | 0x80);
            v >>= 7;
        }
        buf[p++] = (byte)v;
        return p;
    }

    /// <summary>
    /// Writes a length readable from its end: 7-bit groups, most significant first, every byte but the
    /// first flagged, so a backward reader stops at the unflagged one.
    /// </summary>
    private static int WriteBackLength(byte[] buf, int p, int len)
    {
        int n = VarSize((ulong)len);
        for (int i = n - 1; i >= 0; i--)
        {
            byte b = (byte)((len >> (7 * i)) & 0x7F);
            if (i != n - 1) b |= 0x80;
            buf[p++] = b;
        }
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ReadVar(byte[] buf, scoped ref int p)
    {
        ulong v = 0;
        int shift = 0;
        byte b;
        do
        {
            b = buf[p++];
            v |= (ulong)(b & 0x7F) << shift;
            shift += 7;
        } while (b >= 0x80);
        return v;
    }

    private static int WriteBytes(byte[] buf, int p, ReadOnlySpan<byte> s)
    {
        p = WriteVar(buf, p, (ulong)s.Length);
        s.CopyTo(buf.AsSpan(p));
        return p + s.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ReadOnlySpan<byte> ReadBytes(byte[] buf, scoped ref int p)
    {
        int len = (int)ReadVar(buf, ref p);
        var s = new ReadOnlySpan<byte>(buf, p, len);
        p += len;
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SkipBytes(byte[] buf, ref int p)
    {
        int len = (int)ReadVar(buf, ref p);
        p += len;
    }
}
