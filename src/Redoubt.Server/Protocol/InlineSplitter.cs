namespace Redoubt.Server.Protocol;

/// <summary>
/// Splits a line into arguments the way Redis's sdssplitargs does: blanks separate arguments,
/// "double quotes" understand \n \r \t \b \a \xHH and \c escapes, 'single quotes' understand \' only,
/// and a closing quote must be followed by a blank or the end of the line. Used for inline commands
/// and for redis.conf lines.
/// </summary>
public static class InlineSplitter
{
    public static bool Split(ReadOnlySpan<byte> line, out List<byte[]> args)
    {
        args = new List<byte[]>();
        var current = new List<byte>();
        int p = 0;
        int n = line.Length;
        // A NUL ends the line, as it ends the C string Redis splits.
        int nul = line.IndexOf((byte)0);
        if (nul >= 0) n = nul;
        while (true)
        {
            while (p < n && IsSpace(line[p])) p++;
            if (p >= n) return true;
            bool inDouble = false, inSingle = false, done = false;
            current.Clear();
            while (!done)
            {
                byte c = p < n ? line[p] : (byte)0;
                bool atEnd = p >= n;
                if (inDouble)
                {
                    if (c == '\\' && p + 3 < n + 0 && line[p + 1] == 'x' && IsHex(line[p + 2]) && IsHex(line[p + 3]))
                    {
                        current.Add((byte)(HexValue(line[p + 2]) * 16 + HexValue(line[p + 3])));
                        p += 3;
                    }
                    else if (c == '\\' && p + 1 < n)
                    {
                        p++;
                        current.Add(line[p] switch
                        {
                            (byte)'n' => (byte)'\n',
                            (byte)'r' => (byte)'\r',
                            (byte)'t' => (byte)'\t',
                            (byte)'b' => (byte)'\b',
                            (byte)'a' => (byte)'\a',
                            var other => other,
                        });
                    }
                    else if (c == '"' && !atEnd)
                    {
                        if (p + 1 < n && !IsSpace(line[p + 1])) return false;
                        done = true;
                    }
                    else if (atEnd) return false;
                    else current.Add(c);
                }
                else if (inSingle)
                {
                    if (c == '\\' && p + 1 < n && line[p + 1] == '\'')
                    {
                        p++;
                        current.Add((byte)'\'');
                    }
                    else if (c == '\'' && !atEnd)
                    {
                        if (p + 1 < n && !IsSpace(line[p + 1])) return false;
                        done = true;
                    }
                    else if (atEnd) return false;
                    else current.Add(c);
                }
                else
                {
                    if (atEnd || c == ' ' || c == '\n' || c == '\r' || c == '\t') done = true;
                    else if (c == '"') inDouble = true;
                    else if (c == '\'') inSingle = true;
                    else current.Add(c);
                }
                if (p < n) p++;
            }
            args.Add(current.ToArray());
        }
    }

    public static bool Split(string line, out List<string> args)
    {
        args = new List<string>();
        if (!Split(System.Text.Encoding.Latin1.GetBytes(line), out List<byte[]> raw)) return false;
        foreach (var a in raw) args.Add(System.Text.Encoding.Latin1.GetString(a));
        return true;
    }

    private static bool IsSpace(byte c) => c == ' ' || (c >= '\t' && c <= '\r');
    private static bool IsHex(byte c) => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    private static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
