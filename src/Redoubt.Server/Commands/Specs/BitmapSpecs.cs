// Command metadata for the bitmap family (Redis 7.0 semantics).
namespace Redoubt.Server.Commands.Specs;

internal static class BitmapSpecs
{
    public static readonly CommandSpec[] All =
    [
        new("bitcount", -2, CommandFlags.ReadOnly, AclCategories.Read | AclCategories.Bitmap | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1)],
            "bitmap", "2.6.0", "Count set bits in a string", "O(N)"),
        new("bitfield", -2, CommandFlags.Write | CommandFlags.DenyOom, AclCategories.Write | AclCategories.Bitmap | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Update | KeySpecFlags.VariableFlags, 1, notes: "This command allows both access and modification of the key")],
            "bitmap", "3.2.0", "Perform arbitrary bitfield integer operations on strings", "O(1) for each subcommand specified"),
        new("bitfield_ro", -2, CommandFlags.ReadOnly | CommandFlags.Fast, AclCategories.Read | AclCategories.Bitmap | AclCategories.Fast,
            [KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1)],
            "bitmap", "6.0.0", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", "O(1) for each subcommand specified"),
        new("bitop", -4, CommandFlags.Write | CommandFlags.DenyOom, AclCategories.Write | AclCategories.Bitmap | AclCategories.Slow,
            [
                KeySpec.Range(KeySpecFlags.OW | KeySpecFlags.Update, 2),
                KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 3, -1),
            ],
            "bitmap", "2.6.0", "Perform bitwise operations between strings", "O(N)"),
        new("bitpos", -3, CommandFlags.ReadOnly, AclCategories.Read | AclCategories.Bitmap | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1)],
            "bitmap", "2.8.7", "Find first bit set or clear in a string", "O(N)"),
        new("getbit", 3, CommandFlags.ReadOnly | CommandFlags.Fast, AclCategories.Read | AclCategories.Bitmap | AclCategories.Fast,
            [KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1)],
            "bitmap", "2.2.0", "Returns the bit value at offset in the string value stored at key", "O(1)"),
        new("setbit", 4, CommandFlags.Write | CommandFlags.DenyOom, AclCategories.Write | AclCategories.Bitmap | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Update, 1)],
            "bitmap", "2.2.0", "Sets or clears the bit at offset in the string value stored at key", "O(1)"),
    ];
}
