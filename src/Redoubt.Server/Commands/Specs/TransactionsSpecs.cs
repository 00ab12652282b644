// Command metadata for the transactions family (Redis 7.0 semantics).
namespace Redoubt.Server.Commands.Specs;

internal static class TransactionsSpecs
{
    public static readonly CommandSpec[] All =
    [
        new("discard", 1, CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.AllowBusy, AclCategories.Fast | AclCategories.Transaction,
            [],
            "transactions", "2.0.0", "Discard all commands issued after MULTI", "O(N), when N is the number of queued commands"),
        new("exec", 1, CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.SkipSlowlog, AclCategories.Slow | AclCategories.Transaction,
            [],
            "transactions", "1.2.0", "Execute all commands issued after MULTI", "Depends on commands in the transaction"),
        new("multi", 1, CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.AllowBusy, AclCategories.Fast | AclCategories.Transaction,
            [],
            "transactions", "1.2.0", "Mark the start of a transaction block", "O(1)"),
        new("unwatch", 1, CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.AllowBusy, AclCategories.Fast | AclCategories.Transaction,
            [],
            "transactions", "2.2.0", "Forget about all watched keys", "O(1)"),
        new("watch", -2, CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.AllowBusy, AclCategories.Fast | AclCategories.Transaction,
            [KeySpec.Range(KeySpecFlags.RO, 1, -1)],
            "transactions", "2.2.0", "Watch the given keys to determine execution of the MULTI/EXEC block", "O(1) for every key."),
    ];
}
