using System.Globalization;

namespace Redoubt.Server.Monitoring;

/// <summary>Builds the line MONITOR clients receive for a command, and Redis's quoted representation of a string.</summary>
public static class MonitorLine
{
    private static readonly byte[] Redacted = "(redacted)"u8.ToArray();

    public static byte[] Format(Client c, string unixSocket)
    {
        var buf = new ByteBuilder(128);
        long us = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;
        buf.Append('+');
        buf.AppendAscii((us / 1_000_000).ToString(CultureInfo.InvariantCulture));
        buf.Append('.');
        buf.AppendAscii((us % 1_000_000).ToString("D6", CultureInfo.InvariantCulture));
        buf.AppendAscii(" [");
        buf.AppendAscii(c.DbIndex.ToString(CultureInfo.InvariantCulture));
        buf.Append(' ');
        if (c.Connection is null) buf.AppendAscii("lua");
        else if (c.IsUnixSocket) buf.AppendAscii("unix:" + unixSocket);
        else buf.AppendAscii(c.Address);
        buf.AppendAscii("] ");
        for (int j = 0; j < c.Argc; j++)
        {
            if (j > 0) buf.Append(' ');
            AppendRepr(ref buf, c.IsArgRedacted(j) ? Redacted : c.Arg(j));
        }
        buf.AppendAscii("\r\n");
        return buf.ToArray();
    }

    /// <summary>The quoted form Redis uses in logs and MONITOR: printable ASCII as is, \n \r \t \a \b, \\ and \", else \xNN.</summary>
    public static string Repr(ReadOnlySpan<byte> s)
    {
        var buf = new ByteBuilder(s.Length + 2);
        AppendRepr(ref buf, s);
        return System.Text.Encoding.Latin1.GetString(buf.ToArray());
    }

    private static void AppendRepr(ref ByteBuilder buf, ReadOnlySpan<byte> s)
    {
        buf.Append('"');
        foreach (byte b in s)
        {
            switch (b)
            {
                case (byte)'\\': buf.AppendAscii("\\\\"); break;
                case (byte)'"': buf.AppendAscii("\\\""); break;
                case (byte)'\n': buf.AppendAscii("\\n"); break;
                case (byte)'\r': buf.AppendAscii("\\r"); break;
                case (byte)'\t': buf.AppendAscii("\\t"); break;
                case 7: buf.AppendAscii("\\a"); break;
                case 8: buf.AppendAscii("\\b"); break;
                default:
                    if (b >= 32 && b < 127) buf.Append((char)b);
                    else
                    {
                        buf.AppendAscii("\\x");
                        buf.Append(Hex[b >> 4]);
                        buf.Append(Hex[b & 15]);
                    }
                    break;
            }
        }
        buf.Append('"');
    }

    private const string Hex = "0123456789abcdef";

    /// <summary>A small growable byte buffer for building one line.</summary>
    private struct ByteBuilder
    {
        private byte[] _buf;
        private int _len;

        public ByteBuilder(int capacity) { _buf = new byte[Math.Max(16, capacity)]; _len = 0; }

        private void Ensure(int n)
        {
            if (_len + n > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + n));
        }

        public void Append(char ch)
        {
            Ensure(1);
            _buf[_len++] = (byte)ch;
        }

        public void AppendAscii(string s)
        {
            Ensure(s.Length);
            foreach (char ch in s) _buf[_len++] = (byte)ch;
        }

        public readonly byte[] ToArray() => _buf.AsSpan(0, _len).ToArray();
    }
}
