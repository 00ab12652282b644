using System.Text;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Config;

/// <summary>A config file problem, reported with Redis's FATAL CONFIG FILE ERROR block.</summary>
public sealed class ConfigFileException : Exception
{
    public int LineNumber { get; }
    public string? Line { get; }
    public string Reason { get; }

    public ConfigFileException(string reason, int lineNumber = 0, string? line = null) : base(reason)
    {
        Reason = reason;
        LineNumber = lineNumber;
        Line = line;
    }

    /// <summary>The text redis-server prints on stderr before exiting with status 1.</summary>
    public string FatalBlock()
    {
        var sb = new StringBuilder();
        sb.Append($"\n*** FATAL CONFIG FILE ERROR (Redis {RedisServer.Version}) ***\n");
        if (Line != null)
        {
            sb.Append($"Reading the configuration file, at line {LineNumber}\n");
            sb.Append($">>> '{Line}'\n");
        }
        sb.Append(Reason).Append('\n');
        return sb.ToString();
    }
}

/// <summary>
/// Reads redis.conf text: comments and blank lines skipped, arguments split with Redis's quoting rules,
/// "include" files read in place, and the directives that are not plain settings (rename-command, user)
/// collected for the server to apply. Command-line options arrive as extra lines after the file.
/// </summary>
public sealed class ConfigLoader
{
    private readonly ServerConfig _config;
    /// <summary>rename-command pairs in order.</summary>
    public readonly List<(string From, string To)> Renames = new();
    /// <summary>Where each rename-command was read (same order as <see cref="Renames"/>), for its error report.</summary>
    public readonly List<(int Line, string Text)> RenameLines = new();
    /// <summary>"user" directives (arguments after the keyword).</summary>
    public readonly List<string[]> Users = new();
    /// <summary>Directives that are not settings of the server role (e.g. "sentinel" lines), left for their role.</summary>
    public readonly List<(string[] Args, int Line, string Text)> Unhandled = new();
    /// <summary>Directives this loader does not know, when the caller accepts them (sentinel mode).</summary>
    public Func<string[], string?>? Fallback;
    private int _includeDepth;

    public ConfigLoader(ServerConfig config) => _config = config;

    public void LoadFile(string path)
    {
        string text;
        try { text = File.ReadAllText(path, Encoding.Latin1); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigFileException($"Fatal error, can't open config file '{path}': {ErrnoText(e)}");
        }
        LoadString(text);
    }

    private static string ErrnoText(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        _ => e.Message,
    };

    public void LoadString(string text)
    {
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int lineNumber = i + 1;
            string line = lines[i].Trim(' ', '\t', '\r', '\n');
            if (line.Length == 0 || line[0] == '#') continue;
            if (!InlineSplitter.Split(line, out List<string> parts))
                throw new ConfigFileException("Unbalanced quotes in configuration line", lineNumber, line);
            if (parts.Count == 0) continue;
            parts[0] = parts[0].ToLowerInvariant();
            string? err = Apply(parts.ToArray(), lineNumber, line);
            if (err != null) throw new ConfigFileException(err, lineNumber, line);
        }
    }

    private string? Apply(string[] argv, int lineNumber, string line)
    {
        string name = argv[0];
        var entry = _config.Find(name);
        if (entry != null)
        {
            if (!entry.IsMultiArg && argv.Length != 2) return "wrong number of arguments";
            string[] args = argv[1..];
            if (entry.IsMultiArg && argv.Length == 2 && argv[1].Length > 0)
            {
                // "--save '900 1 300 10'" arrives as one argument: split it like Redis does.
                if (!InlineSplitter.Split(argv[1], out List<string> split)) return "Unbalanced quotes in configuration line";
                args = split.ToArray();
            }
            return entry.Set(args);
        }
        switch (name)
        {
            case "list-max-ziplist-entries" or "list-max-ziplist-value" or "lua-replicate-commands" when argv.Length == 2:
                return null; // deprecated, accepted and ignored as Redis does
            case "include" when argv.Length == 2:
                if (++_includeDepth > 16) return "Too many nested includes";
                LoadFile(argv[1]);
                _includeDepth--;
                return null;
            case "rename-command" when argv.Length == 3:
                Renames.Add((argv[1], argv[2]));
                RenameLines.Add((lineNumber, line));
                return null;
            case "user" when argv.Length >= 2:
                if (Security.AclRegistry.ValidateUserDirective(argv, Users) is string userError) return userError;
                Users.Add(argv[1..]);
                return null;
            case "loadmodule" when argv.Length >= 2:
                return "Module loading is not supported by this server";
            case "sentinel":
                if (Fallback != null) return Fallback(argv);
                if (argv.Length != 1) return "sentinel directive while not in sentinel mode";
                return null;
        }
        if (Fallback != null) return Fallback(argv);
        return "Bad directive or wrong number of arguments";
    }
}
