using System.Text;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Config;

/// <summary>
/// A config problem that stops the server. Most are reported with Redis's FATAL CONFIG FILE ERROR block
/// on stderr; a file that cannot be opened is reported as a log line instead (<see cref="IsLogLine"/>).
/// </summary>
public sealed class ConfigFileException : Exception
{
    public int LineNumber { get; }
    public string? Line { get; }
    public string Reason { get; }
    /// <summary>Reported as a warning log line rather than the error block (Redis logs unreadable files).</summary>
    public bool IsLogLine { get; init; }

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
/// "include" files (glob patterns allowed, paths relative to the working directory) read in place, and
/// the directives that are not plain settings (rename-command, user, loadmodule, module settings)
/// collected for the server to apply. Command-line options arrive as extra lines after the file.
/// </summary>
public sealed class ConfigLoader
{
    private readonly ServerConfig _config;
    /// <summary>rename-command pairs in order, with where they were read (for the error block).</summary>
    public readonly List<(string From, string To, int Line, string Text)> Renames = new();
    /// <summary>"user" directives (arguments after the keyword).</summary>
    public readonly List<string[]> Users = new();
    /// <summary>"loadmodule path [args...]" directives (arguments after the keyword).</summary>
    public readonly List<string[]> Modules = new();
    /// <summary>Module settings ("module.name value...") waiting for their module.</summary>
    public readonly Dictionary<string, string> ModuleConfigs = new(StringComparer.Ordinal);
    /// <summary>Directives that are not settings of the server role (e.g. "sentinel" lines), left for their role.</summary>
    public readonly List<(string[] Args, int Line, string Text)> Unhandled = new();
    /// <summary>Directives this loader does not know, when the caller accepts them (sentinel mode).</summary>
    public Func<string[], string?>? Fallback;
    private int _includeDepth;

    /// <summary>Nesting guard: a file that includes itself would otherwise recurse until the stack runs out.</summary>
    private const int MaxIncludeDepth = 64;

    public ConfigLoader(ServerConfig config) => _config = config;

    /// <summary>Reads and loads one file (or every file a glob pattern matches, as one text).</summary>
    public void LoadFile(string path)
    {
        string text;
        if (path.AsSpan().IndexOfAny("*?[") >= 0)
        {
            // A pattern that matches nothing is not an error: an empty conf.d directory is fine.
            var sb = new StringBuilder();
            foreach (var match in ExpandGlob(path)) sb.Append(ReadFile(match));
            text = sb.ToString();
        }
        else text = ReadFile(path);
        LoadString(text);
    }

    /// <summary>Reads a config file as bytes (Latin-1 keeps every byte); failures are fatal, as a log line.</summary>
    public static string ReadFile(string path)
    {
        try { return File.ReadAllText(path, Encoding.Latin1); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigFileException($"Fatal error, can't open config file '{path}': {Errno.Describe(e)}") { IsLogLine = true };
        }
    }

    public void LoadString(string text)
    {
        _config.ReadingConfigFile = true;
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int lineNumber = i + 1;
            string line = lines[i].Trim(' ', '\t', '\r', '\n');
            if (line.Length == 0 || line[0] == '#') continue;
            if (!InlineSplitter.Split(line, out List<string> parts))
                throw new ConfigFileException("Unbalanced quotes in configuration line", lineNumber, line);
            if (parts.Count == 0) continue;
            parts[0] = AsciiLower(parts[0]);
            string? err = Apply(parts.ToArray(), lineNumber, line);
            if (err != null) throw new ConfigFileException(err, lineNumber, line);
        }
        FinalChecks();
        // Like Redis, the flag drops at the end of every text read, included files too.
        _config.ReadingConfigFile = false;
    }

    private void FinalChecks()
    {
        if (_config.LogFile.Length > 0)
        {
            // The server cannot stop later for a log it cannot write, so it is checked now.
            try
            {
                using var f = new FileStream(_config.LogFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ConfigFileException("Can't open the log file: " + Errno.Describe(e));
            }
        }
        if (_config.ClusterEnabled && _config.MasterHost != null)
            throw new ConfigFileException("replicaof directive not allowed in cluster mode");
    }

    private static string AsciiLower(string s)
    {
        if (!s.Any(ch => ch is >= 'A' and <= 'Z')) return s;
        return string.Create(s.Length, s, (span, src) =>
        {
            for (int i = 0; i < src.Length; i++) span[i] = src[i] is >= 'A' and <= 'Z' ? (char)(src[i] | 0x20) : src[i];
        });
    }

    private string? Apply(string[] argv, int lineNumber, string line)
    {
        string name = argv[0];
        var entry = _config.Find(name);
        if (entry != null)
        {
            // Single-value directives take exactly one argument; multi-argument ones check their own.
            if (!entry.IsMultiArg && argv.Length != 2) return "wrong number of arguments";
            string[] args = argv[1..];
            if (entry.IsMultiArg && argv.Length == 2 && argv[1].Length > 0)
            {
                // "--save '900 1 300 10'" arrives as one argument: split it again (but not "" = empty).
                // A value that does not split (unbalanced quotes) gives no arguments at all, as in Redis.
                args = InlineSplitter.Split(argv[1], out List<string> split) ? split.ToArray() : [];
            }
            return entry.Set(args);
        }
        switch (name)
        {
            case "list-max-ziplist-entries" or "list-max-ziplist-value" or "lua-replicate-commands" when argv.Length == 2:
                return null; // deprecated: accepted and ignored
            case "include" when argv.Length == 2:
                if (++_includeDepth > MaxIncludeDepth) return "Too many nested includes";
                LoadFile(argv[1]);
                _includeDepth--;
                return null;
            case "rename-command" when argv.Length == 3:
                Renames.Add((argv[1], argv[2], lineNumber, line));
                return null;
            case "user" when argv.Length >= 2:
                if (Security.AclRegistry.ValidateUserDirective(argv, Users) is string userError) return userError;
                Users.Add(argv[1..]);
                return null;
            case "loadmodule" when argv.Length >= 2:
                Modules.Add(argv[1..]);
                return null;
        }
        if (name.Contains('.'))
        {
            if (argv.Length < 2) return "Module config specified without value";
            ModuleConfigs[name] = string.Join(' ', argv[1..]);
            return null;
        }
        if (name == "sentinel")
        {
            // A lone "sentinel" only selects the mode, which the command line handles.
            if (argv.Length == 1) return null;
            if (Fallback != null) return Fallback(argv);
            if (!_config.SentinelMode) return "sentinel directive while not in sentinel mode";
            Unhandled.Add((argv, lineNumber, line));
            return null;
        }
        if (Fallback != null) return Fallback(argv);
        return "Bad directive or wrong number of arguments";
    }

    /// <summary>
    /// glob(3) for include patterns: wildcards in any path component, hidden entries only matched by a
    /// pattern starting with '.', results sorted.
    /// </summary>
    public static List<string> ExpandGlob(string pattern)
    {
        bool absolute = pattern.StartsWith('/');
        var parts = pattern.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = new List<string> { absolute ? "/" : "" };
        for (int p = 0; p < parts.Length; p++)
        {
            string part = parts[p];
            bool last = p == parts.Length - 1;
            var next = new List<string>();
            foreach (var dir in current)
            {
                if (part.AsSpan().IndexOfAny("*?[") < 0)
                {
                    string candidate = dir + part;
                    if (last ? File.Exists(candidate) || Directory.Exists(candidate) : Directory.Exists(candidate))
                        next.Add(last ? candidate : candidate + "/");
                    continue;
                }
                IEnumerable<string> names;
                try { names = Directory.EnumerateFileSystemEntries(dir.Length == 0 ? "." : dir).Select(Path.GetFileName)!; }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
                foreach (var n in names.Order(StringComparer.Ordinal))
                {
                    if (n.StartsWith('.') && !part.StartsWith('.')) continue;
                    if (!GlobMatcher.Match(part, n)) continue;
                    string candidate = dir + n;
                    if (!last)
                    {
                        if (Directory.Exists(candidate)) next.Add(candidate + "/");
                    }
                    else next.Add(candidate);
                }
            }
            current = next;
        }
        current.Sort(StringComparer.Ordinal);
        return current;
    }
}
