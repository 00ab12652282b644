using System.Runtime.CompilerServices;

namespace Redoubt.Server.Storage;

/// <summary>
/// The large encoding of a sorted set: a skiplist ordered by (score, member bytes) whose links carry
/// spans, so rank lookups and rank ranges are O(log n), plus a member -> node dictionary for O(1)
/// score lookups. Levels follow Redis's zskiplist: each level is kept with probability 1/4, at most 32.
///
/// Nodes live in one array of structs and are named by index (0 is the header, -1 is "none"); each
/// node's forward links and spans live in a block of a shared int array sized for its level. This
/// keeps a node at about 50 bytes plus its member, and a node keeps its index while it is in the set
/// (score updates included), which is what ZSCAN's cursor walks.
///
/// A block also holds a copy of its node's score, and each forward link the block of the node it
/// points to, so a search hops from block to block and compares scores without touching the node
/// array: one cache miss per hop on a large set, as Redis's nodes (which hold their score and levels
/// together), instead of two (measured: ZADD into a 1M-member set at 0.5x redis-server before).
/// </summary>
public sealed class ZSkipList
{
    public const int MaxLevel = 32;

    private struct Node
    {
        public byte[]? Member;   // null: the slot is free
        public double Score;
        public int Backward;     // previous node, -1 for the first; next free slot while free
        public int Links;        // start of the link block: [level][score (2 ints)] then per level [forward][forward's block][span]
    }

    private const int Header = 0;

    private Node[] _nodes;
    private int _highWater;           // slots [0, _highWater) have been handed out
    private int _freeNode = -1;
    private int[] _links;
    private int _linksUsed;
    private readonly int[] _freeLinks = new int[MaxLevel + 1];
    private int _level = 1;
    private int _length;
    private int _tail = -1;
    private long _memberBytes;
    private Dictionary<byte[], int> _dict;
    private Dictionary<byte[], int>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    public ZSkipList(int capacity = 0)
    {
        capacity = Math.Max(capacity + 1, 16);
        _nodes = new Node[capacity];
        _links = new int[Math.Max(64, capacity * 7)];
        Array.Fill(_freeLinks, -1);
        _dict = new Dictionary<byte[], int>(capacity, ByteArrayComparer.Instance);
        _lookup = _dict.GetAlternateLookup<ReadOnlySpan<byte>>();
        _highWater = 1;
        _nodes[Header].Links = AllocLinks(MaxLevel);
        _nodes[Header].Backward = -1;
    }

    public int Count => _length;
    public int Level => _level;

    /// <summary>Slots handed out so far (ZSCAN's cursor space).</summary>
    public int SlotLimit => _highWater;

    // ---- link blocks ---------------------------------------------------------------

    private int AllocLinks(int level)
    {
        int block = _freeLinks[level];
        if (block >= 0)
        {
            _freeLinks[level] = _links[block + 1];
        }
        else
        {
            int need = BlockHeader + LinkStride * level;
            if (_links.Length - _linksUsed < need)
                Array.Resize(ref _links, Math.Max(_links.Length * 2, _linksUsed + need));
            block = _linksUsed;
            _linksUsed += need;
        }
        _links[block] = level;
        for (int i = 0; i < level; i++)
        {
            int e = block + BlockHeader + LinkStride * i;
            _links[e] = -1;
            _links[e + 1] = -1;
            _links[e + 2] = 0;
        }
        return block;
    }

    private void FreeLinks(int block)
    {
        int level = _links[block];
        _links[block + 1] = _freeLinks[level];
        _freeLinks[level] = block;
    }

    // Block layout: [level][score, 2 ints], then per level [forward node][its block][span].
    private const int BlockHeader = 3;
    private const int LinkStride = 3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Forward(int node, int level) => _links[_nodes[node].Links + BlockHeader + LinkStride * level];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref int Span(int node, int level) => ref _links[_nodes[node].Links + BlockHeader + LinkStride * level + 2];

    /// <summary>Points <paramref name="node"/>'s link on <paramref name="level"/> at <paramref name="target"/> (a node with its block, or -1).</summary>
    private void SetForward(int node, int level, int target)
    {
        int e = _nodes[node].Links + BlockHeader + LinkStride * level;
        _links[e] = target;
        _links[e + 1] = target < 0 ? -1 : _nodes[target].Links;
    }

    /// <summary>Gives <paramref name="node"/>'s link on <paramref name="level"/> the target of <paramref name="from"/>'s.</summary>
    private void CopyForward(int node, int from, int level)
    {
        int e = _nodes[node].Links + BlockHeader + LinkStride * level;
        int f = _nodes[from].Links + BlockHeader + LinkStride * level;
        _links[e] = _links[f];
        _links[e + 1] = _links[f + 1];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref double BlockScore(int block) => ref Unsafe.As<int, double>(ref _links[block + 1]);

    /// <summary>
    /// Fills <paramref name="update"/> with the last node before (score, member) on each level, and
    /// <paramref name="rank"/> (when not empty) with the rank of each; hops by blocks (see the remarks).
    /// </summary>
    private void Search(double score, ReadOnlySpan<byte> member, Span<int> update, Span<long> rank)
    {
        int cur = Header, curBlock = _nodes[Header].Links;
        bool ranks = !rank.IsEmpty;
        for (int i = _level - 1; i >= 0; i--)
        {
            long r = ranks && i != _level - 1 ? rank[i + 1] : 0;
            while (true)
            {
                int e = curBlock + BlockHeader + LinkStride * i;
                int nextBlock = _links[e + 1];
                if (nextBlock < 0) break;
                double s = BlockScore(nextBlock);
                int next = _links[e];
                if (!(s < score || (s == score && _nodes[next].Member.AsSpan().SequenceCompareTo(member) < 0))) break;
                r += _links[e + 2];
                cur = next;
                curBlock = nextBlock;
            }
            if (ranks) rank[i] = r;
            update[i] = cur;
        }
    }

    private int NodeLevel(int node) => _links[_nodes[node].Links];

    private static int RandomLevel()
    {
        int level = 1;
        while (level < MaxLevel && (Random.Shared.Next() & 0xFFFF) < 0x4000) level++;
        return level;
    }

    private int AllocNode()
    {
        int n = _freeNode;
        if (n >= 0)
        {
            _freeNode = _nodes[n].Backward;
            return n;
        }
        if (_highWater == _nodes.Length) Array.Resize(ref _nodes, _nodes.Length * 2);
        return _highWater++;
    }

    // ---- ordering ------------------------------------------------------------------

    /// <summary>True when node <paramref name="n"/> sorts before (score, member).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Before(int n, double score, ReadOnlySpan<byte> member)
    {
        double s = _nodes[n].Score;
        return s < score || (s == score && _nodes[n].Member.AsSpan().SequenceCompareTo(member) < 0);
    }

    // ---- element access --------------------------------------------------------------

    public ReadOnlySpan<byte> MemberAt(int node) => _nodes[node].Member;
    public double ScoreAt(int node) => _nodes[node].Score;
    public int First() => Forward(Header, 0);
    public int Last() => _tail;
    public int Next(int node) => Forward(node, 0);
    public int Prev(int node) => _nodes[node].Backward;

    /// <summary>True when slot <paramref name="slot"/> holds an element (ZSCAN).</summary>
    public bool IsLive(int slot) => slot > Header && slot < _highWater && _nodes[slot].Member != null;

    public int Find(ReadOnlySpan<byte> member) => _lookup.TryGetValue(member, out int n) ? n : -1;

    public bool TryGetScore(ReadOnlySpan<byte> member, out double score)
    {
        if (_lookup.TryGetValue(member, out int n))
        {
            score = _nodes[n].Score;
            return true;
        }
        score = 0;
        return false;
    }

    // ---- insertion and deletion ------------------------------------------------------

    /// <summary>Adds a member known to be absent; the array is kept (not copied). Returns its node.</summary>
    public int Insert(double score, byte[] member)
    {
        int n = AllocNode();
        _nodes[n].Member = member;
        _nodes[n].Score = score;
        Link(n, score, member);
        _dict.Add(member, n);
        _memberBytes += MemberArrayBytes(member);
        return n;
    }

    /// <summary>Threads node <paramref name="x"/> (with its score set) into the levels at its place.</summary>
    private void Link(int x, double score, ReadOnlySpan<byte> member)
    {
        Span<int> update = stackalloc int[MaxLevel];
        Span<long> rank = stackalloc long[MaxLevel];
        Search(score, member, update, rank);
        int level = RandomLevel();
        if (level > _level)
        {
            for (int i = _level; i < level; i++)
            {
                rank[i] = 0;
                update[i] = Header;
                Span(Header, i) = _length;
            }
            _level = level;
        }
        int block = AllocLinks(level);
        _nodes[x].Links = block;
        BlockScore(block) = score;
        for (int i = 0; i < level; i++)
        {
            int u = update[i];
            CopyForward(x, u, i);
            SetForward(u, i, x);
            // The new node takes over the part of u's span that lies after it.
            Span(x, i) = Span(u, i) - (int)(rank[0] - rank[i]);
            Span(u, i) = (int)(rank[0] - rank[i]) + 1;
        }
        for (int i = level; i < _level; i++) Span(update[i], i)++;
        _nodes[x].Backward = update[0] == Header ? -1 : update[0];
        int next = Forward(x, 0);
        if (next >= 0) _nodes[next].Backward = x;
        else _tail = x;
        _length++;
    }

    /// <summary>Unlinks node <paramref name="x"/> given the last node before it on every level.</summary>
    private void Unlink(int x, ReadOnlySpan<int> update)
    {
        for (int i = 0; i < _level; i++)
        {
            int u = update[i];
            if (Forward(u, i) == x)
            {
                Span(u, i) += Span(x, i) - 1;
                CopyForward(u, x, i);
            }
            else
            {
                Span(u, i) -= 1;
            }
        }
        int next = Forward(x, 0);
        if (next >= 0) _nodes[next].Backward = _nodes[x].Backward;
        else _tail = _nodes[x].Backward;
        while (_level > 1 && Forward(Header, _level - 1) < 0) _level--;
        _length--;
        FreeLinks(_nodes[x].Links);
    }

    private void ReleaseNode(int x)
    {
        _memberBytes -= MemberArrayBytes(_nodes[x].Member!);
        _nodes[x].Member = null;
        _nodes[x].Backward = _freeNode;
        _freeNode = x;
    }

    /// <summary>Fills <paramref name="update"/> with the last node before (score, member) on each level.</summary>
    private int Seek(double score, ReadOnlySpan<byte> member, Span<int> update)
    {
        Search(score, member, update, default);
        return Forward(update[0], 0);
    }

    /// <summary>Removes <paramref name="member"/>; false when absent.</summary>
    public bool Delete(ReadOnlySpan<byte> member)
    {
        if (!_lookup.Remove(member, out _, out int x)) return false;
        Span<int> update = stackalloc int[MaxLevel];
        int found = Seek(_nodes[x].Score, member, update);
        System.Diagnostics.Debug.Assert(found == x);
        Unlink(x, update);
        ReleaseNode(x);
        MaybeShrink();
        return true;
    }

    /// <summary>
    /// Changes a member's score. When the node stays between its neighbours only the score changes;
    /// otherwise it is re-threaded at its new place, keeping its node index.
    /// </summary>
    public void UpdateScore(int x, double newScore)
    {
        int back = _nodes[x].Backward, next = Forward(x, 0);
        if ((back < 0 || _nodes[back].Score < newScore) && (next < 0 || _nodes[next].Score > newScore))
        {
            _nodes[x].Score = newScore;
            BlockScore(_nodes[x].Links) = newScore;
            return;
        }
        var member = _nodes[x].Member!;
        Span<int> update = stackalloc int[MaxLevel];
        Seek(_nodes[x].Score, member, update);
        Unlink(x, update);
        _nodes[x].Score = newScore;
        Link(x, newScore, member);
    }

    // ---- ranks ---------------------------------------------------------------------

    /// <summary>1-based rank of (score, member), or 0 when not present.</summary>
    public long GetRank(double score, ReadOnlySpan<byte> member)
    {
        long rank = 0;
        int cur = Header;
        for (int i = _level - 1; i >= 0; i--)
        {
            int fwd;
            while ((fwd = Forward(cur, i)) >= 0 &&
                   (_nodes[fwd].Score < score || (_nodes[fwd].Score == score && _nodes[fwd].Member.AsSpan().SequenceCompareTo(member) <= 0)))
            {
                rank += Span(cur, i);
                cur = fwd;
            }
            if (cur != Header && _nodes[cur].Score == score && _nodes[cur].Member.AsSpan().SequenceEqual(member)) return rank;
        }
        return 0;
    }

    /// <summary>The node at 1-based <paramref name="rank"/>, or -1.</summary>
    public int GetByRank(long rank)
    {
        long traversed = 0;
        int cur = Header;
        for (int i = _level - 1; i >= 0; i--)
        {
            int fwd;
            while ((fwd = Forward(cur, i)) >= 0 && traversed + Span(cur, i) <= rank)
            {
                traversed += Span(cur, i);
                cur = fwd;
            }
            if (traversed == rank) return cur == Header ? -1 : cur;
        }
        return -1;
    }

    // ---- score and lex ranges ----------------------------------------------------------

    private bool IsInRange(in ScoreRange range)
    {
        if (!range.CanMatch || _tail < 0) return false;
        return range.GteMin(_nodes[_tail].Score) && range.LteMax(_nodes[First()].Score);
    }

    public int FirstInRange(in ScoreRange range)
    {
        if (!IsInRange(range)) return -1;
        int cur = Header;
        for (int i = _level - 1; i >= 0; i--)
        {
            int fwd;
            while ((fwd = Forward(cur, i)) >= 0 && !range.GteMin(_nodes[fwd].Score)) cur = fwd;
        }
        int x = Forward(cur, 0);
        return x >= 0 && range.LteMax(_nodes[x].Score) ? x : -1;
    }

    public int LastInRange(in ScoreRange range)
    {
        if (!IsInRange(range)) return -1;
        int cur = Header;
        for (int i = _level - 1; i >= 0; i--)
        {
            int fwd;
            while ((fwd = Forward(cur, i)) >= 0 && range.LteMax(_nodes[fwd].Score)) cur = fwd;
        }
        return cur != Header && range.GteMin(_nodes[cur].Score) ? cur : -1;
    }

    private bool IsInLexRange(in LexRange range)
    {
        if (!range.CanMatch || _tail < 0) return false;
        return range.GteMin(_nodes[_tail].Member) && range.LteMax(_nodes[First()].Member);
    }

    public int FirstInLexRange(in LexRange range)
    {
        if (!IsInLexRange(range)) return -1;
        int cur = Header;
        for (int i = _level - 1; i >= 0; i--)
        {
            int fwd;
            while ((fwd = Forward(cur, i)) >= 0 && !range.GteMin(_nodes[fwd].Member)) cur = fwd;
        }
        int x = Forward(cur, 0);
        return x >= 0 && range.LteMax(_nodes[x].Member) ? x : -1;
    }

    public int LastInLexRange(in LexRange range)
    {
        if (!IsInLexRange(range)) return -1;
        int cur = Header;
        for (int i = _level - 1; i >= 0; i--)
        {
            int fwd;
            while ((fwd = Forward(cur, i)) >= 0 && range.LteMax(_nodes[fwd].Member)) cur = fwd;
        }
        return cur != Header && range.GteMin(_nodes[cur].Member) ? cur : -1;
    }

    public long DeleteRangeByScore(in ScoreRange range)
    {
        Span<int> update = stackalloc int[MaxLevel];
        int cur = Header;
        for (int i = _level - 1; i >= 0; i--)
        {
            int fwd;
            while ((fwd = Forward(cur, i)) >= 0 && !range.GteMin(_nodes[fwd].Score)) cur = fwd;
            update[i] = cur;
        }
        long removed = 0;
        int x = Forward(update[0], 0);
        while (x >= 0 && range.LteMax(_nodes[x].Score))
        {
            int next = Forward(x, 0);
            Unlink(x, update);
            _dict.Remove(_nodes[x].Member!);
            ReleaseNode(x);
            removed++;
            x = next;
        }
        MaybeShrink();
        return removed;
    }

    public long DeleteRangeByLex(in LexRange range)
    {
        Span<int> update = stackalloc int[MaxLevel];
        int cur = Header;
        for (int i = _level - 1; i >= 0; i--)
        {
            int fwd;
            while ((fwd = Forward(cur, i)) >= 0 && !range.GteMin(_nodes[fwd].Member)) cur = fwd;
            update[i] = cur;
        }
        long removed = 0;
        int x = Forward(update[0], 0);
        while (x >= 0 && range.LteMax(_nodes[x].Member))
        {
            int next = Forward(x, 0);
            Unlink(x, update);
            _dict.Remove(_nodes[x].Member!);
            ReleaseNode(x);
            removed++;
            x = next;
        }
        MaybeShrink();
        return removed;
    }

    /// <summary>Removes 1-based ranks <paramref name="start"/>..<paramref name="end"/> inclusive.</summary>
    public long DeleteRangeByRank(long start, long end)
    {
        Span<int> update = stackalloc int[MaxLevel];
        long traversed = 0;
        int cur = Header;
        for (int i = _level - 1; i >= 0; i--)
        {
            int fwd;
            while ((fwd = Forward(cur, i)) >= 0 && traversed + Span(cur, i) < start)
            {
                traversed += Span(cur, i);
                cur = fwd;
            }
            update[i] = cur;
        }
        traversed++;
        long removed = 0;
        int x = Forward(cur, 0);
        while (x >= 0 && traversed <= end)
        {
            int next = Forward(x, 0);
            Unlink(x, update);
            _dict.Remove(_nodes[x].Member!);
            ReleaseNode(x);
            removed++;
            traversed++;
            x = next;
        }
        MaybeShrink();
        return removed;
    }

    // ---- memory ----------------------------------------------------------------------

    /// <summary>
    /// After large deletions, rebuilds the node and link arrays at the live size (as Redis resizes its
    /// dict). Node indices change, so a ZSCAN running across such a collapse (the set falling below an
    /// eighth of its peak) may miss elements; ordinary churn never compacts.
    /// </summary>
    private void MaybeShrink()
    {
        if (_highWater <= 1024 || (long)_length * 8 >= _highWater) return;
        var members = new byte[_length][];
        var scores = new double[_length];
        int k = 0;
        for (int n = First(); n >= 0; n = Forward(n, 0))
        {
            members[k] = _nodes[n].Member!;
            scores[k++] = _nodes[n].Score;
        }
        var fresh = new ZSkipList(_length);
        for (int i = _length - 1; i >= 0; i--) fresh.Insert(scores[i], members[i]);
        _nodes = fresh._nodes;
        _highWater = fresh._highWater;
        _freeNode = fresh._freeNode;
        _links = fresh._links;
        _linksUsed = fresh._linksUsed;
        fresh._freeLinks.CopyTo(_freeLinks, 0);
        _level = fresh._level;
        _tail = fresh._tail;
        _dict = fresh._dict;
        _lookup = fresh._lookup;
    }

    /// <summary>Approximate bytes held: node structs, link blocks, members and the dictionary.</summary>
    public long MemoryUsage
    {
        get
        {
            // This object (~96), the free-link heads, the node and link arrays at their capacity, the
            // members' arrays, and the dictionary: its object, and per slot of its capacity a 24-byte
            // entry and a 4-byte bucket.
            long arrays = 3 * 24 + (MaxLevel + 1) * 4L + (long)_nodes.Length * 24 + (long)_links.Length * 4;
            long dict = 80 + 2 * 24 + _dict.EnsureCapacity(0) * 28L;
            return 96 + arrays + _memberBytes + dict;
        }
    }

    private static long MemberArrayBytes(byte[] member) => 24 + ((member.Length + 7L) & ~7L);

    /// <summary>A copy with the same elements (COPY). Inserting from the tail keeps each insertion at the head.</summary>
    public ZSkipList Clone()
    {
        var copy = new ZSkipList(_length);
        for (int n = _tail; n >= 0; n = _nodes[n].Backward) copy.Insert(_nodes[n].Score, _nodes[n].Member.AsSpan().ToArray());
        return copy;
    }

    /// <summary>Checks every invariant (tests): order, spans, backward links, length, tail, dictionary.</summary>
    internal void Validate()
    {
        int count = 0;
        int prev = -1;
        for (int n = First(); n >= 0; n = Forward(n, 0))
        {
            if (_nodes[n].Backward != prev) throw new InvalidOperationException("backward link broken");
            if (prev >= 0 && !Before(prev, _nodes[n].Score, _nodes[n].Member)) throw new InvalidOperationException("order broken");
            if (!_dict.TryGetValue(_nodes[n].Member!, out int d) || d != n) throw new InvalidOperationException("dict mismatch");
            if (BlockScore(_nodes[n].Links).CompareTo(_nodes[n].Score) != 0) throw new InvalidOperationException("block score stale");
            prev = n;
            count++;
        }
        if (count != _length || _dict.Count != _length) throw new InvalidOperationException("length mismatch");
        if (_tail != prev) throw new InvalidOperationException("tail mismatch");
        // Each level's spans must add up to the position of the node they reach.
        for (int i = 0; i < _level; i++)
        {
            var pos = new Dictionary<int, long>();
            long p = 0;
            for (int n = First(); n >= 0; n = Forward(n, 0)) pos[n] = ++p;
            long at = 0;
            int cur = Header;
            while (Forward(cur, i) >= 0)
            {
                int f = Forward(cur, i);
                if (_links[_nodes[cur].Links + BlockHeader + LinkStride * i + 1] != _nodes[f].Links) throw new InvalidOperationException($"forward block stale at level {i}");
                at += Span(cur, i);
                if (pos[f] != at) throw new InvalidOperationException($"span broken at level {i}");
                cur = f;
            }
        }
    }
}
