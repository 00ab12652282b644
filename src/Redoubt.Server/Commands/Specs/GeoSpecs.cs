// Command metadata for the geo family (Redis 7.0 semantics).
namespace Redoubt.Server.Commands.Specs;

internal static class GeoSpecs
{
    public static readonly CommandSpec[] All =
    [
        new("geoadd", -5, CommandFlags.Write | CommandFlags.DenyOom, AclCategories.Write | AclCategories.Geo | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RW | KeySpecFlags.Update, 1)],
            "geo", "3.2.0", "Add one or more geospatial items in the geospatial index represented using a sorted set", "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
        new("geodist", -4, CommandFlags.ReadOnly, AclCategories.Read | AclCategories.Geo | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1)],
            "geo", "3.2.0", "Returns the distance between two members of a geospatial index", "O(log(N))"),
        new("geohash", -2, CommandFlags.ReadOnly, AclCategories.Read | AclCategories.Geo | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1)],
            "geo", "3.2.0", "Returns members of a geospatial index as standard geohash strings", "O(log(N)) for each member requested, where N is the number of elements in the sorted set."),
        new("geopos", -2, CommandFlags.ReadOnly, AclCategories.Read | AclCategories.Geo | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1)],
            "geo", "3.2.0", "Returns longitude and latitude of members of a geospatial index", "O(N) where N is the number of members requested."),
        new("georadius", -6, CommandFlags.Write | CommandFlags.DenyOom | CommandFlags.MovableKeys, AclCategories.Write | AclCategories.Geo | AclCategories.Slow,
            [
                KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1),
                KeySpec.KeywordRange(KeySpecFlags.OW | KeySpecFlags.Update, "STORE", 6),
                KeySpec.KeywordRange(KeySpecFlags.OW | KeySpecFlags.Update, "STOREDIST", 6),
            ],
            "geo", "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."),
        new("georadius_ro", -6, CommandFlags.ReadOnly, AclCategories.Read | AclCategories.Geo | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1)],
            "geo", "3.2.10", "A read-only variant for GEORADIUS", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."),
        new("georadiusbymember", -5, CommandFlags.Write | CommandFlags.DenyOom | CommandFlags.MovableKeys, AclCategories.Write | AclCategories.Geo | AclCategories.Slow,
            [
                KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1),
                KeySpec.KeywordRange(KeySpecFlags.OW | KeySpecFlags.Update, "STORE", 5),
                KeySpec.KeywordRange(KeySpecFlags.OW | KeySpecFlags.Update, "STOREDIST", 5),
            ],
            "geo", "3.2.0", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."),
        new("georadiusbymember_ro", -5, CommandFlags.ReadOnly, AclCategories.Read | AclCategories.Geo | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1)],
            "geo", "3.2.10", "A read-only variant for GEORADIUSBYMEMBER", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."),
        new("geosearch", -7, CommandFlags.ReadOnly, AclCategories.Read | AclCategories.Geo | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 1)],
            "geo", "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape"),
        new("geosearchstore", -8, CommandFlags.Write | CommandFlags.DenyOom, AclCategories.Write | AclCategories.Geo | AclCategories.Slow,
            [
                KeySpec.Range(KeySpecFlags.OW | KeySpecFlags.Update, 1),
                KeySpec.Range(KeySpecFlags.RO | KeySpecFlags.Access, 2),
            ],
            "geo", "6.2.0", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape"),
    ];
}
