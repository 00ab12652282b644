// Command metadata for the hyperloglog family (Redis 7.0 semantics).
namespace Redoubt.Server.Commands.Specs;

internal static class HyperLogLogSpecs
{
    public static readonly CommandSpec[] All =
    [
        new("pfadd", -2, CommandFlags.Write | CommandFlags.DenyOom | CommandFlags.Fast, AclCategories.Write | AclCategories.HyperLogLog | AclCategories.Fast,
            [KeySpec.Range(KeySpecFlags.RW | KeySpecFlags.Insert, 1)],
            "hyperloglog", "2.8.9", "Adds the specified elements to the specified HyperLogLog.", "O(1) to add every element."),
        new("pfcount", -2, CommandFlags.ReadOnly | CommandFlags.MayReplicate, AclCategories.Read | AclCategories.HyperLogLog | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RW | KeySpecFlags.Access, 1, -1, notes: "RW because it may change the internal representation of the key, and propagate to replicas")],
            "hyperloglog", "2.8.9", "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).", "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys."),
        new("pfdebug", 3, CommandFlags.Write | CommandFlags.DenyOom | CommandFlags.Admin, AclCategories.Write | AclCategories.HyperLogLog | AclCategories.Admin | AclCategories.Slow | AclCategories.Dangerous,
            [KeySpec.Range(KeySpecFlags.RW | KeySpecFlags.Access, 2)],
            "hyperloglog", "2.8.9", "Internal commands for debugging HyperLogLog values", "N/A"),
        new("pfmerge", -2, CommandFlags.Write | CommandFlags.DenyOom, AclCategories.Write | AclCategories.HyperLogLog | AclCategories.Slow,
            [
                KeySpec.Range(KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Insert, 1),
                KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 2, -1),
            ],
            "hyperloglog", "2.8.9", "Merge N different HyperLogLogs into a single one.", "O(N) to merge N HyperLogLogs, but with high constant times."),
        new("pfselftest", 1, CommandFlags.Admin, AclCategories.HyperLogLog | AclCategories.Admin | AclCategories.Slow | AclCategories.Dangerous,
            [],
            "hyperloglog", "2.8.9", "An internal command for testing HyperLogLog values", "N/A"),
    ];
}
