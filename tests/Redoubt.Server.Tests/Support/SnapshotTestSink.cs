using System.Text;
using Redoubt.Server.Persistence;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Tests.Support;

/// <summary>
/// A snapshot sink for tests: each entry becomes one text line (type, key, contents and expire, in base64
/// where binary), buffered until <see cref="FlushTo"/>, so what a destination received can be parsed
/// back into per-database sets of entries and compared with the dataset. It also checks the contract:
/// calls in order, one database at a time, each database begun once.
/// </summary>
public sealed class SnapshotTestSink : ISnapshotSink
{
    private readonly object _gate = new();
    private MemoryStream _buffer = new();
    private int _currentDb = -1;
    private readonly HashSet<int> _begun = new();
    private bool _ended;
    public readonly List<string> Violations = new();
    /// <summary>Bytes of filler appended to every entry (to make files larger than a small disk).</summary>
    public int Padding;
    public int Entries;

    public void Begin(RedisServer server) => Append("BEGIN\n");

    public void BeginDatabase(int dbId, long keyCount, long expireCount)
    {
        if (!_begun.Add(dbId)) Violations.Add($"database {dbId} begun twice");
        _currentDb = dbId;
        Append($"DB {dbId} {keyCount} {expireCount}\n");
    }

    public void WriteEntry(object value, long expireAtMs, int meta)
    {
        if (_currentDb < 0 || _ended) Violations.Add("entry outside a database");
        Entries++;
        var line = Describe(value, expireAtMs);
        Append(Padding > 0 ? line + " " + new string('x', Padding) + "\n" : line + "\n");
    }

    public void End()
    {
        _ended = true;
        Append("END\n");
    }

    private void Append(string s)
    {
        var bytes = Encoding.ASCII.GetBytes(s);
        lock (_gate) _buffer.Write(bytes);
    }

    public long BufferedBytes
    {
        get { lock (_gate) return _buffer.Length; }
    }

    public void FlushTo(Stream destination)
    {
        byte[] bytes;
        lock (_gate)
        {
            bytes = _buffer.ToArray();
            _buffer = new MemoryStream();
        }
        if (bytes.Length > 0) destination.Write(bytes);
    }

    private static string B64(ReadOnlySpan<byte> b) => Convert.ToBase64String(b);

    /// <summary>A canonical text form of a stored value (set members and hash fields sorted).</summary>
    public static string Describe(object value, long expireAtMs)
    {
        var sb = new StringBuilder();
        if (value is byte[] rec)
        {
            sb.Append("string ").Append(B64(StringRecord.Key(rec))).Append(' ').Append(B64(StringRecord.Value(rec)));
        }
        else
        {
            var ro = (RedisObject)value;
            sb.Append(RedisObject.TypeName(ro.Type)).Append(' ').Append(B64(ro.Key)).Append(' ');
            var items = new List<string>();
            switch (ro)
            {
                case HashObject h:
                    for (int p = h.First(); p >= 0; p = h.NextPosition(p)) items.Add(B64(h.FieldAt(p)) + "=" + B64(h.ValueAt(p)));
                    items.Sort(StringComparer.Ordinal);
                    break;
                case SetObject s:
                    Span<byte> scratch = stackalloc byte[32];
                    for (int p = s.First(); p >= 0; p = s.NextPosition(p)) items.Add(B64(s.MemberAt(p, scratch)));
                    items.Sort(StringComparer.Ordinal);
                    break;
                case SortedSetObject z:
                    for (int p = z.First(); p >= 0; p = z.Next(p)) items.Add(B64(z.MemberAt(p)) + "=" + z.ScoreAt(p).ToString("R"));
                    break;
                case ListObject l:
                    if (l.TrySeek(0, out var cur))
                    {
                        do items.Add(B64(ListObject.Current(cur))); while (ListObject.MoveNext(ref cur));
                    }
                    break;
                default:
                    items.Add("?" + ro.GetType().Name);
                    break;
            }
            sb.Append(string.Join(',', items));
        }
        sb.Append(" ex=").Append(expireAtMs);
        return sb.ToString();
    }

    /// <summary>The server's whole dataset as per-database entry sets (the caller holds the lock).</summary>
    public static Dictionary<int, HashSet<string>> Dataset(RedisServer server)
    {
        var result = new Dictionary<int, HashSet<string>>();
        foreach (var db in server.Databases)
        {
            if (db.Count == 0) continue;
            var set = new HashSet<string>();
            foreach (int slot in db.Table.Slots()) set.Add(Describe(db.Table.At(slot).Obj!, db.GetExpire(slot)));
            result[db.Id] = set;
        }
        return result;
    }

    /// <summary>Parses what a destination received; throws when the framing is wrong.</summary>
    public static Dictionary<int, HashSet<string>> Parse(byte[] bytes, int padding = 0)
    {
        var text = Encoding.ASCII.GetString(bytes);
        var lines = text.Split('\n');
        if (lines[0] != "BEGIN") throw new InvalidDataException("no BEGIN");
        if (lines[^1] != "" || lines[^2] != "END") throw new InvalidDataException("no END");
        var result = new Dictionary<int, HashSet<string>>();
        HashSet<string>? current = null;
        for (int i = 1; i < lines.Length - 2; i++)
        {
            var line = lines[i];
            if (line.StartsWith("DB "))
            {
                int id = int.Parse(line.Split(' ')[1]);
                current = result[id] = new HashSet<string>();
                continue;
            }
            if (padding > 0) line = line[..line.LastIndexOf(' ')];
            if (current is null || !current.Add(line)) throw new InvalidDataException("entry outside a database or twice: " + line);
        }
        return result;
    }
}
