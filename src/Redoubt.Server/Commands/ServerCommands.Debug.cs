using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>DEBUG: the subcommands the test suites rely on.</summary>
public static partial class ServerCommands
{
    private static void BindDebug(CommandTable t)
    {
        t.Bind("debug", Debug);
    }

    private static readonly string[] DebugHelpLines =
    [
        "CHANGE-REPL-ID",
        "    Change the replication IDs of the instance.",
        "    Dangerous: should be used only for testing the replication subsystem.",
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
        "ERROR <string>",
        "    Return a Redis protocol error with <string> as message. Useful for clients",
        "    unit tests to simulate Redis errors.",
        "LOG <message>",
        "    Write <message> to the server log.",
        "OBJECT <key>",
        "    Show low level info about `key` and associated value.",
        "PAUSE-CRON <0|1>",
        "    Stop periodic cron job processing.",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys named key:<num>. If <prefix> is specified then",
        "    it is used instead of the 'key' prefix. These are not propagated to",
        "    replicas. Cluster slots are not respected so keys not belonging to the",
        "    current node can be created in cluster mode.",
        "PROTOCOL <type>",
        "    Reply with a test value of the specified type. <type> can be: string,",
        "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
        "    true, false.",
        "RELOAD [option ...]",
        "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
        "    * MERGE: conflicting keys will be loaded from RDB.",
        "    * NOFLUSH: the existing database will not be removed before load, but",
        "      conflicting keys will generate an exception and kill the server.",
        "    * NOSAVE: the database will be loaded from an existing RDB file.",
        "    Examples:",
        "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
        "      the database.",
        "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
        "      existing RDB file.",
        "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
        "      file to the database.",
        "SEGFAULT",
        "    Crash the server with sigsegv.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "QUICKLIST-PACKED-THRESHOLD <size>",
        "    Sets the threshold for elements to be inserted as plain vs packed nodes",
        "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
        "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
        "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
    ];

    private static void Debug(Client c)
    {
        var server = c.Server;
        int argc = c.Argc;
        if (argc == 2 && c.ArgIs(1, "help"u8)) ReplyHelp(c, DebugHelpLines);
        else if (c.ArgIs(1, "segfault"u8) && argc == 2) Diagnostics.CrashReport.Segfault(server);
        else if (c.ArgIs(1, "sleep"u8) && argc == 3)
        {
            // Blocks the whole server, as Redis does: the command runs under the server lock.
            double seconds = ParseLeadingDouble(c.ArgString(2));
            long micros = (long)(seconds * 1_000_000);
            if (micros > 0) Thread.Sleep(TimeSpan.FromTicks(micros * 10));
            c.Reply.Ok();
        }
        else if (c.ArgIs(1, "set-active-expire"u8) && argc == 3)
        {
            server.ActiveExpireEnabled = ParseLeadingInt(c.ArgString(2)) != 0;
            c.Reply.Ok();
        }
        else if (c.ArgIs(1, "pause-cron"u8) && argc == 3)
        {
            server.CronPaused = ParseLeadingInt(c.ArgString(2)) != 0;
            c.Reply.Ok();
        }
        else if (c.ArgIs(1, "set-skip-checksum-validation"u8) && argc == 3)
        {
            server.SkipChecksumValidation = ParseLeadingInt(c.ArgString(2)) != 0;
            c.Reply.Ok();
        }
        else if (c.ArgIs(1, "quicklist-packed-threshold"u8) && argc == 3)
        {
            if (!Config.MemoryUnits.TryParse(c.ArgString(2), out long size) || size < 0 || size > (1L << 32) - (1 << 20))
            {
                c.Reply.Error("argument must be a memory value bigger than 1 and smaller than 4gb");
                return;
            }
            server.QuicklistPackedThreshold = size == 0 ? RedisServer.DefaultQuicklistPackedThreshold : size;
            c.Reply.Ok();
        }
        else if (c.ArgIs(1, "log"u8) && argc == 3)
        {
            server.Log.Warning("DEBUG LOG: " + c.ArgString(2));
            c.Reply.Ok();
        }
        else if (c.ArgIs(1, "error"u8) && argc == 3) c.Reply.Error("-" + c.ArgString(2));
        else if (c.ArgIs(1, "replicate"u8) && argc >= 3)
        {
            // Sends a command to the replicas only, without running it here (divergence tests).
            var argv = new byte[argc - 2][];
            for (int i = 2; i < argc; i++) argv[i - 2] = c.ArgBytes(i);
            server.Propagation.Add(c.DbIndex, argv, Propagation.PropagationTarget.Replication);
            c.Reply.Ok();
        }
        else if (c.ArgIs(1, "change-repl-id"u8) && argc == 2)
        {
            server.Log.Warning("Changing replication IDs after receiving DEBUG change-repl-id");
            server.ReplicationStatus.ChangeReplicationId();
            server.ReplicationStatus.ClearReplicationId2();
            c.Reply.Ok();
        }
        else if (c.ArgIs(1, "object"u8) && argc == 3) DebugObject(c);
        else if (c.ArgIs(1, "populate"u8) && argc >= 3 && argc <= 5) DebugPopulate(c);
        else if (c.ArgIs(1, "digest"u8) && argc == 2)
        {
            if (ComputeDatasetDigest(server, out var digest) is string err) c.Reply.Error(err);
            else c.Reply.Simple(Convert.ToHexStringLower(digest));
        }
        else if (c.ArgIs(1, "digest-value"u8) && argc >= 2) DebugDigestValue(c);
        else if (c.ArgIs(1, "protocol"u8) && argc == 3) DebugProtocol(c);
        else if (c.ArgIs(1, "config-rewrite-force-all"u8) && argc == 2) DebugConfigRewriteForceAll(c);
        else if (server.DebugExtensions.TryGetValue(c.ArgString(1), out var extension)) extension(c);
        else SubcommandSyntaxError(c);
    }

    /// <summary>
    /// Writes every directive to the config file, defaults included, so a test can check that the server
    /// reads back everything it writes. Without a config file there is no path to open (EFAULT).
    /// </summary>
    private static void DebugConfigRewriteForceAll(Client c)
    {
        var config = c.Server.Config;
        string? err = config.ConfigFile is null ? "Bad address" : config.Rewrite(forceAll: true);
        if (err != null) c.Reply.Error("CONFIG-REWRITE-FORCE-ALL failed: " + err);
        else c.Reply.Ok();
    }

    /// <summary>strtod-like: the longest numeric prefix, 0 when there is none.</summary>
    private static double ParseLeadingDouble(string s)
    {
        s = s.TrimStart();
        for (int len = s.Length; len > 0; len--)
            if (double.TryParse(s.AsSpan(0, len), NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
        return 0;
    }

    /// <summary>atoi-like: optional sign and leading digits, 0 when there are none.</summary>
    private static int ParseLeadingInt(string s)
    {
        s = s.TrimStart();
        int i = 0, sign = 1;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) { if (s[i] == '-') sign = -1; i++; }
        long v = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i]) && v < int.MaxValue) v = v * 10 + (s[i++] - '0');
        return (int)Math.Clamp(sign * v, int.MinValue, int.MaxValue);
    }

    // ---- DEBUG OBJECT --------------------------------------------------------

    /// <summary>OBJECT ENCODING of a string value: int when it is a canonical 64-bit integer, embstr up to 44 bytes, else raw.</summary>
    public static string StringEncoding(ReadOnlySpan<byte> value)
    {
        if (value.Length <= 20 && NumberParser.TryParseInt64(value, out long v) && IsCanonical(value, v)) return "int";
        return value.Length <= 44 ? "embstr" : "raw";
    }

    private static bool IsCanonical(ReadOnlySpan<byte> text, long v)
    {
        Span<byte> buf = stackalloc byte[24];
        v.TryFormat(buf, out int n, default, CultureInfo.InvariantCulture);
        return text.SequenceEqual(buf[..n]);
    }

    /// <summary>
    /// Bytes a string value takes in an RDB file: integer encodings of 1, 2 or 4 bytes plus a type
    /// byte, otherwise a length prefix and the bytes (compression is not counted).
    /// </summary>
    public static long RdbStringLength(ReadOnlySpan<byte> value)
    {
        if (value.Length <= 11 && NumberParser.TryParseInt64(value, out long v) && IsCanonical(value, v))
        {
            if (v >= sbyte.MinValue && v <= sbyte.MaxValue) return 2;
            if (v >= short.MinValue && v <= short.MaxValue) return 3;
            if (v >= int.MinValue && v <= int.MaxValue) return 5;
        }
        return RdbLengthPrefix(value.Length) + value.Length;
    }

    private static int RdbLengthPrefix(long len) => len < 64 ? 1 : len < 16384 ? 2 : len <= uint.MaxValue ? 5 : 9;

    private static void DebugObject(Client c)
    {
        var db = c.Db;
        int slot = db.Table.Find(c.Arg(2));
        if (slot < 0)
        {
            c.Reply.Error("no such key");
            return;
        }
        var obj = db.ObjectAt(slot);
        string encoding;
        long serialized;
        if (obj is byte[] rec)
        {
            var value = StringRecord.Value(rec);
            encoding = StringEncoding(value);
            serialized = c.Server.RdbSerializedLength?.Invoke(obj) ?? RdbStringLength(value);
        }
        else
        {
            var ro = (RedisObject)obj;
            encoding = ro.Encoding;
            serialized = c.Server.RdbSerializedLength?.Invoke(obj) ?? ro.MemoryUsage;
        }
        int lru = db.MetaAt(slot);
        long idleSeconds = IdleSeconds(c.Server.LruClock, lru);
        c.Reply.Simple($"Value at:0x{RuntimeHelpers.GetHashCode(obj):x8} refcount:1 encoding:{encoding} " +
                       $"serializedlength:{serialized} lru:{lru} lru_seconds_idle:{idleSeconds}");
    }

    /// <summary>Seconds since an LRU stamp, across the 24-bit clock's wrap-around (Redis's estimateObjectIdleTime).</summary>
    public static long IdleSeconds(int clock, int stamp)
        => clock >= stamp ? clock - stamp : KeyTable.LruMask - stamp + clock;

    // ---- DEBUG POPULATE ------------------------------------------------------

    private static void DebugPopulate(Client c)
    {
        if (!c.TryGetLong(2, out long count, "value is out of range, must be positive") || count < 0)
        {
            if (count < 0) c.Reply.Error("value is out of range, must be positive");
            return;
        }
        long valueSize = 0;
        if (c.Argc == 5 && (!c.TryGetLong(4, out valueSize, "value is out of range, must be positive") || valueSize < 0))
        {
            if (valueSize < 0) c.Reply.Error("value is out of range, must be positive");
            return;
        }
        string prefix = c.Argc >= 4 ? Encoding.Latin1.GetString(c.Arg(3)) : "key";
        var db = c.Db;
        for (long j = 0; j < count; j++)
        {
            var key = Encoding.Latin1.GetBytes(prefix + ":" + j.ToString(CultureInfo.InvariantCulture));
            if (db.LookupWrite(key) != null) continue;
            var text = Encoding.ASCII.GetBytes("value:" + j.ToString(CultureInfo.InvariantCulture));
            byte[] rec;
            if (valueSize == 0) rec = StringRecord.Create(key, text);
            else
            {
                rec = StringRecord.CreateForKey(key, (int)Math.Min(valueSize, Array.MaxLength - key.Length - 8));
                var dest = StringRecord.MutableValue(rec);
                text.AsSpan(0, Math.Min(text.Length, dest.Length)).CopyTo(dest);
            }
            db.Add(rec);
            c.Server.SignalModifiedKey(db, key);
        }
        c.Reply.Ok();
    }

    // ---- DEBUG DIGEST ----------------------------------------------------------

    /// <summary>Adds the SHA1 of <paramref name="data"/> into <paramref name="digest"/> by xor: order-independent.</summary>
    public static void XorDigest(Span<byte> digest, ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(data, hash);
        for (int i = 0; i < 20; i++) digest[i] ^= hash[i];
    }

    /// <summary>digest = SHA1(digest xor SHA1(data)): order-dependent mixing.</summary>
    public static void MixDigest(Span<byte> digest, ReadOnlySpan<byte> data)
    {
        XorDigest(digest, data);
        Span<byte> copy = stackalloc byte[20];
        digest[..20].CopyTo(copy);
        SHA1.HashData(copy, digest);
    }

    /// <summary>
    /// Mixes a value's type, contents and expire flag into <paramref name="digest"/> (Redis's
    /// xorObjectDigest). Strings are digested here; other types by the digester their family registers
    /// in <see cref="RedisServer.ValueDigesters"/>. Returns an error when a type has none.
    /// </summary>
    private static string? ObjectDigest(RedisServer server, Database db, int slot, Span<byte> digest)
    {
        var obj = db.ObjectAt(slot);
        Span<byte> type = stackalloc byte[4];
        var t = obj is byte[] ? RedisType.String : ((RedisObject)obj).Type;
        BinaryPrimitives.WriteUInt32BigEndian(type, (uint)t);
        MixDigest(digest, type);
        if (obj is byte[] rec) MixDigest(digest, StringRecord.Value(rec));
        else if (server.ValueDigesters.TryGetValue(t, out var digester)) digester((RedisObject)obj, digest);
        else return $"DEBUG DIGEST is not supported for values of type {RedisObject.TypeName(t)}";
        if (db.GetExpire(slot) >= 0) XorDigest(digest, "!!expire!!"u8);
        return null;
    }

    /// <summary>Redis's computeDatasetDigest: per database, the xor of every key/value digest, mixed with the db number.</summary>
    public static string? ComputeDatasetDigest(RedisServer server, out byte[] final)
    {
        final = new byte[20];
        Span<byte> dbId = stackalloc byte[4];
        Span<byte> kv = stackalloc byte[20];
        for (int j = 0; j < server.Databases.Length; j++)
        {
            var db = server.Databases[j];
            if (db.Count == 0) continue;
            BinaryPrimitives.WriteUInt32BigEndian(dbId, (uint)j);
            MixDigest(final, dbId);
            foreach (int slot in db.Table.Slots())
            {
                kv.Clear();
                MixDigest(kv, KeyTable.KeyOf(db.ObjectAt(slot)));
                if (ObjectDigest(server, db, slot, kv) is string err) return err;
                XorDigest(final, kv);
            }
        }
        return null;
    }

    private static void DebugDigestValue(Client c)
    {
        var results = new string[c.Argc - 2];
        Span<byte> digest = stackalloc byte[20];
        for (int j = 2; j < c.Argc; j++)
        {
            digest.Clear();
            // Logically expired keys are still digested: no lookup with expiry here.
            int slot = c.Db.Table.Find(c.Arg(j));
            if (slot >= 0 && ObjectDigest(c.Server, c.Db, slot, digest) is string err)
            {
                c.Reply.Error(err);
                return;
            }
            results[j - 2] = Convert.ToHexStringLower(digest);
        }
        c.Reply.ArrayHeader(results.Length);
        foreach (var r in results) c.Reply.Simple(r);
    }

    // ---- DEBUG PROTOCOL --------------------------------------------------------

    private static void DebugProtocol(Client c)
    {
        var r = c.Reply;
        string name = c.ArgString(2).ToLowerInvariant();
        switch (name)
        {
            case "string": r.Bulk("Hello World"u8); break;
            case "integer": r.Integer(12345); break;
            case "double": r.Double(3.141); break;
            case "bignum":
                if (r.IsResp3) r.Raw("(1234567999999999999999999999999999999\r\n"u8);
                else r.Bulk("1234567999999999999999999999999999999"u8);
                break;
            case "null": r.Null(); break;
            case "array":
                r.ArrayHeader(3);
                for (int j = 0; j < 3; j++) r.Integer(j);
                break;
            case "set":
                r.SetHeader(3);
                for (int j = 0; j < 3; j++) r.Integer(j);
                break;
            case "map":
                r.MapHeader(3);
                for (int j = 0; j < 3; j++)
                {
                    r.Integer(j);
                    r.Boolean(j == 1);
                }
                break;
            case "attrib":
                if (r.IsResp3)
                {
                    r.Raw("|1\r\n"u8);
                    r.Bulk("key-popularity"u8);
                    r.ArrayHeader(2);
                    r.Bulk("key:123"u8);
                    r.Integer(90);
                }
                r.Bulk("Some real reply following the attribute"u8);
                break;
            case "push":
                if (!r.IsResp3)
                {
                    r.Error("RESP2 is not supported by this command");
                    return;
                }
                r.PushHeader(2);
                r.Bulk("server-cpu-usage"u8);
                r.Integer(42);
                r.Bulk("Some real reply following the push reply"u8);
                break;
            case "true": r.Boolean(true); break;
            case "false": r.Boolean(false); break;
            case "verbatim": r.Verbatim("This is a verbatim\nstring"); break;
            default:
                r.Error("Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false");
                break;
        }
    }
}
