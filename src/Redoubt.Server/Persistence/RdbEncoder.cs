using System.Buffers.Binary;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Persistence;

/// <summary>
/// Encodes values in RDB format into a growable buffer, exactly as Redis 7.0 encodes them: integer
/// strings as integers, strings longer than 20 bytes LZF-compressed when that saves at least 4 bytes,
/// packed encodings as real listpacks/intsets, lists as QUICKLIST_2, skiplist sorted sets as ZSET_2
/// (highest score first). Used by the RDB writer and by DUMP.
/// </summary>
public sealed class RdbEncoder
{
    private byte[] _buf;
    private int _len;
    private readonly ListpackBuilder _lp = new();
    private byte[] _lzf = new byte[256];
    private RedisServer? _server;
    public RedisServer? Server { get => _server; set => _server = value; }

    public bool Compress;

    public RdbEncoder(RedisServer? server, bool compress, int capacity = 4096)
    {
        _server = server;
        Compress = compress;
        _buf = new byte[capacity];
    }

    public int Length => _len;
    public ReadOnlySpan<byte> Written => new(_buf, 0, _len);
    public ReadOnlySpan<byte> Slice(int from) => new(_buf, from, _len - from);

    public void Clear() => _len = 0;

    /// <summary>Hands the buffer over and starts a new one (the snapshot writer's thread-safe swap).</summary>
    public (byte[] Buffer, int Length) Take(byte[] replacement)
    {
        var r = (_buf, _len);
        _buf = replacement;
        _len = 0;
        return r;
    }

    private void Ensure(int extra)
    {
        if (_len + extra > _buf.Length)
            Array.Resize(ref _buf, (int)Math.Min(Array.MaxLength, Math.Max((long)_buf.Length * 2, (long)_len + extra)));
    }

    public void WriteByte(byte b)
    {
        Ensure(1);
        _buf[_len++] = b;
    }

    public void WriteRaw(ReadOnlySpan<byte> data)
    {
        Ensure(data.Length);
        data.CopyTo(_buf.AsSpan(_len));
        _len += data.Length;
    }

    public void WriteInt64LE(long v)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt64LittleEndian(_buf.AsSpan(_len), v);
        _len += 8;
    }

    public void WriteLen(ulong len)
    {
        Ensure(9);
        var b = _buf;
        if (len < 1 << 6) b[_len++] = (byte)len;
        else if (len < 1 << 14)
        {
            b[_len++] = (byte)(0x40 | (len >> 8));
            b[_len++] = (byte)len;
        }
        else if (len <= uint.MaxValue)
        {
            b[_len++] = 0x80;
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(_len), (uint)len);
            _len += 4;
        }
        else
        {
            b[_len++] = 0x81;
            BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(_len), len);
            _len += 8;
        }
    }

    public void WriteLen(long len) => WriteLen((ulong)len);

    /// <summary>Redis's rdbEncodeInteger: 1, 2 or 4 bytes after the special-encoding byte; false beyond int32.</summary>
    private bool TryWriteEncodedInt(long v)
    {
        Ensure(5);
        var b = _buf;
        if (v >= sbyte.MinValue && v <= sbyte.MaxValue)
        {
            b[_len++] = 0xC0;
            b[_len++] = (byte)v;
        }
        else if (v >= short.MinValue && v <= short.MaxValue)
        {
            b[_len++] = 0xC1;
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(_len), (short)v);
            _len += 2;
        }
        else if (v >= int.MinValue && v <= int.MaxValue)
        {
            b[_len++] = 0xC2;
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(_len), (int)v);
            _len += 4;
        }
        else return false;
        return true;
    }

    /// <summary>Redis's rdbSaveRawString: integer form, then LZF, then plain.</summary>
    public void WriteString(ReadOnlySpan<byte> s)
    {
        if (s.Length <= 11 && NumberParser.TryParseInt64(s, out long v) && TryWriteEncodedInt(v)) return;
        if (Compress && s.Length > 20 && TryWriteLzf(s)) return;
        WriteLen((ulong)s.Length);
        WriteRaw(s);
    }

    public void WriteInteger(long v)
    {
        if (TryWriteEncodedInt(v)) return;
        Span<byte> text = stackalloc byte[21];
        int n = NumberFormat.WriteInt64(text, v);
        WriteLen((ulong)n);
        WriteRaw(text[..n]);
    }

    private bool TryWriteLzf(ReadOnlySpan<byte> s)
    {
        int limit = s.Length - 4;
        if (_lzf.Length < limit + 8) _lzf = new byte[Math.Max(limit + 8, _lzf.Length * 2)];
        int n = Lzf.Compress(s, _lzf, limit);
        if (n == 0) return false;
        WriteByte(0xC3);
        WriteLen((ulong)n);
        WriteLen((ulong)s.Length);
        WriteRaw(_lzf.AsSpan(0, n));
        return true;
    }

    public void WriteBinaryDouble(double d)
    {
        Ensure(8);
        BinaryPrimitives.WriteDoubleLittleEndian(_buf.AsSpan(_len), d);
        _len += 8;
    }

    // ---- values -----------------------------------------------------------------------------------

    /// <summary>The RDB type byte Redis would write for this value.</summary>
    public static byte TypeOf(object value) => value switch
    {
        byte[] => Rdb.TypeString,
        ListObject => Rdb.TypeListQuicklist2,
        SetObject s => s.IsIntSet ? Rdb.TypeSetIntset : Rdb.TypeSet,
        SortedSetObject z => z.IsListpack ? Rdb.TypeZSetListpack : Rdb.TypeZSet2,
        HashObject h => h.IsPacked ? Rdb.TypeHashListpack : Rdb.TypeHash,
        RedisObject { Type: RedisType.Stream } => Rdb.TypeStreamListpacks2,
        _ => throw new InvalidOperationException("value type has no RDB encoding"),
    };

    /// <summary>Writes the type byte and the value (Redis's rdbSaveObjectType + rdbSaveObject).</summary>
    public void WriteTypeAndValue(object value)
    {
        WriteByte(TypeOf(value));
        WriteValue(value);
    }

    public void WriteValue(object value)
    {
        switch (value)
        {
            case byte[] rec: WriteString(StringRecord.Value(rec)); break;
            case ListObject list: WriteList(list); break;
            case SetObject set: WriteSet(set); break;
            case SortedSetObject zset: WriteZSet(zset); break;
            case HashObject hash: WriteHash(hash); break;
            case RedisObject { Type: RedisType.Stream } stream:
                var hook = _server?.StreamToRdb ?? throw new InvalidOperationException("streams cannot be encoded: no stream type is attached");
                RdbStreamCodec.Write(this, hook(stream), _lp, _server);
                break;
            default: throw new InvalidOperationException("value type has no RDB encoding");
        }
    }

    private void WriteList(ListObject list)
    {
        // Nodes are re-formed as Redis's quicklist forms them when elements are pushed at the tail, so a
        // list built by RPUSH is written with Redis's node boundaries.
        int fill = list.Fill;
        long threshold = ListObject.PackedThreshold;
        int nodes = 0;
        // First pass counts nodes so that the count can precede them, as the format requires.
        var cur = default(ListObject.Cursor);
        int nodeSize = 0, nodeCount = 0;
        bool any = list.Count > 0 && list.TrySeek(0, out cur);
        if (any)
        {
            do
            {
                var v = ListObject.Current(cur);
                if (v.Length >= threshold)
                {
                    if (nodeCount > 0) nodes++;
                    nodes++;
                    nodeSize = 0; nodeCount = 0;
                    continue;
                }
                if (nodeCount > 0 && !AllowInsert(nodeSize, nodeCount, v.Length, fill))
                {
                    nodes++;
                    nodeSize = 0; nodeCount = 0;
                }
                if (nodeCount == 0) nodeSize = ListpackBuilder.HeaderSize + 1;
                nodeSize += ListpackBuilder.EntrySize(v);
                nodeCount++;
            } while (ListObject.MoveNext(ref cur));
            if (nodeCount > 0) nodes++;
        }
        WriteLen((ulong)nodes);
        if (!any) return;
        list.TrySeek(0, out cur);
        _lp.Reset();
        do
        {
            var v = ListObject.Current(cur);
            if (v.Length >= threshold)
            {
                if (_lp.Count > 0) FlushListNode();
                WriteLen(1UL);
                WriteString(v);
                continue;
            }
            if (_lp.Count > 0 && !AllowInsert(_lp.Size, _lp.Count, v.Length, fill)) FlushListNode();
            _lp.Append(v);
        } while (ListObject.MoveNext(ref cur));
        if (_lp.Count > 0) FlushListNode();
    }

    private void FlushListNode()
    {
        WriteLen(2UL);
        WriteString(_lp.Finish());
        _lp.Reset();
    }

    private static readonly int[] OptimizationLevel = [4096, 8192, 16384, 32768, 65536];

    /// <summary>Redis's _quicklistNodeAllowInsert for a packed node of <paramref name="size"/> bytes.</summary>
    private static bool AllowInsert(int size, int count, int elementLength, int fill)
    {
        long newSize = (long)size + elementLength + 8;
        if (fill < 0)
        {
            int offset = -fill - 1;
            if (offset < OptimizationLevel.Length && newSize <= OptimizationLevel[offset]) return true;
        }
        if (newSize > 8192) return false;
        return count < fill;
    }

    private void WriteSet(SetObject set)
    {
        if (set.IsIntSet)
        {
            int n = set.Count;
            int width = set.IntSetWidth;
            int size = 8 + n * width;
            Span<byte> blob = size <= 512 ? stackalloc byte[size] : new byte[size];
            BinaryPrimitives.WriteUInt32LittleEndian(blob, (uint)width);
            BinaryPrimitives.WriteUInt32LittleEndian(blob[4..], (uint)n);
            for (int i = 0; i < n; i++)
            {
                long v = set.IntegerAt(i);
                var dst = blob[(8 + i * width)..];
                if (width == 2) BinaryPrimitives.WriteInt16LittleEndian(dst, (short)v);
                else if (width == 4) BinaryPrimitives.WriteInt32LittleEndian(dst, (int)v);
                else BinaryPrimitives.WriteInt64LittleEndian(dst, v);
            }
            WriteString(blob);
            return;
        }
        WriteLen((ulong)set.Count);
        Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];
        for (int pos = set.First(); pos >= 0; pos = set.NextPosition(pos)) WriteString(set.MemberAt(pos, scratch));
    }

    private void WriteZSet(SortedSetObject z)
    {
        if (z.IsListpack)
        {
            _lp.Reset();
            Span<byte> num = stackalloc byte[40];
            for (int pos = z.First(); pos >= 0; pos = z.Next(pos))
            {
                var member = z.EntryAt(pos, out double score);
                _lp.Append(member);
                _lp.Append(FormatScore(score, num));
            }
            WriteString(_lp.Finish());
            return;
        }
        WriteLen((ulong)z.Count);
        for (int pos = z.Last(); pos >= 0; pos = z.Prev(pos))
        {
            var member = z.EntryAt(pos, out double score);
            WriteString(member);
            WriteBinaryDouble(score);
        }
    }

    /// <summary>Redis's d2string into <paramref name="dest"/>, without allocating (a snapshot formats every listpack score).</summary>
    public static ReadOnlySpan<byte> FormatScore(double score, Span<byte> dest) => dest[..NumberFormat.WriteD2String(dest, score)];

    private void WriteHash(HashObject h)
    {
        if (h.IsPacked)
        {
            _lp.Reset();
            for (int pos = h.First(); pos >= 0; pos = h.NextPosition(pos))
            {
                _lp.Append(h.FieldAt(pos));
                _lp.Append(h.ValueAt(pos));
            }
            WriteString(_lp.Finish());
            return;
        }
        WriteLen((ulong)h.Count);
        for (int pos = h.First(); pos >= 0; pos = h.NextPosition(pos))
        {
            WriteString(h.FieldAt(pos));
            WriteString(h.ValueAt(pos));
        }
    }

    // ---- DUMP payloads ----------------------------------------------------------------------------

    /// <summary>DUMP's payload: type, value, RDB version (2 bytes LE), CRC64 of all that (8 bytes LE).</summary>
    public byte[] CreateDumpPayload(object value)
    {
        Clear();
        WriteTypeAndValue(value);
        WriteByte(Rdb.Version & 0xFF);
        WriteByte(Rdb.Version >> 8);
        ulong crc = Crc64.Update(0, Written);
        WriteInt64LE((long)crc);
        return Written.ToArray();
    }
}
