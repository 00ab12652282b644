using System.Net.Sockets;
using System.Text;

namespace Redoubt.Server.Tests.Support;

/// <summary>A deliberately small RESP client for tests: sends raw bytes or commands, reads one reply.</summary>
public sealed class RespClient : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly BufferedStream _in;

    public RespClient(int port)
    {
        _tcp = new TcpClient("127.0.0.1", port) { NoDelay = true, ReceiveTimeout = 10000 };
        _stream = _tcp.GetStream();
        _in = new BufferedStream(_stream);
    }

    public void SendRaw(byte[] data) => _stream.Write(data);
    public void SendRaw(string data) => SendRaw(Encoding.Latin1.GetBytes(data));

    public static byte[] Encode(params object[] args)
    {
        var ms = new MemoryStream();
        void W(string s) => ms.Write(Encoding.Latin1.GetBytes(s));
        W($"*{args.Length}\r\n");
        foreach (var a in args)
        {
            byte[] b = a is byte[] raw ? raw : Encoding.UTF8.GetBytes(a.ToString()!);
            W($"${b.Length}\r\n");
            ms.Write(b);
            W("\r\n");
        }
        return ms.ToArray();
    }

    /// <summary>Sends a command and returns the reply: string (simple/bulk), long, null, object?[] or RespError.</summary>
    public object? Call(params object[] args)
    {
        SendRaw(Encode(args));
        return Read();
    }

    public object? Read()
    {
        int type = _in.ReadByte();
        if (type < 0) throw new EndOfStreamException("connection closed");
        string line = ReadLine();
        switch ((char)type)
        {
            case '+': return line;
            case '-': return new RespError(line);
            case ':': return long.Parse(line);
            case '$':
            {
                int len = int.Parse(line);
                if (len < 0) return null;
                var buf = new byte[len];
                int off = 0;
                while (off < len) { int n = _in.Read(buf, off, len - off); if (n <= 0) throw new EndOfStreamException(); off += n; }
                ReadLine();
                return Encoding.Latin1.GetString(buf);
            }
            case '*': case '~': case '>':
            {
                int n = int.Parse(line);
                if (n < 0) return null;
                var items = new object?[n];
                for (int i = 0; i < n; i++) items[i] = Read();
                return items;
            }
            case '%':
            {
                int n = int.Parse(line);
                var items = new object?[n * 2];
                for (int i = 0; i < n * 2; i++) items[i] = Read();
                return items;
            }
            case '_': return null;
            case '#': return line == "t";
            case ',': return double.Parse(line, System.Globalization.CultureInfo.InvariantCulture);
            case '=': { int len = int.Parse(line); var buf = new byte[len]; _in.ReadExactly(buf); ReadLine(); return Encoding.Latin1.GetString(buf)[4..]; }
            default: throw new InvalidDataException($"unexpected reply type '{(char)type}'");
        }
    }

    private string ReadLine()
    {
        var sb = new StringBuilder();
        while (true)
        {
            int b = _in.ReadByte();
            if (b < 0) throw new EndOfStreamException();
            if (b == '\r') { _in.ReadByte(); return sb.ToString(); }
            sb.Append((char)b);
        }
    }

    /// <summary>True when the server has closed the connection (reads EOF within the timeout).</summary>
    public bool IsClosedByServer(int timeoutMs = 3000)
    {
        _tcp.ReceiveTimeout = timeoutMs;
        try { return _in.ReadByte() < 0; }
        catch (IOException) { return true; }
    }

    public void Dispose() => _tcp.Dispose();
}

public sealed record RespError(string Message)
{
    public override string ToString() => Message;
}
