using System.Text;
using Redoubt.Server.Config;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>CONFIG GET / SET / RESETSTAT / REWRITE / HELP over the <see cref="ServerConfig"/> registry.</summary>
public static class ConfigCommands
{
    /// <summary>
    /// Set by the layer that records command lines (MONITOR, SLOWLOG): hides argument <c>i</c> of the current
    /// command, used for the values of sensitive directives such as requirepass and masterauth.
    /// </summary>
    public static Action<Client, int>? RedactArgument;

    public static void Bind(CommandTable t)
    {
        t.Bind("config|get", Get);
        t.Bind("config|set", Set);
        t.Bind("config|resetstat", ResetStat);
        t.Bind("config|rewrite", Rewrite);
        t.Bind("config|help", Help);
    }

    /// <summary>Connects the configuration to the server that runs with it (apply steps, keyspace events).</summary>
    public static void Attach(RedisServer server)
    {
        server.Config.Server = server;
        server.NotifyFlags = server.Config.NotifyKeyspaceEvents;
    }

    private static string Latin1(ReadOnlySpan<byte> s) => Encoding.Latin1.GetString(s);

    /// <summary>
    /// CONFIG GET pattern [pattern ...]: exact names (including hidden directives and aliases, echoed as
    /// given) and glob patterns over every visible name and alias, each name listed once.
    /// </summary>
    private static void Get(Client c)
    {
        var config = c.Server.Config;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var matches = new List<(string Name, ConfigEntry Entry)>();
        for (int i = 2; i < c.Argc; i++)
        {
            string pattern = Latin1(c.Arg(i));
            if (pattern.AsSpan().IndexOfAny("[*?") < 0)
            {
                if (seen.Contains(pattern)) continue;
                var entry = config.Find(pattern);
                if (entry != null)
                {
                    seen.Add(pattern);
                    matches.Add((pattern, entry));
                }
                continue;
            }
            foreach (var (name, entry) in config.RegisteredNames)
            {
                if (entry.IsHidden || seen.Contains(name)) continue;
                if (GlobMatcher.Match(pattern, name, noCase: true))
                {
                    seen.Add(name);
                    matches.Add((name, entry));
                }
            }
        }
        c.Reply.MapHeader(matches.Count);
        foreach (var (name, entry) in matches)
        {
            c.Reply.Bulk(Encoding.Latin1.GetBytes(name));
            c.Reply.Bulk(Encoding.Latin1.GetBytes(entry.Get()));
        }
    }

    /// <summary>
    /// CONFIG SET name value [name value ...]: all or nothing. Every name is checked first (unknown,
    /// immutable, protected, loading, duplicate), then every value is set, then the apply steps of the
    /// changed directives run; a failure at any stage restores every previous value.
    /// </summary>
    private static void Set(Client c)
    {
        if ((c.Argc & 1) != 0)
        {
            c.SyntaxError();
            return;
        }
        var server = c.Server;
        var config = server.Config;
        int count = (c.Argc - 2) / 2;
        var entries = new ConfigEntry[count];
        var names = new string[count];
        var values = new string[count];
        string? unknownName = null, errorName = null, error = null;
        bool invalid = false, loadingError = false;

        for (int i = 0; i < count; i++)
        {
            string name = Latin1(c.Arg(2 + i * 2));
            var entry = config.Find(name, out string registered);
            if (entry is null)
            {
                if (!invalid)
                {
                    unknownName = name;
                    invalid = true;
                }
                continue;
            }
            // Every sensitive value is hidden from MONITOR and the slow log, even when the command fails.
            if (entry.IsSensitive) RedactArgument?.Invoke(c, 3 + i * 2);
            if (invalid) continue;
            if (entry.IsImmutable || ((entry.Flags & ConfigFlags.Protected) != 0 && !AllowProtectedAction(config, c)))
            {
                error = entry.IsImmutable ? "can't set immutable config" : "can't set protected config";
                errorName = name;
                invalid = true;
                continue;
            }
            if ((entry.Flags & ConfigFlags.DenyLoading) != 0 && server.PersistenceStatus.Loading)
            {
                loadingError = true;
                invalid = true;
                continue;
            }
            // A directive and its alias count as different names here, as in Redis (the last one wins).
            for (int j = 0; j < i; j++)
            {
                if (entries[j] == entry && string.Equals(names[j], registered, StringComparison.OrdinalIgnoreCase))
                {
                    error = "duplicate parameter";
                    errorName = name;
                    invalid = true;
                    break;
                }
            }
            entries[i] = entry;
            names[i] = registered;
            values[i] = Latin1(c.Arg(3 + i * 2));
        }

        if (!invalid)
        {
            var old = new string[count];
            for (int i = 0; i < count; i++) old[i] = entries[i].Get();
            var applies = new List<(Func<string?> Apply, int Index)>();
            var changes = new List<Action>();
            for (int i = 0; i < count && errorName is null; i++)
            {
                if (PerformSet(entries[i], values[i]) is string setError)
                {
                    Restore(server, entries, old, i + 1, null);
                    error = setError;
                    errorName = names[i];
                    break;
                }
                bool changed = (entries[i].Flags & ConfigFlags.Volatile) != 0 || entries[i].Get() != old[i];
                if (!changed) continue;
                if (entries[i].Apply is { } apply && !applies.Any(a => a.Apply.Equals(apply))) applies.Add((apply, i));
                if (entries[i].OnChange is { } onChange && !changes.Contains(onChange)) changes.Add(onChange);
            }
            if (errorName is null)
            {
                foreach (var (apply, index) in applies)
                {
                    if (apply() is string applyError)
                    {
                        server.Log.Warning($"Failed applying new configuration. Possibly related to new {names[index]} setting. Restoring previous settings.");
                        Restore(server, entries, old, count, applies);
                        error = applyError;
                        errorName = names[index];
                        break;
                    }
                }
            }
            if (errorName is null)
            {
                foreach (var onChange in changes) onChange();
                c.Reply.Ok();
                return;
            }
        }

        if (loadingError) c.Reply.Error("-LOADING Redis is loading the dataset in memory");
        else if (unknownName != null) c.Reply.Error($"Unknown option or number of arguments for CONFIG SET - '{unknownName}'");
        else if (error != null) c.Reply.Error($"CONFIG SET failed (possibly related to argument '{errorName}') - {error}");
        else c.Reply.Error($"CONFIG SET failed (possibly related to argument '{errorName}')");
    }

    /// <summary>Sets one directive from a CONFIG SET value: multi-argument directives split it at each space.</summary>
    private static string? PerformSet(ConfigEntry entry, string value)
    {
        string[] args = entry.IsMultiArg ? SplitOnSpaces(value) : [value];
        return entry.Set(args);
    }

    /// <summary>Redis's sdssplitlen on " ": an empty string gives no element; adjacent spaces give empty ones.</summary>
    public static string[] SplitOnSpaces(string value) => value.Length == 0 ? [] : value.Split(' ');

    private static void Restore(RedisServer server, ConfigEntry[] entries, string[] old, int count, List<(Func<string?> Apply, int Index)>? applies)
    {
        for (int i = 0; i < count; i++)
        {
            if (PerformSet(entries[i], old[i]) is string err)
                server.Log.Warning($"Failed restoring failed CONFIG SET command. Error setting {entries[i].Name} to '{old[i]}': {err}");
        }
        if (applies is null) return;
        foreach (var (apply, _) in applies)
        {
            if (apply() is string err) server.Log.Warning("Failed applying restored failed CONFIG SET command: " + err);
        }
    }

    /// <summary>enable-protected-configs: yes, or local for loopback and unix-socket clients.</summary>
    private static bool AllowProtectedAction(ServerConfig config, Client c)
    {
        string setting = config.Find("enable-protected-configs")?.Get() ?? "no";
        return setting == "yes" || (setting == "local" && (c.IsLoopback || c.IsUnixSocket));
    }

    private static void ResetStat(Client c)
    {
        c.Server.ResetStats();
        c.Reply.Ok();
    }

    private static void Rewrite(Client c)
    {
        var server = c.Server;
        if (server.Config.ConfigFile is null)
        {
            c.Reply.Error("The server is running without a config file");
            return;
        }
        if (server.Config.Rewrite() is string err)
        {
            server.Log.Warning("CONFIG REWRITE failed: " + err);
            c.Reply.Error("Rewriting config file: " + err);
            return;
        }
        server.Log.Warning("CONFIG REWRITE executed with success.");
        c.Reply.Ok();
    }

    private static readonly string[] HelpLines =
    [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ];

    private static void Help(Client c)
    {
        c.Reply.ArrayHeader(HelpLines.Length);
        foreach (var line in HelpLines) c.Reply.Simple(line);
    }
}
