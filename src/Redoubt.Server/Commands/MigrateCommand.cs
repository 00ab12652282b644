using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Redoubt.Server.Commands;

/// <summary>
/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password] [AUTH2 username
/// password] [KEYS key ...]: the keys go to another server as RESTORE commands with their DUMP payloads
/// and remaining TTLs, over a connection cached per target for 10 seconds (as Redis, synchronously:
/// the server waits at most the timeout for each step). Keys the target acknowledged are deleted here
/// unless COPY, and that deletion is what propagates (as DEL).
/// </summary>
public static class MigrateCommand
{
    public static void Bind(CommandTable t) => t.Bind("migrate", Migrate);

    private static void Migrate(Client c)
    {
        var server = c.Server;
        bool copy = false, replace = false;
        byte[]? user = null, password = null;
        int firstKey = 3, numKeys = 1;
        for (int j = 6; j < c.Argc; j++)
        {
            int more = c.Argc - 1 - j;
            if (c.ArgIs(j, "copy"u8)) copy = true;
            else if (c.ArgIs(j, "replace"u8)) replace = true;
            else if (c.ArgIs(j, "auth"u8) && more >= 1) password = c.ArgBytes(++j);
            else if (c.ArgIs(j, "auth2"u8) && more >= 2)
            {
                user = c.ArgBytes(++j);
                password = c.ArgBytes(++j);
            }
            else if (c.ArgIs(j, "keys"u8))
            {
                if (c.Arg(3).Length != 0)
                {
                    c.Reply.Error("When using MIGRATE KEYS option, the key argument must be set to the empty string");
                    return;
                }
                firstKey = j + 1;
                numKeys = c.Argc - j - 1;
                break;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        if (!c.TryGetLong(5, out long timeout) || !c.TryGetLong(4, out long dbid)) return;
        if (timeout <= 0) timeout = 1000;

        // The keys that exist, with their payloads and remaining TTLs (an already expired one is skipped).
        var keys = new List<(byte[] Key, byte[] Payload, long Ttl)>();
        long now = server.NowMs;
        for (int i = 0; i < numKeys; i++)
        {
            var key = c.Arg(firstKey + i);
            int slot = c.Db.FindForRead(key, noTouch: true);
            if (slot < 0) continue;
            long expire = c.Db.GetExpire(slot);
            long ttl = 0;
            if (expire != -1)
            {
                ttl = expire - now;
                if (ttl < 0) continue;
                if (ttl < 1) ttl = 1;
            }
            keys.Add((key.ToArray(), RdbCommands.DumpPayload(server, c.Db.ObjectAt(slot)), ttl));
        }
        if (keys.Count == 0)
        {
            c.Reply.Simple("NOKEY");
            return;
        }

        string host = c.ArgString(1), port = c.ArgString(2);
        var target = server.MigrateSocket(host, port, (int)timeout);
        if (target is null)
        {
            c.Reply.Error("-IOERR error or timeout connecting to the client");
            return;
        }
        bool select = target.LastDb != dbid;
        var request = new MemoryStream();
        if (password != null) Write(request, user is null ? ["AUTH"u8.ToArray(), password] : ["AUTH"u8.ToArray(), user, password]);
        if (select) Write(request, ["SELECT"u8.ToArray(), StringCommands.Num(dbid)]);
        foreach (var (key, payload, ttl) in keys)
        {
            var argv = new List<byte[]> { "RESTORE"u8.ToArray(), key, StringCommands.Num(ttl), payload };
            if (replace) argv.Add("REPLACE"u8.ToArray());
            Write(request, argv);
        }

        var socket = target.Socket;
        try
        {
            socket.SendTimeout = socket.ReceiveTimeout = (int)Math.Min(timeout, int.MaxValue);
            socket.Send(request.GetBuffer().AsSpan(0, (int)request.Length));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            server.CloseMigrateSocket(host, port);
            c.Reply.Error("-IOERR error or timeout writing to target instance");
            return;
        }

        string? error = null;
        var deleted = new List<byte[]>();
        try
        {
            var reader = new LineReader(socket);
            if (password != null && reader.ReadLine() is { } authReply && authReply.StartsWith('-'))
                error = "-ERR Target instance replied with error: " + authReply[1..];
            if (select)
            {
                string selectReply = reader.ReadLine();
                if (selectReply.StartsWith('-')) error ??= "-ERR Target instance replied with error: " + selectReply[1..];
                else target.LastDb = dbid;
            }
            foreach (var (key, _, _) in keys)
            {
                string reply = reader.ReadLine();
                if (reply.StartsWith('-'))
                {
                    error ??= "-ERR Target instance replied with error: " + reply[1..];
                    continue;
                }
                if (copy) continue;
                if (c.Db.Delete(key))
                {
                    server.SignalModifiedKey(c.Db, key);
                    server.Notify(KeyspaceEventClass.Generic, "del", key, c.Db.Id);
                    server.Dirty();
                    deleted.Add(key);
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            server.Log.Verbose($"MIGRATE: reading from {host}:{port} failed: {e.Message}");
            server.CloseMigrateSocket(host, port);
            error ??= "-IOERR error or timeout reading to target instance";
        }
        // What was moved propagates as its deletion, never as MIGRATE.
        if (deleted.Count > 0) c.PropagateAs([RedisServer.DeletionName(false), .. deleted]);
        else c.PreventPropagation();
        if (error != null) c.Reply.Error(error);
        else c.Reply.Ok();
    }

    private static void Write(MemoryStream ms, IReadOnlyList<byte[]> argv)
    {
        ms.Write(Encoding.ASCII.GetBytes($"*{argv.Count}\r\n"));
        foreach (var a in argv)
        {
            ms.Write(Encoding.ASCII.GetBytes($"${a.Length}\r\n"));
            ms.Write(a);
            ms.Write("\r\n"u8);
        }
    }

    /// <summary>Reads the target's single-line replies (+OK / -ERR ...) from a blocking socket.</summary>
    private sealed class LineReader(Socket socket)
    {
        private readonly byte[] _buf = new byte[4096];
        private int _start, _end;

        public string ReadLine()
        {
            while (true)
            {
                int nl = _buf.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
                if (nl >= 0)
                {
                    string line = Encoding.UTF8.GetString(_buf, _start, nl);
                    _start += nl + 2;
                    return line;
                }
                if (_start > 0)
                {
                    Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                if (_end == _buf.Length) throw new IOException("reply line too long");
                int n = socket.Receive(_buf, _end, _buf.Length - _end, SocketFlags.None);
                if (n <= 0) throw new IOException("connection closed");
                _end += n;
            }
        }
    }
}

/// <summary>A cached connection to a MIGRATE target, with the database last selected on it.</summary>
public sealed class MigrateTarget(Socket socket)
{
    public readonly Socket Socket = socket;
    public long LastDb = -1;
    public long LastUseMs;
}
