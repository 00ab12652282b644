using System.Net.Sockets;
using System.Text;

namespace Redoubt.Server.Tests.Support;

/// <summary>
/// A connection that returns each reply as canonical text keeping every wire detail: the type byte,
/// the payload exactly as sent (so RESP3 doubles keep their digits), nested aggregates in brackets.
/// Two servers' replies are equal exactly when their texts are.
/// </summary>
public sealed class RawRespConnection : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly BufferedStream _in;
    private readonly NetworkStream _out;

    public RawRespConnection(int port)
    {
        _tcp = new TcpClient("127.0.0.1", port) { NoDelay = true, ReceiveTimeout = 10000 };
        _out = _tcp.GetStream();
        _in = new BufferedStream(_out);
    }

    public string Call(IReadOnlyList<string> args)
    {
        Send(args);
        return ReadReply();
    }

    /// <summary>Sends a command without waiting for its reply (a blocking command, a pipeline).</summary>
    public void Send(IReadOnlyList<string> args) =>
        _out.Write(RespClient.Encode(args.Select(a => (object)Encoding.Latin1.GetBytes(a)).ToArray()));

    /// <summary>Reads the next reply or push as canonical text.</summary>
    public string ReadReply()
    {
        var sb = new StringBuilder();
        Read(sb);
        return sb.ToString();
    }

    private string Line()
    {
        var sb = new StringBuilder();
        int b;
        while ((b = _in.ReadByte()) != '\r')
        {
            if (b < 0) throw new EndOfStreamException();
            sb.Append((char)b);
        }
        _in.ReadByte();
        return sb.ToString();
    }

    private void Read(StringBuilder sb)
    {
        int t = _in.ReadByte();
        if (t < 0) throw new EndOfStreamException();
        char type = (char)t;
        string line = Line();
        sb.Append(type);
        switch (type)
        {
            case '$' or '=':
            {
                int n = int.Parse(line);
                if (n < 0) { sb.Append("-1"); return; }
                var buf = new byte[n];
                _in.ReadExactly(buf);
                Line();
                sb.Append(Encoding.Latin1.GetString(buf));
                return;
            }
            case '*' or '%' or '~' or '>':
            {
                int n = int.Parse(line);
                if (n < 0) { sb.Append("-1"); return; }
                if (type == '%') n *= 2;
                sb.Append('[');
                for (int i = 0; i < n; i++)
                {
                    if (i > 0) sb.Append(',');
                    Read(sb);
                }
                sb.Append(']');
                return;
            }
            default:
                sb.Append(line);
                return;
        }
    }

    public void Dispose() => _tcp.Dispose();
}
