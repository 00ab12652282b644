using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Persistence;

/// <summary>
/// Builds stored values from RDB payloads of every type Redis 7.0 reads, in the encodings this server
/// would pick for them under the current configuration (Redis's rdbLoadObject and its conversions).
/// </summary>
public static class RdbObjects
{
    /// <summary>
    /// Reads one value of RDB type <paramref name="type"/> for <paramref name="key"/>. Returns null for an
    /// empty collection, which Redis skips. <paramref name="deep"/> validates packed encodings entry by entry.
    /// </summary>
    public static object? Read(RdbReader r, int type, byte[] key, RedisServer server, bool deep)
    {
        var cfg = server.Config;
        var scratch = Scratch1;
        switch (type)
        {
            case Rdb.TypeString:
                return StringRecord.Create(key, r.ReadStringSpan());

            case Rdb.TypeList:
            {
                ulong n = r.ReadLen();
                r.CheckCount(n, 1);
                var list = new ListObject(key, server.ListMaxListpackSize);
                for (ulong i = 0; i < n; i++) list.PushTail(r.ReadStringSpan());
                return list.Count == 0 ? null : list;
            }
            case Rdb.TypeListQuicklist or Rdb.TypeListQuicklist2:
            {
                ulong nodes = r.ReadLen();
                r.CheckCount(nodes, 1);
                var list = new ListObject(key, server.ListMaxListpackSize);
                for (ulong i = 0; i < nodes; i++)
                {
                    ulong container = 2;
                    if (type == Rdb.TypeListQuicklist2)
                    {
                        container = r.ReadLen();
                        if (container != 1 && container != 2) throw new RdbFormatException("Quicklist integrity check failed.");
                    }
                    var blob = r.ReadStringSpan();
                    if (blob.Length == 0) throw new RdbFormatException("Quicklist integrity check failed.");
                    if (container == 1)
                    {
                        list.PushTail(blob);
                        continue;
                    }
                    if (type == Rdb.TypeListQuicklist)
                    {
                        ZiplistReader.Validate(blob, deep: true);
                        var zr = new ZiplistReader(blob);
                        while (zr.NextBytes(scratch, out var v)) list.PushTail(v);
                    }
                    else
                    {
                        ListpackReader.Validate(blob, deep);
                        var lr = new ListpackReader(blob);
                        while (lr.NextBytes(scratch, out var v)) list.PushTail(v);
                    }
                }
                return list.Count == 0 ? null : list;
            }
            case Rdb.TypeListZiplist:
            {
                var blob = r.ReadStringSpan();
                ZiplistReader.Validate(blob, deep: true);
                var list = new ListObject(key, server.ListMaxListpackSize);
                var zr = new ZiplistReader(blob);
                while (zr.NextBytes(scratch, out var v)) list.PushTail(v);
                return list.Count == 0 ? null : list;
            }

            case Rdb.TypeSet:
            {
                ulong n = r.ReadLen();
                r.CheckCount(n, 1);
                var set = new SetObject(key);
                if (n > (ulong)cfg.SetMaxIntsetEntries) set.ConvertToTable();
                for (ulong i = 0; i < n; i++)
                    if (!set.Add(r.ReadStringSpan(), cfg.SetMaxIntsetEntries)) throw new RdbFormatException("Duplicate set members detected");
                return set.Count == 0 ? null : set;
            }
            case Rdb.TypeSetIntset:
            {
                var blob = r.ReadStringSpan();
                int n = IntsetBlob.Validate(blob, deep, out int width);
                var set = new SetObject(key);
                if (n > cfg.SetMaxIntsetEntries) set.ConvertToTable();
                for (int i = 0; i < n; i++)
                {
                    long v = IntsetBlob.Get(blob, width, i);
                    if (!set.Add(scratch[..NumberFormat.WriteInt64(scratch, v)], cfg.SetMaxIntsetEntries))
                        throw new RdbFormatException("Duplicate set members detected");
                }
                return set;
            }

            case Rdb.TypeZSet or Rdb.TypeZSet2:
            {
                ulong n = r.ReadLen();
                r.CheckCount(n, 2);
                var limits = server.ZSetLimits;
                var z = new SortedSetObject(key, listpack: n <= (ulong)limits.MaxEntries, (int)Math.Min(n, 1024));
                for (ulong i = 0; i < n; i++)
                {
                    var member = r.ReadStringBytes();
                    double score = type == Rdb.TypeZSet2 ? r.ReadBinaryDouble() : r.ReadLegacyDouble();
                    if (double.IsNaN(score)) throw new RdbFormatException("Zset with NAN score detected");
                    AddZ(z, member, score, limits);
                }
                return z.Count == 0 ? null : z;
            }
            case Rdb.TypeZSetZiplist or Rdb.TypeZSetListpack:
            {
                var blob = r.ReadStringSpan();
                var limits = server.ZSetLimits;
                // A legacy ziplist is always walked in full, as Redis converts it to a listpack on load
                // (its validation is then deep whatever sanitize-dump-payload says).
                int count = type == Rdb.TypeZSetListpack ? ListpackReader.Validate(blob, deep) : ZiplistReader.Validate(blob, deep: true);
                if (count % 2 != 0) throw new RdbFormatException("Zset listpack integrity check failed.");
                if (count == 0) return null;
                var z = new SortedSetObject(key, listpack: count / 2 <= limits.MaxEntries, Math.Min(count / 2, 1024));
                var scratch2 = Scratch2;
                if (type == Rdb.TypeZSetListpack)
                {
                    var lr = new ListpackReader(blob);
                    while (lr.NextBytes(scratch, out var member))
                    {
                        if (!lr.NextBytes(scratch2, out var score)) throw new RdbFormatException("Zset listpack integrity check failed.");
                        AddZ(z, member, ParseScore(score), limits);
                    }
                }
                else
                {
                    var zr = new ZiplistReader(blob);
                    while (zr.NextBytes(scratch, out var member))
                    {
                        if (!zr.NextBytes(scratch2, out var score)) throw new RdbFormatException("Zset ziplist integrity check failed.");
                        AddZ(z, member, ParseScore(score), limits);
                    }
                }
                return z;
            }

            case Rdb.TypeHash:
            {
                ulong n = r.ReadLen();
                r.CheckCount(n, 2);
                var h = new HashObject(key);
                if (n > (ulong)cfg.HashMaxListpackEntries) h.ConvertToTable();
                for (ulong i = 0; i < n; i++)
                {
                    var field = r.ReadStringBytes();
                    var value = r.ReadStringSpan();
                    if (h.Set(field, value, cfg.HashMaxListpackEntries, cfg.HashMaxListpackValue)) throw new RdbFormatException("Duplicate hash fields detected");
                }
                return h.Count == 0 ? null : h;
            }
            case Rdb.TypeHashZipmap or Rdb.TypeHashZiplist or Rdb.TypeHashListpack:
            {
                var blob = r.ReadStringSpan();
                var h = new HashObject(key);
                var scratch2 = Scratch2;
                if (type == Rdb.TypeHashZipmap)
                {
                    var zm = new ZipmapReader(blob);
                    while (zm.Next(out var f, out var v)) SetH(h, f, v, cfg);
                    // Redis's zipmap validation refuses an empty zipmap.
                    if (h.Count == 0) throw new RdbFormatException("Zipmap integrity check failed.");
                }
                else if (type == Rdb.TypeHashZiplist)
                {
                    int count = ZiplistReader.Validate(blob, deep: true);
                    if (count % 2 != 0) throw new RdbFormatException("Hash ziplist integrity check failed.");
                    var zr = new ZiplistReader(blob);
                    while (zr.NextBytes(scratch, out var f))
                    {
                        if (!zr.NextBytes(scratch2, out var v)) throw new RdbFormatException("Hash ziplist integrity check failed.");
                        SetH(h, f, v, cfg);
                    }
                }
                else
                {
                    int count = ListpackReader.Validate(blob, deep);
                    if (count % 2 != 0) throw new RdbFormatException("Hash listpack integrity check failed.");
                    var lr = new ListpackReader(blob);
                    // Without sanitization the fields are taken as distinct, as Redis adopts the listpack
                    // as it is: no search per field. Sanitizing checks for duplicates as it adds.
                    if (!deep) h.ReservePacked(blob.Length);
                    while (lr.NextBytes(scratch, out var f))
                    {
                        if (!lr.NextBytes(scratch2, out var v)) throw new RdbFormatException("Hash listpack integrity check failed.");
                        if (deep) SetH(h, f, v, cfg);
                        else if (h.AppendLoaded(f, v, cfg.HashMaxListpackEntries, cfg.HashMaxListpackValue))
                        {
                            // Found only because the hash became a table while loading: Redis panics on
                            // this conversion; the payload is refused instead, with Redis's dump in the log.
                            server.Log.Warning($"listpack with dup elements dump (hexdump of {blob.Length} bytes):");
                            server.Log.WriteRaw(Convert.ToHexString(blob).ToLowerInvariant() + "\n");
                            throw new RdbFormatException("Listpack corruption detected");
                        }
                    }
                }
                return h.Count == 0 ? null : h;
            }

            case Rdb.TypeStreamListpacks or Rdb.TypeStreamListpacks2:
            {
                var data = RdbStreamCodec.Read(r, type, deep);
                var hook = server.StreamFromRdb ?? throw new RdbFormatException("Stream values cannot be loaded: this server has no stream type attached");
                return hook(key, data);
            }
            case Rdb.TypeModule or Rdb.TypeModule2:
                throw new RdbFormatException("The RDB file contains module data, which this server cannot load (modules are not supported)");
            default:
                throw new RdbFormatException($"Unknown RDB encoding type {type}");
        }
    }

    /// <summary>
    /// What a corrupt value is reported as, in Redis's words: a packed encoding reports the integrity
    /// check of that encoding (Redis validates a zipmap, ziplist, listpack or intset as a whole, duplicates
    /// included, and names only the encoding), unless the loader named a more precise integrity failure;
    /// other types report the loader's own reason ("Duplicate hash fields detected", ...).
    /// </summary>
    public static string CorruptionMessage(Exception e, int type)
    {
        if (e is RdbFormatException && (e.Message.Contains("integrity check failed") || e.Message.Contains("dup elements")))
            return e.Message;
        return type switch
        {
            Rdb.TypeHashZipmap => "Zipmap integrity check failed.",
            Rdb.TypeListZiplist => "List ziplist integrity check failed.",
            Rdb.TypeZSetZiplist => "Zset ziplist integrity check failed.",
            Rdb.TypeHashZiplist => "Hash ziplist integrity check failed.",
            Rdb.TypeSetIntset => "Intset integrity check failed.",
            Rdb.TypeListQuicklist => "Ziplist integrity check failed.",
            Rdb.TypeListQuicklist2 => "Listpack integrity check failed.",
            Rdb.TypeHashListpack => "Hash listpack integrity check failed.",
            Rdb.TypeZSetListpack => "Zset listpack integrity check failed.",
            Rdb.TypeStreamListpacks or Rdb.TypeStreamListpacks2 when !e.Message.Contains("Duplicate") => "Stream listpack integrity check failed.",
            _ => e.Message,
        };
    }

    [ThreadStatic] private static byte[]? _scratch1, _scratch2;
    private static byte[] Scratch1 => _scratch1 ??= new byte[24];
    private static byte[] Scratch2 => _scratch2 ??= new byte[24];

    private static void SetH(HashObject h, ReadOnlySpan<byte> f, ReadOnlySpan<byte> v, Config.ServerConfig cfg)
    {
        if (h.Set(f, v, cfg.HashMaxListpackEntries, cfg.HashMaxListpackValue)) throw new RdbFormatException("Duplicate hash fields detected");
    }

    private static void AddZ(SortedSetObject z, ReadOnlySpan<byte> member, double score, ZSetLimits limits)
    {
        var res = z.Add(score, member, ZAddFlags.NX, limits, out _);
        if ((res & ZAddResult.Added) == 0) throw new RdbFormatException("Duplicate zset fields detected");
    }

    private static double ParseScore(ReadOnlySpan<byte> s)
    {
        if (NumberParser.TryParseInt64(s, out long l)) return l;
        if (NumberParser.TryParseDouble(s, out double d)) return d;
        var text = System.Text.Encoding.ASCII.GetString(s);
        return text switch
        {
            "inf" or "+inf" => double.PositiveInfinity,
            "-inf" => double.NegativeInfinity,
            _ => throw new RdbFormatException("Zset score is not a valid double"),
        };
    }
}
