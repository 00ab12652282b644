using System.Text;
using Redoubt.Server.Commands.Specs;

namespace Redoubt.Server.Commands;

/// <summary>A command handler: parses its arguments from the client and writes the reply.</summary>
public delegate void CommandHandler(Client c);

/// <summary>A command or subcommand with its spec, its handler and its runtime statistics.</summary>
public sealed class Command
{
    public readonly CommandSpec Spec;
    public readonly string Name;          // lower-case, "config|get" for subcommands
    public readonly byte[] NameBytes;
    public readonly Command? Parent;
    public CommandHandler? Handler;
    public Dictionary<string, Command>? Subcommands;
    /// <summary>Assigned at table build time; indexes ACL permission bitmaps.</summary>
    public int Id;

    // INFO commandstats / latencystats
    public long Calls, MicrosecondsTotal, RejectedCalls, FailedCalls;
    /// <summary>Created on the first call while latency-tracking is on; cleared by CONFIG RESETSTAT.</summary>
    public Monitoring.LatencyHistogram? Latency;

    public Command(CommandSpec spec, Command? parent)
    {
        Spec = spec;
        Name = spec.Name;
        NameBytes = Encoding.ASCII.GetBytes(spec.Name);
        Parent = parent;
    }

    public int Arity => Spec.Arity;
    public CommandFlags Flags => Spec.Flags;
    public bool Has(CommandFlags f) => (Spec.Flags & f) != 0;
    public bool IsContainer => Subcommands != null;
    /// <summary>A command answers only when it (or, for a container, any subcommand) has a handler.</summary>
    public bool IsImplemented => Handler != null || (Subcommands?.Values.Any(s => s.Handler != null) ?? false);
    /// <summary>The name used in error messages and ACL: "get" or "config|get".</summary>
    public string FullName => Name;
}

/// <summary>
/// The one table of commands. Built from the static specs; each command family binds its handlers.
/// Dispatch, arity errors, COMMAND, ACL, replica read-only checks and key extraction all read it.
/// </summary>
public sealed class CommandTable
{
    private readonly Dictionary<string, Command> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Command>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly List<Command> _all = new();
    // Original names after rename-command: renamed entries map new name -> command.
    public CommandTable()
    {
        foreach (var spec in AllSpecs.Server) AddSpec(spec);
        _lookup = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    private void AddSpec(CommandSpec spec)
    {
        var cmd = new Command(spec, null) { Id = _all.Count };
        _all.Add(cmd);
        _byName[spec.Name] = cmd;
        if (spec.Subcommands is { Length: > 0 } subs)
        {
            cmd.Subcommands = new Dictionary<string, Command>(StringComparer.OrdinalIgnoreCase);
            foreach (var s in subs)
            {
                var sub = new Command(s, cmd) { Id = _all.Count };
                _all.Add(sub);
                string subName = s.Name[(s.Name.IndexOf('|') + 1)..];
                cmd.Subcommands[subName] = sub;
            }
        }
    }

    /// <summary>Every command and subcommand, including those without a handler.</summary>
    public IReadOnlyList<Command> AllCommands => _all;

    /// <summary>Top-level commands that answer (what COMMAND lists).</summary>
    public IEnumerable<Command> Implemented => _byName.Values.Where(c => c.IsImplemented).Distinct();

    public int Count => _all.Count;

    /// <summary>Binds a handler: "get" or "config|get".</summary>
    public void Bind(string name, CommandHandler handler)
    {
        var cmd = FindByFullName(name) ?? throw new InvalidOperationException($"no spec for command '{name}'");
        cmd.Handler = handler;
    }

    public Command? FindByFullName(string name)
    {
        int bar = name.IndexOf('|');
        if (bar < 0) return _byName.GetValueOrDefault(name);
        var parent = _byName.GetValueOrDefault(name[..bar]);
        return parent?.Subcommands?.GetValueOrDefault(name[(bar + 1)..]);
    }

    /// <summary>Looks a top-level command up by its (case-insensitive) name bytes.</summary>
    public Command? Lookup(ReadOnlySpan<byte> name)
    {
        if (name.Length > 64) return null;
        Span<char> chars = stackalloc char[name.Length];
        for (int i = 0; i < name.Length; i++) chars[i] = (char)name[i];
        return _lookup.TryGetValue(chars, out var cmd) ? cmd : null;
    }

    public static Command? LookupSub(Command parent, ReadOnlySpan<byte> name)
    {
        if (parent.Subcommands is null || name.Length > 64) return null;
        var lookup = parent.Subcommands.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> chars = stackalloc char[name.Length];
        for (int i = 0; i < name.Length; i++) chars[i] = (char)name[i];
        return lookup.TryGetValue(chars, out var cmd) ? cmd : null;
    }

    /// <summary>rename-command: "" removes the command, otherwise it answers only to the new name.</summary>
    public bool Rename(string oldName, string newName)
    {
        if (!_byName.Remove(oldName, out var cmd)) return false;
        if (newName.Length > 0) _byName[newName] = cmd;
        _renamed.Add(cmd);
        return true;
    }

    private readonly HashSet<Command> _renamed = new();

    /// <summary>True when the command still answers to its own name (not renamed away).</summary>
    public bool IsCurrentName(Command cmd) => _renamed.Count == 0 || !_renamed.Contains(cmd);

    /// <summary>
    /// Key argument positions for a command line per its key specs (COMMAND GETKEYS, ACL key checks,
    /// proxy routing, cluster slots). Returns false when the arguments do not match the specs.
    /// </summary>
    public static bool GetKeyPositions(Command cmd, IReadOnlyList<byte[]> argv, List<int> positions)
    {
        return KeyExtraction.Extract(cmd, argv.Count, i => argv[i], positions);
    }
}
