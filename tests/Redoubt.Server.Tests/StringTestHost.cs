using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Config;
using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;

namespace Redoubt.Server.Tests;

/// <summary>
/// An in-process server for the string and bitmap tests that need to look behind the replies: TTLs,
/// keyspace notifications, the dirty counter, and keys of another type (whose commands live in other
/// families). Commands go through the real gate exactly as a connection would run them.
/// </summary>
internal sealed class StringTestHost : IDisposable
{
    public readonly RedisServer Server;
    private readonly Client _client;
    public readonly List<(string Channel, string Message)> Events = new();

    public StringTestHost()
    {
        var config = new ServerConfig();
        Server = new RedisServer(config);
        Server.Start(listen: false);
        Server.NotifyFlags = KeyspaceEventClass.All | KeyspaceEventClass.Keyevent;
        Server.PublishHook = (channel, message) => Events.Add((channel, Encoding.Latin1.GetString(message)));
        _client = new Client(1, Server);
    }

    public Database Db => _client.Db;
    public long Dirty => Server.Stats.Dirty;

    /// <summary>Runs one command and returns its reply decoded like <see cref="RespClient"/> does.</summary>
    public object? Call(params object[] args)
    {
        var argv = args.Select(a => a is byte[] b ? b : Encoding.Latin1.GetBytes(a.ToString()!)).ToArray();
        lock (Server.Sync)
        {
            _client.SetArgs(argv);
            ExecutionGate.Process(_client);
            var written = _client.Reply.Written.ToArray();
            _client.Reply.Clear();
            int pos = 0;
            var reply = Parse(written, ref pos);
            if (pos != written.Length) throw new InvalidDataException("more than one reply");
            return reply;
        }
    }

    /// <summary>The event names published on __keyevent@0__ since the last call, then forgets them.</summary>
    public List<string> TakeEvents()
    {
        var names = Events.Where(e => e.Channel.StartsWith("__keyevent@", StringComparison.Ordinal))
            .Select(e => e.Channel[(e.Channel.IndexOf(':') + 1)..] + ":" + e.Message).ToList();
        Events.Clear();
        return names;
    }

    /// <summary>Absolute expire time of a key in ms, -1 without TTL, -2 when missing.</summary>
    public long ExpireOf(string key)
    {
        lock (Server.Sync)
        {
            int slot = Db.FindLive(Encoding.Latin1.GetBytes(key));
            return slot < 0 ? -2 : Db.GetExpire(slot);
        }
    }

    /// <summary>Stores a value of another type under <paramref name="key"/> (for WRONGTYPE checks).</summary>
    public void PlantOtherType(string key)
    {
        lock (Server.Sync) Db.Set(new OtherTypeObject(Encoding.Latin1.GetBytes(key)));
    }

    private static object? Parse(byte[] b, ref int pos)
    {
        char type = (char)b[pos++];
        int eol = Array.IndexOf(b, (byte)'\r', pos);
        string line = Encoding.Latin1.GetString(b, pos, eol - pos);
        pos = eol + 2;
        switch (type)
        {
            case '+': return line;
            case '-': return new RespError(line);
            case ':': return long.Parse(line);
            case '_': return null;
            case '$':
            {
                int len = int.Parse(line);
                if (len < 0) return null;
                string s = Encoding.Latin1.GetString(b, pos, len);
                pos += len + 2;
                return s;
            }
            case '*': case '%':
            {
                int n = int.Parse(line);
                if (n < 0) return null;
                if (type == '%') n *= 2;
                var items = new object?[n];
                for (int i = 0; i < n; i++) items[i] = Parse(b, ref pos);
                return items;
            }
            default: throw new InvalidDataException($"unexpected reply type '{type}'");
        }
    }

    public void Dispose() => Server.Shutdown(noSave: true, force: true);

    /// <summary>A stand-in for a list/hash/... value: only its type matters here.</summary>
    private sealed class OtherTypeObject(byte[] key) : RedisObject(key)
    {
        public override RedisType Type => RedisType.List;
        public override string Encoding => "listpack";
        public override RedisObject Clone(byte[] newKey) => new OtherTypeObject(newKey);
        public override long MemoryUsage => 16;
    }
}
