using System.Buffers.Binary;

namespace Redoubt.Server.Storage;

/// <summary>
/// The compact encoding of a small sorted set (Redis's listpack): every (member, score) pair packed in
/// order into one byte array. An entry is
/// <c>[member length: varint][member][score][back length]</c>; the score is a varint of the zig-zagged
/// integer shifted left once when it is a small integer (the common case, one or two bytes), else a
/// 0x01 marker and the 8 bytes of the double. The back length, the entry's size written as a varint
/// read from its end, lets iteration walk backwards as a listpack's does. Positions are byte offsets
/// of entries; every search is linear, which is what keeps it small and is cheap at this size.
/// </summary>
public sealed class ZSetListpack
{
    private byte[] _buf;
    private int _used;
    private int _count;

    public ZSetListpack(int capacity = 32) => _buf = new byte[Math.Max(capacity, 16)];

    private ZSetListpack(byte[] buf, int used, int count)
    {
        _buf = buf;
        _used = used;
        _count = count;
    }

    public int Count => _count;

    /// <summary>Bytes in use (MEMORY USAGE, the listpack size bound).</summary>
    public int UsedBytes => _used;
    public int AllocatedBytes => _buf.Length;

    /// <summary>Bytes held: this object (header, buffer reference, two counts) and its buffer array.</summary>
    public long MemoryUsage => 32 + 24 + ((_buf.Length + 7L) & ~7L);

    public ZSetListpack Clone() => new(_buf.AsSpan(0, Math.Max(_used, 16)).ToArray(), _used, _count);

    // ---- entry layout ------------------------------------------------------------------

    private const long MaxSmallScore = 1L << 52;

    private static int VarintSize(ulong v)
    {
        int n = 1;
        while (v >= 0x80) { v >>= 7; n++; }
        return n;
    }

    private static int WriteVarint(Span<byte> d, ulong v)
    {
        int n = 0;
        while (v >= 0x80)
        {
            d[n++] = (byte)(v | 0x80);
            v >>= 7;
        }
        d[n++] = (byte)v;
        return n;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> s, ref int p)
    {
        ulong v = 0;
        int shift = 0;
        while (true)
        {
            byte b = s[p++];
            v |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return v;
            shift += 7;
        }
    }

    /// <summary>
    /// True for scores kept as a small integer varint. -0 qualifies and reads back as 0: Redis's listpack
    /// stores integral scores as integers too, so a small set does not keep the sign of zero.
    /// </summary>
    private static bool IsSmallInteger(double score, out long value)
    {
        value = 0;
        if (!(score > -MaxSmallScore && score < MaxSmallScore) || score != Math.Floor(score)) return false;
        value = (long)score;
        return true;
    }

    private static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));
    private static long UnZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    private static int ScoreSize(double score)
        => IsSmallInteger(score, out long v) ? VarintSize(ZigZag(v) << 1) : 9;

    private static int WriteScore(Span<byte> d, double score)
    {
        if (IsSmallInteger(score, out long v)) return WriteVarint(d, ZigZag(v) << 1);
        d[0] = 0x01;
        BinaryPrimitives.WriteDoubleLittleEndian(d[1..], score);
        return 9;
    }

    /// <summary>Size of the back-length field for an entry body of <paramref name="len"/> bytes.</summary>
    private static int BackLenSize(int len) => VarintSize((ulong)len);

    /// <summary>Writes the back length so that reading from its last byte backwards recovers <paramref name="len"/>.</summary>
    private static void WriteBackLen(Span<byte> d, int len)
    {
        int n = BackLenSize(len);
        ulong v = (ulong)len;
        for (int i = n - 1; i >= 0; i--)
        {
            byte group = (byte)(v & 0x7F);
            v >>= 7;
            // The continuation bit marks "more groups to the left", i.e. on every byte but the first.
            d[i] = i > 0 ? (byte)(group | 0x80) : group;
        }
    }

    private static int ReadBackLen(ReadOnlySpan<byte> s, int end, out int size)
    {
        int p = end - 1;
        byte b = s[p];
        long v = b & 0x7F;
        int shift = 7;
        while ((b & 0x80) != 0)
        {
            b = s[--p];
            v |= (long)(b & 0x7F) << shift;
            shift += 7;
        }
        size = end - p;
        return (int)v;
    }

    private static int EntrySize(ReadOnlySpan<byte> member, double score)
    {
        int body = VarintSize((ulong)member.Length) + member.Length + ScoreSize(score);
        return body + BackLenSize(body);
    }

    // ---- navigation ------------------------------------------------------------------

    public int First() => _count > 0 ? 0 : -1;

    public int Last() => _count > 0 ? Prev(_used) : -1;

    /// <summary>The position after the entry at <paramref name="pos"/>, or -1 at the end.</summary>
    public int Next(int pos)
    {
        int end = EntryEnd(pos);
        return end < _used ? end : -1;
    }

    /// <summary>The position before the entry at <paramref name="pos"/> (or before the end when pos is the used length), or -1.</summary>
    public int Prev(int pos)
    {
        if (pos <= 0) return -1;
        int body = ReadBackLen(_buf, pos, out int size);
        return pos - size - body;
    }

    private int EntryEnd(int pos)
    {
        int p = pos;
        int len = (int)ReadVarint(_buf, ref p);
        p += len;
        p += ScoreBytesAt(p);
        int body = p - pos;
        return p + BackLenSize(body);
    }

    private int ScoreBytesAt(int p)
    {
        if ((_buf[p] & 1) != 0) return 9;
        int q = p;
        ReadVarint(_buf, ref q);
        return q - p;
    }

    public ReadOnlySpan<byte> MemberAt(int pos)
    {
        int p = pos;
        int len = (int)ReadVarint(_buf, ref p);
        return new ReadOnlySpan<byte>(_buf, p, len);
    }

    public double ScoreAt(int pos)
    {
        int p = pos;
        int len = (int)ReadVarint(_buf, ref p);
        return ReadScore(p + len);
    }

    /// <summary>Member and score of one entry in a single pass.</summary>
    public ReadOnlySpan<byte> EntryAt(int pos, out double score)
    {
        int p = pos;
        int len = (int)ReadVarint(_buf, ref p);
        score = ReadScore(p + len);
        return new ReadOnlySpan<byte>(_buf, p, len);
    }

    private double ReadScore(int p)
    {
        if ((_buf[p] & 1) != 0) return BinaryPrimitives.ReadDoubleLittleEndian(_buf.AsSpan(p + 1, 8));
        return UnZigZag(ReadVarint(_buf, ref p) >> 1);
    }

    /// <summary>The entry at 0-based <paramref name="rank"/> counted from the head (or the tail when <paramref name="fromTail"/>).</summary>
    public int AtRank(long rank, bool fromTail = false)
    {
        if (rank < 0 || rank >= _count) return -1;
        if (fromTail || rank > _count / 2)
        {
            long back = fromTail ? rank : _count - 1 - rank;
            int p = Last();
            while (back-- > 0) p = Prev(p);
            return p;
        }
        int q = 0;
        while (rank-- > 0) q = EntryEnd(q);
        return q;
    }

    /// <summary>Position of <paramref name="member"/> with its score, or -1.</summary>
    public int Find(ReadOnlySpan<byte> member, out double score)
    {
        score = 0;
        int p = 0;
        while (p < _used)
        {
            int q = p;
            int len = (int)ReadVarint(_buf, ref q);
            if (len == member.Length && _buf.AsSpan(q, len).SequenceEqual(member))
            {
                score = ReadScore(q + len);
                return p;
            }
            p = EntryEnd(p);
        }
        return -1;
    }

    /// <summary>0-based rank of <paramref name="member"/> from the head, or -1.</summary>
    public long RankOf(ReadOnlySpan<byte> member)
    {
        long rank = 0;
        for (int p = First(); p >= 0; p = Next(p), rank++)
            if (MemberAt(p).SequenceEqual(member)) return rank;
        return -1;
    }

    // ---- modification --------------------------------------------------------------

    /// <summary>Inserts a member known to be absent at its place in (score, member) order.</summary>
    public void Insert(ReadOnlySpan<byte> member, double score)
    {
        int p = 0;
        while (p < _used)
        {
            var m = EntryAt(p, out double s);
            if (s > score || (s == score && m.SequenceCompareTo(member) > 0)) break;
            p = EntryEnd(p);
        }
        InsertAt(p, member, score);
    }

    /// <summary>Appends an entry that sorts after every present one (building from ordered input).</summary>
    public void Append(ReadOnlySpan<byte> member, double score) => InsertAt(_used, member, score);

    private void InsertAt(int pos, ReadOnlySpan<byte> member, double score)
    {
        int size = EntrySize(member, score);
        if (_buf.Length - _used < size)
        {
            long want = Math.Max((long)_buf.Length * 2, (long)_used + size);
            var grown = new byte[Math.Min(want, Array.MaxLength)];
            _buf.AsSpan(0, pos).CopyTo(grown);
            _buf.AsSpan(pos, _used - pos).CopyTo(grown.AsSpan(pos + size));
            _buf = grown;
        }
        else if (pos < _used)
        {
            _buf.AsSpan(pos, _used - pos).CopyTo(_buf.AsSpan(pos + size));
        }
        var d = _buf.AsSpan(pos, size);
        int n = WriteVarint(d, (ulong)member.Length);
        member.CopyTo(d[n..]);
        n += member.Length;
        n += WriteScore(d[n..], score);
        WriteBackLen(d[n..], n);
        _used += size;
        _count++;
    }

    /// <summary>Removes the entry at <paramref name="pos"/>.</summary>
    public void DeleteAt(int pos) => DeleteSpan(pos, EntryEnd(pos), 1);

    /// <summary>Removes <paramref name="entries"/> consecutive entries from <paramref name="start"/> up to byte <paramref name="end"/>.</summary>
    private void DeleteSpan(int start, int end, int entries)
    {
        _buf.AsSpan(end, _used - end).CopyTo(_buf.AsSpan(start));
        _used -= end - start;
        _count -= entries;
        // Give memory back once the set has shrunk well below its buffer.
        if (_buf.Length > 256 && _used < _buf.Length / 4)
            Array.Resize(ref _buf, Math.Max(_used * 2, 64));
    }

    /// <summary>Removes the entries of 0-based ranks <paramref name="start"/>..<paramref name="end"/> (inclusive, in range).</summary>
    public long DeleteRangeByRank(long start, long end)
    {
        int from = AtRank(start);
        int to = from;
        for (long i = start; i <= end; i++) to = EntryEnd(to);
        int n = (int)(end - start + 1);
        DeleteSpan(from, to, n);
        return n;
    }

    public long DeleteRangeByScore(in ScoreRange range)
    {
        int from = FirstInRange(range);
        if (from < 0) return 0;
        int to = from, n = 0;
        while (to < _used && range.LteMax(ScoreAt(to)))
        {
            to = EntryEnd(to);
            n++;
        }
        DeleteSpan(from, to, n);
        return n;
    }

    public long DeleteRangeByLex(in LexRange range)
    {
        int from = FirstInLexRange(range);
        if (from < 0) return 0;
        int to = from, n = 0;
        while (to < _used && range.LteMax(MemberAt(to)))
        {
            to = EntryEnd(to);
            n++;
        }
        DeleteSpan(from, to, n);
        return n;
    }

    // ---- range searches (linear, from the matching end, as a listpack is walked) ----------

    private bool IsInRange(in ScoreRange range)
    {
        if (_count == 0 || !range.CanMatch) return false;
        return range.GteMin(ScoreAt(Last())) && range.LteMax(ScoreAt(0));
    }

    public int FirstInRange(in ScoreRange range)
    {
        if (!IsInRange(range)) return -1;
        for (int p = 0; p >= 0; p = Next(p))
        {
            double s = ScoreAt(p);
            if (range.GteMin(s)) return range.LteMax(s) ? p : -1;
        }
        return -1;
    }

    public int LastInRange(in ScoreRange range)
    {
        if (!IsInRange(range)) return -1;
        for (int p = Last(); p >= 0; p = Prev(p))
        {
            double s = ScoreAt(p);
            if (range.LteMax(s)) return range.GteMin(s) ? p : -1;
        }
        return -1;
    }

    private bool IsInLexRange(in LexRange range)
    {
        if (_count == 0 || !range.CanMatch) return false;
        return range.GteMin(MemberAt(Last())) && range.LteMax(MemberAt(0));
    }

    public int FirstInLexRange(in LexRange range)
    {
        if (!IsInLexRange(range)) return -1;
        for (int p = 0; p >= 0; p = Next(p))
        {
            var m = MemberAt(p);
            if (range.GteMin(m)) return range.LteMax(m) ? p : -1;
        }
        return -1;
    }

    public int LastInLexRange(in LexRange range)
    {
        if (!IsInLexRange(range)) return -1;
        for (int p = Last(); p >= 0; p = Prev(p))
        {
            var m = MemberAt(p);
            if (range.LteMax(m)) return range.GteMin(m) ? p : -1;
        }
        return -1;
    }
}
