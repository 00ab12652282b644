using Redoubt.Server.Commands;

namespace Redoubt.Server.Security;

/// <summary>
/// The command table as ACL rules see it: every command and subcommand by its original name (rules stay
/// valid after rename-command), the id that indexes permission bitmaps, and the category names of ACL CAT.
/// Iteration order is the table's: each command followed by its subcommands.
/// </summary>
public sealed class AclCommandIndex
{
    /// <summary>Category names in ACL CAT order; bit i of <see cref="AclCategories"/> is Names[i].</summary>
    public static readonly string[] CategoryNames =
    [
        "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
        "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
        "transaction", "scripting",
    ];

    private readonly Dictionary<string, Command> _topLevel = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>Top-level commands in table order.</summary>
    public readonly Command[] TopLevel;
    /// <summary>Number of command ids; the bit just past them marks "all future commands" (+@all).</summary>
    public readonly int Count;

    public AclCommandIndex(CommandTable table)
    {
        var top = new List<Command>();
        foreach (var cmd in table.AllCommands)
        {
            if (cmd.Parent != null) continue;
            top.Add(cmd);
            _topLevel[cmd.Name] = cmd;
        }
        TopLevel = top.ToArray();
        Count = table.Count;
    }

    /// <summary>The category flag for a name (case-insensitive), or None.</summary>
    public static AclCategories CategoryByName(string name)
    {
        for (int i = 0; i < CategoryNames.Length; i++)
            if (string.Equals(CategoryNames[i], name, StringComparison.OrdinalIgnoreCase))
                return (AclCategories)(1u << i);
        return AclCategories.None;
    }

    /// <summary>
    /// Strict lookup of "name" or "container|sub": more than one '|' or a '|' after a command without
    /// subcommands finds nothing.
    /// </summary>
    public Command? Lookup(string name)
    {
        int bar = name.IndexOf('|');
        if (bar < 0) return _topLevel.GetValueOrDefault(name);
        if (name.IndexOf('|', bar + 1) >= 0) return null;
        var parent = _topLevel.GetValueOrDefault(name[..bar]);
        if (parent?.Subcommands is null) return null;
        return parent.Subcommands.GetValueOrDefault(name[(bar + 1)..]);
    }

    /// <summary>Every command then its subcommands, in table order.</summary>
    public IEnumerable<Command> All()
    {
        foreach (var cmd in TopLevel)
        {
            yield return cmd;
            if (cmd.Subcommands != null)
                foreach (var sub in cmd.Subcommands.Values)
                    yield return sub;
        }
    }
}
