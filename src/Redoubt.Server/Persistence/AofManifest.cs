using System.Text;

namespace Redoubt.Server.Persistence;

/// <summary>One file of the multi-part AOF: its name, sequence number and type (b base, i incr, h history).</summary>
public sealed record AofFileInfo(string Name, long Seq, char Type);

/// <summary>Raised for a manifest that cannot be used; <see cref="LogLines"/> are what the server logs before exiting.</summary>
public sealed class AofManifestException(string message, IReadOnlyList<string> logLines) : Exception(message)
{
    public IReadOnlyList<string> LogLines { get; } = logLines;
}

/// <summary>
/// The AOF manifest (appendonly.aof.manifest): which base file, incr files and history files make up
/// the AOF, written base first, then history, then incr files in sequence order.
/// </summary>
public sealed class AofManifest
{
    public AofFileInfo? Base;
    public readonly List<AofFileInfo> History = new();
    public readonly List<AofFileInfo> Incr = new();
    public long CurrentBaseSeq, CurrentIncrSeq;

    public AofManifest Clone()
    {
        var m = new AofManifest { Base = Base, CurrentBaseSeq = CurrentBaseSeq, CurrentIncrSeq = CurrentIncrSeq };
        m.History.AddRange(History);
        m.Incr.AddRange(Incr);
        return m;
    }

    public static string ManifestName(string appendFilename) => appendFilename + ".manifest";

    /// <summary>Starts a new base file (the previous one becomes history); returns its name.</summary>
    public string NewBase(string appendFilename, bool rdb)
    {
        if (Base != null) History.Add(Base with { Type = 'h' });
        string name = $"{appendFilename}.{++CurrentBaseSeq}.base{(rdb ? ".rdb" : ".aof")}";
        Base = new AofFileInfo(name, CurrentBaseSeq, 'b');
        return name;
    }

    /// <summary>Starts a new incr file; returns its name.</summary>
    public string NewIncr(string appendFilename)
    {
        string name = $"{appendFilename}.{++CurrentIncrSeq}.incr.aof";
        Incr.Add(new AofFileInfo(name, CurrentIncrSeq, 'i'));
        return name;
    }

    /// <summary>After a rewrite: every incr file but the newest is covered by the new base.</summary>
    public void MarkRewrittenIncrsAsHistory(bool keepNewest = true)
    {
        while (Incr.Count > (keepNewest ? 1 : 0))
        {
            History.Add(Incr[0] with { Type = 'h' });
            Incr.RemoveAt(0);
        }
    }

    public string Format()
    {
        var sb = new StringBuilder();
        if (Base != null) Line(sb, Base);
        foreach (var h in History) Line(sb, h);
        foreach (var i in Incr) Line(sb, i);
        return sb.ToString();
    }

    private static void Line(StringBuilder sb, AofFileInfo f)
        => sb.Append("file ").Append(NeedsQuoting(f.Name) ? Quote(f.Name) : f.Name)
             .Append(" seq ").Append(f.Seq).Append(" type ").Append(f.Type).Append('\n');

    private static bool NeedsQuoting(string s)
    {
        foreach (char ch in s) if (ch <= ' ' || ch >= 127 || ch is '"' or '\'' or '\\') return true;
        return false;
    }

    private static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char ch in s)
        {
            switch (ch)
            {
                case '\\': sb.Append("\\\\"); break;
                case '"': sb.Append("\\\""); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (ch < ' ' || ch >= 127) sb.Append("\\x").Append(((int)ch).ToString("x2"));
                    else sb.Append(ch);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Parses a manifest with Redis's rules; throws <see cref="AofManifestException"/> with its log lines.</summary>
    public static AofManifest Parse(string text)
    {
        var m = new AofManifest();
        long maxSeq = 0;
        int lineNo = 0;
        var lines = text.Split('\n');
        // A final newline leaves an empty last piece, which is not a line.
        int count = lines.Length - (text.EndsWith('\n') ? 1 : 0);
        if (text.Length == 0) Fail("Found an empty AOF manifest", null, 0);
        for (int k = 0; k < count; k++)
        {
            string raw = lines[k];
            lineNo++;
            if (raw.StartsWith('#')) continue;
            // Lines are read 1024 bytes at a time: one without its newline within them is too long.
            if (raw.Length >= 1024 || (k == count - 1 && !text.EndsWith('\n'))) Fail("The AOF manifest file contains too long line", null, lineNo);
            string line = raw.Trim(' ', '\t', '\r', '\n');
            if (line.Length == 0) Fail("Invalid AOF manifest file format", line, lineNo);
            List<string>? argv = null;
            if (Protocol.InlineSplitter.Split(Encoding.Latin1.GetBytes(line), out var parts))
                argv = parts.ConvertAll(p => Encoding.Latin1.GetString(p));
            if (argv is null || argv.Count < 6 || argv.Count % 2 != 0) Fail("Invalid AOF manifest file format", line, lineNo);
            string? name = null;
            long seq = 0;
            char type = '\0';
            for (int i = 0; i < argv!.Count; i += 2)
            {
                if (argv[i].Equals("file", StringComparison.OrdinalIgnoreCase))
                {
                    name = argv[i + 1];
                    if (name.Contains('/')) Fail("File can't be a path, just a filename", line, lineNo);
                }
                else if (argv[i].Equals("seq", StringComparison.OrdinalIgnoreCase)) seq = AtoLL(argv[i + 1]);
                else if (argv[i].Equals("type", StringComparison.OrdinalIgnoreCase)) type = argv[i + 1].Length > 0 ? argv[i + 1][0] : '\0';
            }
            if (name is null || seq == 0 || type == '\0') Fail("Invalid AOF manifest file format", line, lineNo);
            var info = new AofFileInfo(name!, seq, type);
            switch (type)
            {
                case 'b':
                    if (m.Base != null) Fail("Found duplicate base file information", line, lineNo);
                    m.Base = info;
                    m.CurrentBaseSeq = seq;
                    break;
                case 'h':
                    m.History.Add(info);
                    break;
                case 'i':
                    if (seq <= maxSeq) Fail("Found a non-monotonic sequence number", line, lineNo);
                    m.Incr.Add(info);
                    m.CurrentIncrSeq = seq;
                    maxSeq = seq;
                    break;
                default:
                    Fail("Unknown AOF file type", line, lineNo);
                    break;
            }
        }
        return m;
    }

    private static long AtoLL(string s)
    {
        int i = 0;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        bool neg = i < s.Length && s[i] == '-';
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) i++;
        long v = 0;
        for (; i < s.Length && s[i] >= '0' && s[i] <= '9'; i++) v = unchecked(v * 10 + (s[i] - '0'));
        return neg ? -v : v;
    }

    private static void Fail(string error, string? line, int lineNo)
    {
        var log = new List<string> { "\n*** FATAL AOF MANIFEST FILE ERROR ***\n" };
        if (line != null)
        {
            log.Add($"Reading the manifest file, at line {lineNo}\n");
            log.Add($">>> '{line}'\n");
        }
        log.Add(error + "\n");
        throw new AofManifestException(error, log);
    }
}
