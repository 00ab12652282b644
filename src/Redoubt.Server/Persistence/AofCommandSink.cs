using System.Buffers;
using System.Buffers.Text;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Persistence;

/// <summary>
/// Writes a snapshot as commands that rebuild it (the AOF base file without an RDB preamble): a SELECT
/// per database, then per key the fewest commands of at most 64 items each (Redis's
/// AOF_REWRITE_ITEMS_PER_CMD), then PEXPIREAT for a key with a TTL. With timestamps enabled the file
/// starts with a #TS annotation, as Redis's rewrite does.
/// </summary>
public sealed class AofCommandSink : ISnapshotSink
{
    private const int ItemsPerCommand = 64;
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Lock _handOver = new();
    private readonly bool _timestamp;

    public AofCommandSink(bool timestampAnnotation) => _timestamp = timestampAnnotation;

    public long KeysWritten { get; private set; }

    public void Begin(RedisServer server)
    {
        lock (_handOver)
        {
            if (_timestamp) Raw($"#TS:{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}\r\n");
            // Libraries first, as Redis's rewriteFunctions: the keys' scripts may call them.
            foreach (var lib in server.FunctionLibraries) Command("FUNCTION"u8, "LOAD"u8, lib.Code);
        }
    }

    public void BeginDatabase(int dbId, long keyCount, long expireCount)
    {
        lock (_handOver) Command("SELECT"u8, Num(dbId));
    }

    public void WriteEntry(object value, long expireAtMs, int meta)
    {
        lock (_handOver)
        {
            KeysWritten++;
            var key = KeyTable.KeyOf(value);
            switch (value)
            {
                case byte[] rec:
                    Command("SET"u8, key, StringRecord.Value(rec));
                    break;
                case ListObject list:
                    WriteList(key, list);
                    break;
                case SetObject set:
                    WriteSet(key, set);
                    break;
                case SortedSetObject zset:
                    WriteZSet(key, zset);
                    break;
                case HashObject hash:
                    WriteHash(key, hash);
                    break;
                case StreamObject stream:
                    WriteStream(key, stream);
                    break;
                default:
                    throw new InvalidOperationException("The AOF rewrite cannot encode a value of type " + value.GetType().Name);
            }
            if (expireAtMs >= 0) Command("PEXPIREAT"u8, key, Num(expireAtMs));
        }
    }

    public void End() { }

    public long BufferedBytes
    {
        get { lock (_handOver) return _buffer.WrittenCount; }
    }

    public void FlushTo(Stream destination)
    {
        byte[] bytes;
        lock (_handOver)
        {
            bytes = _buffer.WrittenSpan.ToArray();
            _buffer.ResetWrittenCount();
        }
        destination.Write(bytes);
    }

    // ---- per type: batches of at most 64 items -------------------------------------------------

    private void WriteList(ReadOnlySpan<byte> key, ListObject list)
    {
        long left = list.Count;
        if (left == 0 || !list.TrySeek(0, out var cursor)) return;
        do
        {
            int n = (int)Math.Min(left, ItemsPerCommand);
            Header(2 + n);
            Bulk("RPUSH"u8);
            Bulk(key);
            for (int i = 0; i < n; i++)
            {
                Bulk(ListObject.Current(cursor));
                ListObject.MoveNext(ref cursor);
            }
            left -= n;
        } while (left > 0);
    }

    private void WriteSet(ReadOnlySpan<byte> key, SetObject set)
    {
        Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];
        int left = set.Count, pos = set.First();
        while (left > 0)
        {
            int n = Math.Min(left, ItemsPerCommand);
            Header(2 + n);
            Bulk("SADD"u8);
            Bulk(key);
            for (int i = 0; i < n; i++, pos = set.NextPosition(pos)) Bulk(set.MemberAt(pos, scratch));
            left -= n;
        }
    }

    private void WriteZSet(ReadOnlySpan<byte> key, SortedSetObject zset)
    {
        int left = zset.Count, pos = zset.First();
        while (left > 0)
        {
            int n = Math.Min(left, ItemsPerCommand);
            Header(2 + 2 * n);
            Bulk("ZADD"u8);
            Bulk(key);
            for (int i = 0; i < n; i++, pos = zset.Next(pos))
            {
                var member = zset.EntryAt(pos, out double score);
                Bulk(System.Text.Encoding.ASCII.GetBytes(NumberFormat.G17(score)));
                Bulk(member);
            }
            left -= n;
        }
    }

    private void WriteHash(ReadOnlySpan<byte> key, HashObject hash)
    {
        int left = hash.Count, pos = hash.First();
        while (left > 0)
        {
            int n = Math.Min(left, ItemsPerCommand);
            Header(2 + 2 * n);
            Bulk("HMSET"u8);
            Bulk(key);
            for (int i = 0; i < n; i++, pos = hash.NextPosition(pos))
            {
                Bulk(hash.FieldAt(pos));
                Bulk(hash.ValueAt(pos));
            }
            left -= n;
        }
    }

    // A stream is rebuilt entry by entry (one XADD each, with its ID), then XSETID restores the last ID,
    // the entries-added counter and the max deleted ID that deletions leave behind; groups come back with
    // XGROUP CREATE, consumers without pending entries with XGROUP CREATECONSUMER, and every pending
    // entry with a forced XCLAIM that carries its delivery time and count.
    private void WriteStream(ReadOnlySpan<byte> key, StreamObject s)
    {
        if (s.Length > 0 && s.SeekFirst(StreamId.Zero, out var cur))
        {
            do
            {
                var f = s.Fields(cur);
                Header(3 + 2L * f.Count);
                Bulk("XADD"u8);
                Bulk(key);
                Id(cur.Id);
                while (f.MoveNext())
                {
                    Bulk(f.Field);
                    Bulk(f.Value);
                }
            } while (s.MoveNext(ref cur));
        }
        else
        {
            // An empty stream is still a key: add an entry and trim it away at once.
            Header(7);
            Bulk("XADD"u8);
            Bulk(key);
            Bulk("MAXLEN"u8);
            Bulk("0"u8);
            Id(new StreamId(0, 1));
            Bulk("x"u8);
            Bulk("y"u8);
        }

        Header(7);
        Bulk("XSETID"u8);
        Bulk(key);
        Id(s.LastId);
        Bulk("ENTRIESADDED"u8);
        Bulk(Num(s.EntriesAdded));
        Bulk("MAXDELETEDID"u8);
        Id(s.MaxDeletedId);

        foreach (var g in s.Groups)
        {
            Header(7);
            Bulk("XGROUP"u8);
            Bulk("CREATE"u8);
            Bulk(key);
            Bulk(g.Name);
            Id(g.LastId);
            Bulk("ENTRIESREAD"u8);
            Bulk(Num(g.EntriesRead));
            foreach (var c in g.Consumers)
            {
                if (c.Pending.Count == 0)
                {
                    Header(5);
                    Bulk("XGROUP"u8);
                    Bulk("CREATECONSUMER"u8);
                    Bulk(key);
                    Bulk(g.Name);
                    Bulk(c.Name);
                    continue;
                }
                foreach (var p in c.Pending)
                {
                    Header(12);
                    Bulk("XCLAIM"u8);
                    Bulk(key);
                    Bulk(g.Name);
                    Bulk(c.Name);
                    Bulk("0"u8);
                    Id(p.Id);
                    Bulk("TIME"u8);
                    Bulk(Num(p.DeliveryTime));
                    Bulk("RETRYCOUNT"u8);
                    Bulk(Num(p.DeliveryCount));
                    Bulk("JUSTID"u8);
                    Bulk("FORCE"u8);
                }
            }
        }
    }

    private void Id(StreamId id)
    {
        Span<byte> text = stackalloc byte[42];
        Utf8Formatter.TryFormat(id.Ms, text, out int a);
        text[a++] = (byte)'-';
        Utf8Formatter.TryFormat(id.Seq, text[a..], out int b);
        Bulk(text[..(a + b)]);
    }

    // ---- encoding -------------------------------------------------------------------------------

    private static byte[] Num(long v) => System.Text.Encoding.ASCII.GetBytes(v.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private void Command(ReadOnlySpan<byte> a0, ReadOnlySpan<byte> a1)
    {
        Header(2);
        Bulk(a0);
        Bulk(a1);
    }

    private void Command(ReadOnlySpan<byte> a0, ReadOnlySpan<byte> a1, ReadOnlySpan<byte> a2)
    {
        Header(3);
        Bulk(a0);
        Bulk(a1);
        Bulk(a2);
    }

    private void Raw(string s)
    {
        var span = _buffer.GetSpan(s.Length);
        int n = System.Text.Encoding.ASCII.GetBytes(s, span);
        _buffer.Advance(n);
    }

    private void Header(long n) => Prefix((byte)'*', n);

    private void Prefix(byte kind, long n)
    {
        var span = _buffer.GetSpan(24);
        span[0] = kind;
        Utf8Formatter.TryFormat(n, span[1..], out int len);
        span[1 + len] = (byte)'\r';
        span[2 + len] = (byte)'\n';
        _buffer.Advance(len + 3);
    }

    private void Bulk(ReadOnlySpan<byte> arg)
    {
        Prefix((byte)'$', arg.Length);
        var span = _buffer.GetSpan(arg.Length + 2);
        arg.CopyTo(span);
        span[arg.Length] = (byte)'\r';
        span[arg.Length + 1] = (byte)'\n';
        _buffer.Advance(arg.Length + 2);
    }
}
