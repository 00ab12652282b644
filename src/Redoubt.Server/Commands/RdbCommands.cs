using Microsoft.Win32.SafeHandles;
using Redoubt.Server.Persistence;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>DUMP, RESTORE and DEBUG RELOAD, and the RDB layer's hooks into the server.</summary>
public static class RdbCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("dump", Dump);
        t.Bind("restore", Restore);
    }

    private static int _gateRegistered;

    /// <summary>Hooks the RDB layer into the server: snapshot sinks, DEBUG RELOAD, serializedlength, the LOADING gate.</summary>
    public static void Attach(RedisServer server)
    {
        server.RdbSinkFactory = () => RdbWriter.For(server);
        server.DebugExtensions["reload"] = DebugReload;
        server.RdbSerializedLength = obj => SerializedLength(server, obj);
        server.RdbStreamLoader = stream =>
        {
            try
            {
                RdbLoader.LoadFromStream(server, stream);
                return null;
            }
            catch (RdbLoadException e)
            {
                foreach (var line in e.LogLines("AOF base")) server.Log.Warning(line);
                return e.Message;
            }
        };
        if (Interlocked.Exchange(ref _gateRegistered, 1) == 0)
            ExecutionGate.AddStateCheck(static (c, cmd) =>
                c.Server.PersistenceStatus.Loading && (cmd.Flags & CommandFlags.Loading) == 0
                    ? "-LOADING Redis is loading the dataset in memory" : null);
    }

    [ThreadStatic] private static RdbEncoder? _encoder;

    private static RdbEncoder Encoder(RedisServer server)
    {
        var e = _encoder ??= new RdbEncoder(server, true, 1024);
        e.Server = server;
        e.Compress = server.Config.RdbCompression;
        return e;
    }

    private static long SerializedLength(RedisServer server, object obj)
    {
        var e = Encoder(server);
        e.Clear();
        e.WriteValue(obj);
        long n = e.Length;
        e.Clear();
        return n;
    }

    private static void Dump(Client c)
    {
        int slot = c.Db.FindForRead(c.Arg(1));
        if (slot < 0)
        {
            c.Reply.Null();
            return;
        }
        c.Reply.Bulk(DumpPayload(c.Server, c.Db.ObjectAt(slot)));
    }

    /// <summary>DUMP's payload for a stored value: type and value in RDB encoding, RDB version, CRC64.</summary>
    internal static byte[] DumpPayload(RedisServer server, object value)
    {
        var e = Encoder(server);
        e.Clear();
        e.WriteTypeAndValue(value);
        e.WriteByte(Rdb.Version & 0xFF);
        e.WriteByte(Rdb.Version >> 8);
        e.WriteInt64LE((long)Crc64.Update(0, e.Written));
        var payload = e.Written.ToArray();
        e.Clear();
        return payload;
    }

    /// <summary>Checks a DUMP payload's footer: RDB version not newer than ours and the CRC64 (Redis's verifyDumpPayload).</summary>
    public static bool VerifyDumpPayload(ReadOnlySpan<byte> p, bool skipChecksum)
    {
        if (p.Length < 10) return false;
        var footer = p[^10..];
        int version = footer[0] | (footer[1] << 8);
        if (version > Rdb.Version) return false;
        if (skipChecksum) return true;
        ulong crc = Crc64.Update(0, p[..^8]);
        return crc == System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(footer[2..]);
    }

    private static void Restore(Client c)
    {
        long ttl, lfuFreq = -1, lruIdle = -1;
        bool replace = false, absTtl = false;
        for (int j = 4; j < c.Argc; j++)
        {
            int additional = c.Argc - j - 1;
            if (c.ArgIs(j, "replace"u8)) replace = true;
            else if (c.ArgIs(j, "absttl"u8)) absTtl = true;
            else if (c.ArgIs(j, "idletime"u8) && additional >= 1 && lfuFreq == -1)
            {
                if (!c.TryGetLong(j + 1, out lruIdle)) return;
                if (lruIdle < 0)
                {
                    c.Reply.Error("Invalid IDLETIME value, must be >= 0");
                    return;
                }
                j++;
            }
            else if (c.ArgIs(j, "freq"u8) && additional >= 1 && lruIdle == -1)
            {
                if (!c.TryGetLong(j + 1, out lfuFreq)) return;
                if (lfuFreq < 0 || lfuFreq > 255)
                {
                    c.Reply.Error("Invalid FREQ value, must be >= 0 and <= 255");
                    return;
                }
                j++;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        var server = c.Server;
        var db = c.Db;
        var keySpan = c.Arg(1);
        if (!replace && db.FindForWrite(keySpan) >= 0)
        {
            c.Reply.Error("-BUSYKEY Target key name already exists.");
            return;
        }
        if (!c.TryGetLong(2, out ttl)) return;
        if (ttl < 0)
        {
            c.Reply.Error("Invalid TTL value, must be >= 0");
            return;
        }
        var payload = c.Arg(3);
        if (!VerifyDumpPayload(payload, server.SkipChecksumValidation))
        {
            c.Reply.Error("DUMP payload version or checksum are wrong");
            return;
        }
        var key = keySpan.ToArray();
        object? obj;
        try
        {
            var bytes = payload.ToArray();
            var r = new RdbReader(bytes, 0, bytes.Length - 10);
            int type = r.ReadByte();
            if (!Rdb.IsObjectType(type)) throw new RdbFormatException("bad type");
            bool deep = server.Config.SanitizeDumpPayload != "no";
            obj = RdbObjects.Read(r, type, key, server, deep);
        }
        catch (Exception e) when (e is RdbFormatException or RdbShortReadException or IndexOutOfRangeException
                                     or ArgumentOutOfRangeException or OverflowException or FormatException)
        {
            // As Redis's rdbReportError in a RESTORE: logged at verbose level, the command fails.
            server.Log.Verbose($"Internal error in RDB reading offset 0, function at RdbObjects.Read -> {RdbObjects.CorruptionMessage(e, payload.Length > 0 ? payload[0] : 0)}");
            obj = null;
        }
        if (obj == null)
        {
            c.Reply.Error("Bad data format");
            return;
        }
        bool deleted = false;
        if (replace)
        {
            int old = db.FindRaw(key);
            if (old >= 0)
            {
                db.RemoveSlot(old);
                deleted = true;
            }
        }
        if (ttl != 0 && !absTtl) ttl += server.NowMs;
        if (ttl != 0 && ttl <= server.NowMs && !server.IsReplica)
        {
            if (deleted)
            {
                server.SignalModifiedKey(db, key);
                server.Notify(KeyspaceEventClass.Generic, "del", key, db.Id);
                server.Dirty();
                // Restoring an already expired key only deleted the old one.
                if (c.Propagating) c.PropagateAs("DEL"u8.ToArray(), key);
            }
            c.Reply.Ok();
            return;
        }
        int slot = db.Add(obj);
        if (ttl != 0) db.SetExpire(slot, ttl);
        if (ttl != 0 && !absTtl && c.Propagating)
        {
            // A relative TTL propagates as the absolute time it became, so a later replay agrees.
            var argv = new byte[c.Argc + 1][];
            for (int i = 0; i < c.Argc; i++) argv[i] = c.ArgBytes(i);
            argv[2] = StringCommands.Num(ttl);
            argv[c.Argc] = "ABSTTL"u8.ToArray();
            c.PropagateAs(argv);
        }
        if (lruIdle >= 0 && !server.LfuPolicy)
        {
            long stamp = server.LruClock - lruIdle;
            if (stamp < 0) stamp = ((stamp % KeyTable.LruMask) + KeyTable.LruMask) % KeyTable.LruMask;
            db.SetMetaAt(slot, (int)stamp);
        }
        else if (lfuFreq >= 0 && server.LfuPolicy) db.SetMetaAt(slot, (server.LfuMinutes() << 8) | (int)lfuFreq);
        server.SignalModifiedKey(db, key);
        server.Notify(KeyspaceEventClass.Generic, "restore", key, db.Id);
        server.Dirty();
        c.Reply.Ok();
    }

    // ---- DEBUG RELOAD ------------------------------------------------------------------------------

    private static void DebugReload(Client c)
    {
        bool flush = true, save = true;
        var flags = RdbLoadFlags.None;
        for (int j = 2; j < c.Argc; j++)
        {
            if (c.ArgIs(j, "merge"u8)) flags |= RdbLoadFlags.AllowDuplicates;
            else if (c.ArgIs(j, "noflush"u8)) flush = false;
            else if (c.ArgIs(j, "nosave"u8)) save = false;
            else
            {
                c.Reply.Error("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
                return;
            }
        }
        var server = c.Server;
        string path = server.Config.DbFilename;
        if (save && RdbSave.SaveToFile(server, path) != null)
        {
            c.Reply.Error("-ERR");
            return;
        }
        if (!File.Exists(path))
        {
            c.Reply.Error("Error trying to load the RDB dump, check server logs.");
            return;
        }
        if (flush)
            foreach (var db in server.Databases)
            {
                server.Watches.TouchAllInDb(db, null);
                db.Clear();
            }
        SafeFileHandle file;
        try { file = File.OpenHandle(path); }
        catch (IOException e)
        {
            server.Log.Warning($"Fatal error loading the DB: {e.Message}. Exiting.");
            c.Reply.Error("Error trying to load the RDB dump, check server logs.");
            return;
        }
        try
        {
            using (file) RdbLoader.Load(server, file, flags, lockHeld: true);
        }
        catch (RdbLoadException e)
        {
            // As Redis: a file that cannot be loaded is fatal, the process must not go on half loaded.
            foreach (var line in e.LogLines(path)) server.Log.Warning(line);
            server.Log.Warning("Terminating server after rdb file reading failure.");
            Environment.Exit(1);
        }
        server.Log.Warning("DB reloaded by DEBUG RELOAD");
        c.Reply.Ok();
    }

    // ---- start-up ---------------------------------------------------------------------------------

    /// <summary>
    /// Loads <c>dir/dbfilename</c> at start-up when AOF is off (Redis's loadDataFromDisk). Returns false
    /// when the file exists but cannot be loaded: the caller exits non-zero.
    /// </summary>
    public static bool LoadAtStartup(RedisServer server)
    {
        if (server.Config.AppendOnly) return true;
        string path = server.Config.DbFilename;
        if (!File.Exists(path))
        {
            server.PersistenceStatus.Loading = false;
            return true;
        }
        var sw = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            var result = RdbLoader.LoadFile(server, path);
            server.LastRdbLoad = result;
            server.Log.Notice($"DB loaded from disk: {sw.Elapsed.TotalSeconds:F3} seconds");
            return true;
        }
        catch (RdbLoadException e)
        {
            foreach (var line in e.LogLines(path)) server.Log.Warning(line);
            // As Redis: the checker's walk of the file follows, to say where and in which key it broke.
            if (!e.ShortRead)
            {
                var report = new StringWriter();
                RdbCheck.Run([path], report);
                server.Log.WriteRaw(report.ToString());
            }
            return false;
        }
        catch (IOException e)
        {
            server.Log.Warning($"Fatal error loading the DB: {e.Message}. Exiting.");
            return false;
        }
        finally
        {
            server.PersistenceStatus.Loading = false;
        }
    }
}
