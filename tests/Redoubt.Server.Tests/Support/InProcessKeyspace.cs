using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Config;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Tests.Support;

/// <summary>
/// A server instance without sockets or cron, driven command by command through the real gate, for
/// tests that need to observe server internals (keyspace notifications, watch flags) deterministically.
/// Replies are decoded like <see cref="RespClient"/> does: string, long, null, object?[] or RespError.
/// </summary>
public sealed class InProcessKeyspace
{
    public RedisServer Server { get; }
    public List<(string Channel, string Message)> Published { get; } = new();

    public InProcessKeyspace(int databases = 16)
    {
        var config = new ServerConfig { Port = 0, Databases = databases };
        Server = new RedisServer(config);
        Server.Databases = new Database[databases];
        for (int i = 0; i < databases; i++) Server.Databases[i] = new Database(i, Server);
        Server.PublishHook = (channel, message) => Published.Add((channel, Encoding.Latin1.GetString(message)));
    }

    private long _nextId;

    public Client NewClient() => new(++_nextId, Server);

    /// <summary>Runs one command for <paramref name="c"/> and returns its decoded reply.</summary>
    public object? Call(Client c, params string[] args)
    {
        lock (Server.Sync)
        {
            c.Reply.Clear();
            c.SetArgs(args.Select(a => Encoding.Latin1.GetBytes(a)).ToArray());
            ExecutionGate.Process(c);
            var bytes = c.Reply.Written.ToArray();
            c.Reply.Clear();
            int pos = 0;
            var reply = Decode(bytes, ref pos);
            if (pos != bytes.Length) throw new InvalidDataException("more than one reply: " + Encoding.Latin1.GetString(bytes));
            return reply;
        }
    }

    private static string Line(byte[] b, ref int pos)
    {
        int end = Array.IndexOf(b, (byte)'\r', pos);
        var s = Encoding.Latin1.GetString(b, pos, end - pos);
        pos = end + 2;
        return s;
    }

    private static object? Decode(byte[] b, ref int pos)
    {
        char type = (char)b[pos++];
        string line = Line(b, ref pos);
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
                var s = Encoding.Latin1.GetString(b, pos, len);
                pos += len + 2;
                return s;
            }
            case '*':
            {
                int n = int.Parse(line);
                if (n < 0) return null;
                var items = new object?[n];
                for (int i = 0; i < n; i++) items[i] = Decode(b, ref pos);
                return items;
            }
            default: throw new InvalidDataException($"unexpected reply type '{type}'");
        }
    }
}
