using System.Text;
using Redoubt.Server.Commands;

namespace Redoubt.Server.Tests.Support;

/// <summary>
/// In-process pub/sub: an <see cref="InProcessKeyspace"/> whose keyspace notifications go through the
/// server's real registry, with clients whose output (replies and pushes) is read back as decoded
/// values. Pushes are reported as ("&gt;", items) so they can be told from arrays.
/// </summary>
public sealed class PubSubHarness
{
    public InProcessKeyspace Keyspace { get; } = new();
    public RedisServer Server => Keyspace.Server;

    public PubSubHarness()
    {
        // The keyspace harness records notifications itself; route them to subscribers instead.
        Server.PublishHook = Server.PubSub.PublishNotification;
    }

    /// <summary>A client authenticated as the default user, as a new connection is when no password is set.</summary>
    public Client NewClient()
    {
        var c = Keyspace.NewClient();
        c.Authenticated = true;
        return c;
    }

    /// <summary>Runs a command through the gate; its output stays in the client's buffer for <see cref="Drain"/>.</summary>
    public void Send(Client c, params string[] args)
    {
        lock (Server.Sync)
        {
            c.SetArgs(args.Select(a => Encoding.Latin1.GetBytes(a)).ToArray());
            ExecutionGate.Process(c);
        }
    }

    /// <summary>Runs a command and returns everything the client has received since the last drain.</summary>
    public List<object?> Run(Client c, params string[] args)
    {
        Send(c, args);
        return Drain(c);
    }

    /// <summary>Everything written to the client so far, decoded, and empties its buffer.</summary>
    public List<object?> Drain(Client c)
    {
        lock (Server.Sync)
        {
            var bytes = c.Reply.Written.ToArray();
            c.Reply.Clear();
            var list = new List<object?>();
            int pos = 0;
            while (pos < bytes.Length) list.Add(Decode(bytes, ref pos));
            return list;
        }
    }

    /// <summary>A decoded push: its items.</summary>
    public sealed record Push(object?[] Items);

    private static string Line(byte[] b, ref int pos)
    {
        int end = Array.IndexOf(b, (byte)'\r', pos);
        var s = Encoding.Latin1.GetString(b, pos, end - pos);
        pos = end + 2;
        return s;
    }

    public static object? Decode(byte[] b, ref int pos)
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
            case '*': case '>': case '%':
            {
                int n = int.Parse(line) * (type == '%' ? 2 : 1);
                if (n < 0) return null;
                var items = new object?[n];
                for (int i = 0; i < n; i++) items[i] = Decode(b, ref pos);
                return type == '>' ? new Push(items) : items;
            }
            default: throw new InvalidDataException($"unexpected reply type '{type}'");
        }
    }
}
