using System.Text;

namespace Redoubt.Server.Commands;

/// <summary>rename-command: a command answers only to its new name, or to none when renamed to "".</summary>
public static class CommandRenames
{
    /// <summary>Applies one rename to the table; returns Redis's config error or null.</summary>
    public static string? Apply(CommandTable table, string from, string to)
    {
        if (table.Lookup(Encoding.Latin1.GetBytes(from)) is null) return "No such command in rename-command";
        // The old name is released before the new one is taken, so renaming a command to itself is accepted.
        if (to.Length > 0 && !string.Equals(from, to, StringComparison.OrdinalIgnoreCase)
            && table.Lookup(Encoding.Latin1.GetBytes(to)) != null)
            return "Target command name already exists";
        table.Rename(from, to);
        return null;
    }
}
