using System.Text;
using Redoubt.Server.Config;

namespace Redoubt.Server.Persistence;

/// <summary>
/// `redoubt check-rdb &lt;file&gt;`: walks an RDB file as the loader does (every value decoded and, as
/// redis-check-rdb does, deeply validated) and reports in redis-check-rdb's format. Exit code 0 when the
/// file is sound, 1 otherwise.
/// </summary>
public static class RdbCheck
{
    public static int Run(string[] args, TextWriter output)
    {
        if (args.Length < 1)
        {
            output.WriteLine("Usage: redoubt check-rdb <rdb-file-name>");
            return 1;
        }
        string path = args[0];
        output.WriteLine($"[offset 0] Checking RDB file {path}");
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            output.WriteLine($"Cannot check RDB file {path}: {e.Message}");
            return 1;
        }
        return Check(data, output, out _);
    }

    /// <summary>
    /// The AOF checker's hook for a base with an RDB preamble: checks the RDB part from the stream's
    /// position and leaves the stream just after it (where the AOF tail begins). True when sound.
    /// </summary>
    public static bool CheckPreamble(Stream stream, string name, TextWriter output)
    {
        long start = stream.Position;
        var ms = new MemoryStream();
        stream.CopyTo(ms);
        byte[] data = ms.ToArray();
        output.WriteLine($"[offset 0] Checking RDB file {name}");
        if (Check(data, output, out int end) != 0) return false;
        stream.Position = start + end;
        return true;
    }

    /// <summary>Checks the RDB at the start of <paramref name="data"/>; <paramref name="end"/> is where it ends.</summary>
    private static int Check(byte[] data, TextWriter output, out int end)
    {
        end = 0;
        var server = new RedisServer(new ServerConfig());
        var r = new RdbReader(data, 0, data.Length);
        long keys = 0, expires = 0, alreadyExpired = 0;
        string doing = "start", keyName = "", typeName = "";
        int objectType = -1;
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        try
        {
            var magic = r.ReadRawSpan(9);
            if (!magic[..5].SequenceEqual("REDIS"u8)) throw new RdbFormatException("Wrong signature trying to load DB from file");
            int version = int.Parse(Encoding.ASCII.GetString(magic[5..]));
            if (version < 1 || version > Rdb.Version) throw new RdbFormatException($"Can't handle RDB format version {version}");
            long expireAt = -1;
            while (true)
            {
                doing = "read-type";
                long at = r.Offset;
                byte type = r.ReadByte();
                switch (type)
                {
                    case Rdb.OpExpireTime: doing = "read-expire"; expireAt = r.ReadInt32LE() * 1000L; continue;
                    case Rdb.OpExpireTimeMs: doing = "read-expire"; expireAt = r.ReadInt64LE(); continue;
                    case Rdb.OpFreq: r.ReadByte(); continue;
                    case Rdb.OpIdle: r.ReadLen(); continue;
                    case Rdb.OpSelectDb:
                        doing = "read-type";
                        output.WriteLine($"[offset {at}] Selecting DB ID {r.ReadLen()}");
                        continue;
                    case Rdb.OpResizeDb: r.ReadLen(); r.ReadLen(); continue;
                    case Rdb.OpAux:
                    {
                        doing = "read-aux";
                        string k = r.ReadStringText();
                        string v = r.ReadStringText();
                        output.WriteLine($"[offset {at}] AUX FIELD {k} = '{v}'");
                        continue;
                    }
                    case Rdb.OpFunction2:
                        doing = "read-functions";
                        r.ReadStringSpan();
                        continue;
                    case Rdb.OpModuleAux or Rdb.OpFunction:
                        throw new RdbFormatException("Module data and old-format functions are not supported by this checker");
                    case Rdb.OpEof:
                        goto done;
                }
                if (!Rdb.IsObjectType(type)) throw new RdbFormatException($"Unknown object type {type} in RDB file");
                typeName = $"{type} ({(type < TypeNames.Length ? TypeNames[type] : "unknown")})";
                objectType = type;
                doing = "read-key";
                var key = r.ReadStringBytes();
                keyName = Encoding.Latin1.GetString(key);
                doing = "read-object-value";
                if (type is Rdb.TypeStreamListpacks or Rdb.TypeStreamListpacks2) RdbStreamCodec.Read(r, type, deep: true);
                else RdbObjects.Read(r, type, key, server, deep: true);
                keys++;
                if (expireAt != -1)
                {
                    expires++;
                    if (expireAt < now) alreadyExpired++;
                }
                expireAt = -1;
            }
        done:
            if (version >= 5)
            {
                doing = "check-sum";
                long eofAt = r.Offset;
                ulong expected = (ulong)r.ReadInt64LE();
                if (expected == 0) output.WriteLine($"[offset {r.Offset}] RDB file was saved with checksum disabled: no check performed.");
                else
                {
                    ulong actual = Crc64.Update(0, data.AsSpan(0, (int)eofAt));
                    if (actual != expected)
                        throw new RdbFormatException($"RDB CRC64 does not match. expected {expected:x} got {actual:x}");
                    output.WriteLine($"[offset {r.Offset}] Checksum OK");
                }
            }
            output.WriteLine($"[offset {r.Offset}] \\o/ RDB looks OK! \\o/");
            Info(output, keys, expires, alreadyExpired);
            end = (int)r.Offset;
            return 0;
        }
        catch (Exception e) when (e is RdbFormatException or RdbShortReadException or IndexOutOfRangeException
                                     or ArgumentOutOfRangeException or OverflowException or FormatException)
        {
            output.WriteLine("--- RDB ERROR DETECTED ---");
            string message = doing == "read-object-value" && objectType >= 0 ? RdbObjects.CorruptionMessage(e, objectType) : e.Message;
            output.WriteLine($"[offset {r.Offset}] {message}");
            output.WriteLine($"[additional info] While doing: {doing}");
            if (keyName.Length > 0) output.WriteLine($"[additional info] Reading key '{keyName}'");
            if (typeName.Length > 0) output.WriteLine($"[additional info] Reading type {typeName}");
            Info(output, keys, expires, alreadyExpired);
            return 1;
        }
    }

    // redis-check-rdb's names for the RDB object types, by type number.
    private static readonly string[] TypeNames =
    [
        "string", "list-linked", "set-hashtable", "zset-v1", "hash-hashtable", "zset-v2", "module-value", "", "",
        "hash-zipmap", "list-ziplist", "set-intset", "zset-ziplist", "hash-ziplist", "quicklist", "stream",
        "hash-listpack", "zset-listpack", "quicklist-v2",
    ];

    private static void Info(TextWriter output, long keys, long expires, long alreadyExpired)
    {
        output.WriteLine($"[info] {keys} keys read");
        output.WriteLine($"[info] {expires} expires");
        output.WriteLine($"[info] {alreadyExpired} already expired");
    }
}
