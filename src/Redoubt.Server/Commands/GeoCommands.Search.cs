using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// GEOSEARCH, GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and their _RO forms: one search routine
/// (Redis's georadiusGeneric) with per-command argument rules.
/// </summary>
public static partial class GeoCommands
{
    private static void BindSearches(CommandTable t)
    {
        t.Bind("georadius", c => Search(c, 1, SearchFlags.Coords));
        t.Bind("georadiusbymember", c => Search(c, 1, SearchFlags.Member));
        t.Bind("georadius_ro", c => Search(c, 1, SearchFlags.Coords | SearchFlags.NoStore));
        t.Bind("georadiusbymember_ro", c => Search(c, 1, SearchFlags.Member | SearchFlags.NoStore));
        t.Bind("geosearch", c => Search(c, 1, SearchFlags.GeoSearch));
        t.Bind("geosearchstore", c => Search(c, 2, SearchFlags.GeoSearch | SearchFlags.GeoSearchStore));
    }

    [Flags]
    private enum SearchFlags
    {
        Coords = 1,          // GEORADIUS: center from longitude latitude arguments
        Member = 2,          // GEORADIUSBYMEMBER: center from a member
        NoStore = 4,         // the _RO forms: no STORE/STOREDIST
        GeoSearch = 8,       // FROMMEMBER/FROMLONLAT and BYRADIUS/BYBOX options
        GeoSearchStore = 16, // destination as the first key, STOREDIST as a bare flag
    }

    private enum SortOrder { None, Asc, Desc }

    /// <summary>A point found by a search: its position in the set (for the member), score, coordinates and distance.</summary>
    internal struct GeoPoint
    {
        public int Pos;
        public double Lon, Lat, Dist, Score;
    }

    private static readonly Comparison<GeoPoint> ByDistanceAsc = (a, b) => a.Dist > b.Dist ? 1 : a.Dist == b.Dist ? 0 : -1;
    private static readonly Comparison<GeoPoint> ByDistanceDesc = (a, b) => -ByDistanceAsc(a, b);

    private static void Search(Client c, int srcKeyIdx, SearchFlags flags)
    {
        byte[]? storeKey = null;
        bool storeDist = false;
        if (!SortedSetCommands.TryRead(c, c.Arg(srcKeyIdx), out var z)) return;

        int baseArgs;
        var shape = new GeoShape();
        if ((flags & SearchFlags.Coords) != 0)
        {
            baseArgs = 6;
            if (!TryGetLonLat(c, 2, out shape.Lon, out shape.Lat)) return;
            if (!TryGetDistance(c, baseArgs - 2, ref shape)) return;
        }
        else if ((flags & SearchFlags.Member) != 0 && z is null)
        {
            // No set: the options are still parsed so the reply can follow STORE or not.
            baseArgs = 5;
        }
        else if ((flags & SearchFlags.Member) != 0)
        {
            baseArgs = 5;
            if (!MemberPosition(z!, c.Arg(2), out shape.Lon, out shape.Lat))
            {
                c.Reply.Error("could not decode requested zset member");
                return;
            }
            if (!TryGetDistance(c, baseArgs - 2, ref shape)) return;
        }
        else
        {
            baseArgs = 2;
            if ((flags & SearchFlags.GeoSearchStore) != 0)
            {
                baseArgs = 3;
                storeKey = c.ArgBytes(1);
            }
        }

        bool withDist = false, withHash = false, withCoords = false;
        bool fromMember = false, fromLoc = false, byRadius = false, byBox = false;
        var sort = SortOrder.None;
        bool any = false;
        long count = 0;
        bool geoSearch = (flags & SearchFlags.GeoSearch) != 0;
        bool storeAllowed = (flags & (SearchFlags.NoStore | SearchFlags.GeoSearch)) == 0;
        int remaining = c.Argc - baseArgs;
        for (int i = 0; i < remaining; i++)
        {
            int a = baseArgs + i;
            if (c.ArgIs(a, "withdist"u8)) withDist = true;
            else if (c.ArgIs(a, "withhash"u8)) withHash = true;
            else if (c.ArgIs(a, "withcoord"u8)) withCoords = true;
            else if (c.ArgIs(a, "any"u8)) any = true;
            else if (c.ArgIs(a, "asc"u8)) sort = SortOrder.Asc;
            else if (c.ArgIs(a, "desc"u8)) sort = SortOrder.Desc;
            else if (c.ArgIs(a, "count"u8) && i + 1 < remaining)
            {
                if (!c.TryGetLong(a + 1, out count)) return;
                if (count <= 0)
                {
                    c.Reply.Error("COUNT must be > 0");
                    return;
                }
                i++;
            }
            else if (c.ArgIs(a, "store"u8) && i + 1 < remaining && storeAllowed)
            {
                storeKey = c.ArgBytes(a + 1);
                storeDist = false;
                i++;
            }
            else if (c.ArgIs(a, "storedist"u8) && i + 1 < remaining && storeAllowed)
            {
                storeKey = c.ArgBytes(a + 1);
                storeDist = true;
                i++;
            }
            else if (c.ArgIs(a, "storedist"u8) && geoSearch && (flags & SearchFlags.GeoSearchStore) != 0)
            {
                storeDist = true;
            }
            else if (c.ArgIs(a, "frommember"u8) && i + 1 < remaining && geoSearch && !fromLoc)
            {
                // Without a set the member cannot be looked up; the empty reply comes after parsing.
                if (z != null && !MemberPosition(z, c.Arg(a + 1), out shape.Lon, out shape.Lat))
                {
                    c.Reply.Error("could not decode requested zset member");
                    return;
                }
                fromMember = true;
                i++;
            }
            else if (c.ArgIs(a, "fromlonlat"u8) && i + 2 < remaining && geoSearch && !fromMember)
            {
                if (!TryGetLonLat(c, a + 1, out shape.Lon, out shape.Lat)) return;
                fromLoc = true;
                i += 2;
            }
            else if (c.ArgIs(a, "byradius"u8) && i + 2 < remaining && geoSearch && !byBox)
            {
                if (!TryGetDistance(c, a + 1, ref shape)) return;
                shape.IsBox = false;
                byRadius = true;
                i += 2;
            }
            else if (c.ArgIs(a, "bybox"u8) && i + 3 < remaining && geoSearch && !byRadius)
            {
                if (!TryGetBox(c, a + 1, ref shape)) return;
                shape.IsBox = true;
                byBox = true;
                i += 3;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }

        if (storeKey != null && (withDist || withHash || withCoords))
        {
            string who = (flags & SearchFlags.GeoSearchStore) != 0 ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS";
            c.Reply.Error(who + " is not compatible with WITHDIST, WITHHASH and WITHCOORD options");
            return;
        }
        if (geoSearch && !(fromMember || fromLoc))
        {
            c.Reply.Error("exactly one of FROMMEMBER or FROMLONLAT can be specified for " + c.ArgString(0));
            return;
        }
        if (geoSearch && !(byRadius || byBox))
        {
            c.Reply.Error("exactly one of BYRADIUS and BYBOX can be specified for " + c.ArgString(0));
            return;
        }
        if (any && count == 0)
        {
            c.Reply.Error("the ANY argument requires COUNT argument");
            return;
        }

        if (z is null)
        {
            if (storeKey != null)
            {
                SortedSetCommands.DeleteDestination(c, storeKey);
                c.Reply.Integer(0);
            }
            else c.Reply.EmptyArray();
            return;
        }

        // COUNT keeps the nearest points, which needs them sorted; ANY keeps the first ones found.
        if (count != 0 && sort == SortOrder.None && !any) sort = SortOrder.Asc;

        var cells = GeoHash.CalculateAreas(ref shape);
        var found = c.Server.GeoSearchScratch;
        found.Clear();
        try
        {
            MembersOfAllCells(z, cells, shape, found, any ? count : 0);
            if (found.Count == 0 && storeKey is null)
            {
                c.Reply.EmptyArray();
                return;
            }

            int resultLength = found.Count;
            int returned = count == 0 || resultLength < count ? resultLength : (int)count;
            var points = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(found);
            if (sort != SortOrder.None)
            {
                var cmp = sort == SortOrder.Asc ? ByDistanceAsc : ByDistanceDesc;
                if (returned == resultLength) StableSort(points, sort == SortOrder.Desc);
                else PartialQuickSort.Sort(points, cmp, 0, returned - 1);
            }

            if (storeKey is null) ReplyPoints(c, z, points[..returned], shape.Conversion, withDist, withHash, withCoords);
            else StorePoints(c, z, points[..returned], shape.Conversion, storeKey, storeDist, geoSearch);
        }
        finally
        {
            found.Clear();
            // Keep the scratch list small after a search that matched a huge area.
            if (found.Capacity > 1 << 16) found.Capacity = 1024;
        }
    }

    /// <summary>Radius and unit at arguments i, i + 1.</summary>
    private static bool TryGetDistance(Client c, int i, ref GeoShape shape)
    {
        if (!TryGetDouble(c, i, "need numeric radius", out double radius)) return false;
        if (radius < 0)
        {
            c.Reply.Error("radius cannot be negative");
            return false;
        }
        shape.Radius = radius;
        double toMeters = UnitOrReply(c, i + 1);
        if (toMeters < 0) return false;
        shape.Conversion = toMeters;
        return true;
    }

    /// <summary>Width, height and unit at arguments i..i + 2.</summary>
    private static bool TryGetBox(Client c, int i, ref GeoShape shape)
    {
        if (!TryGetDouble(c, i, "need numeric width", out double w) || !TryGetDouble(c, i + 1, "need numeric height", out double h)) return false;
        if (h < 0 || w < 0)
        {
            c.Reply.Error("height or width cannot be negative");
            return false;
        }
        shape.Height = h;
        shape.Width = w;
        double toMeters = UnitOrReply(c, i + 2);
        if (toMeters < 0) return false;
        shape.Conversion = toMeters;
        return true;
    }

    /// <summary>
    /// glibc's qsort (a merge sort, hence stable) by distance: ties keep the order they were found in.
    /// Descending order negates the comparison, so ties still keep that order.
    /// </summary>
    private static void StableSort(Span<GeoPoint> points, bool descending)
    {
        // Position in the set is unique per point, but the found order is what decides ties: number them.
        var seq = new (GeoPoint P, int I)[points.Length];
        for (int i = 0; i < points.Length; i++) seq[i] = (points[i], i);
        Array.Sort(seq, (x, y) =>
        {
            int r = x.P.Dist > y.P.Dist ? 1 : x.P.Dist == y.P.Dist ? 0 : -1;
            if (descending) r = -r;
            return r != 0 ? r : x.I.CompareTo(y.I);
        });
        for (int i = 0; i < points.Length; i++) points[i] = seq[i].P;
    }

    /// <summary>
    /// Scans the center cell and its neighbours in Redis's order (center, N, S, E, W, NE, NW, SE, SW),
    /// skipping cleared cells and a cell equal to the last one scanned (huge radii make neighbours
    /// coincide); with a limit (ANY) it stops once that many points are found.
    /// </summary>
    private static void MembersOfAllCells(SortedSetObject z, in GeoSearchCells cells, in GeoShape shape, List<GeoPoint> found, long limit)
    {
        int lastProcessed = 0;
        for (int i = 0; i < 9; i++)
        {
            var cell = cells[i];
            if (cell.IsZero) continue;
            var last = cells[lastProcessed];
            if (lastProcessed != 0 && cell.Bits == last.Bits && cell.Step == last.Step) continue;
            if (found.Count > 0 && limit != 0 && found.Count >= limit) break;
            GeoHash.ScoresOfCell(cell, out ulong min, out ulong max);
            PointsInRange(z, min, max, shape, found, limit);
            lastProcessed = i;
        }
    }

    /// <summary>Appends the set's points with min &lt;= score &lt; max that lie in the shape.</summary>
    private static void PointsInRange(SortedSetObject z, double min, double max, in GeoShape shape, List<GeoPoint> found, long limit)
    {
        var range = new ScoreRange(min, max, false, true);
        for (int p = z.FirstInRange(range); p >= 0; p = z.Next(p))
        {
            double score = z.ScoreAt(p);
            if (!range.LteMax(score)) break;
            if (GeoHash.DecodeScore(score, out double lon, out double lat) && GeoHash.WithinShape(shape, lon, lat, out double dist))
                found.Add(new GeoPoint { Pos = p, Lon = lon, Lat = lat, Dist = dist, Score = score });
            if (found.Count > 0 && limit != 0 && found.Count >= limit) break;
        }
    }

    private static void ReplyPoints(Client c, SortedSetObject z, Span<GeoPoint> points, double conversion, bool withDist, bool withHash, bool withCoords)
    {
        int options = (withDist ? 1 : 0) + (withCoords ? 1 : 0) + (withHash ? 1 : 0);
        c.Reply.ArrayHeader(points.Length);
        foreach (ref var gp in points)
        {
            double dist = gp.Dist / conversion;
            if (options > 0) c.Reply.ArrayHeader(options + 1);
            c.Reply.Bulk(z.MemberAt(gp.Pos));
            if (withDist) ReplyDistance(c, dist);
            if (withHash) c.Reply.Integer(GeoHash.TruncateToInt64(gp.Score));
            if (withCoords)
            {
                c.Reply.ArrayHeader(2);
                ReplyCoordinate(c, gp.Lon);
                ReplyCoordinate(c, gp.Lat);
            }
        }
    }

    /// <summary>
    /// STORE/STOREDIST/GEOSEARCHSTORE: the points become a sorted set scored by geohash or by distance
    /// (in the query's unit), replacing the destination; an empty result deletes it.
    /// </summary>
    private static void StorePoints(Client c, SortedSetObject z, Span<GeoPoint> points, double conversion, byte[] storeKey, bool storeDist, bool geoSearch)
    {
        if (points.Length == 0)
        {
            SortedSetCommands.DeleteDestination(c, storeKey);
            c.Reply.Integer(0);
            return;
        }
        var entries = new List<ZSetEntry>(points.Length);
        var seen = new HashSet<byte[]>(points.Length, ByteArrayComparer.Instance);
        foreach (ref var gp in points)
        {
            var member = z.MemberAt(gp.Pos).ToArray();
            // A member is found at most once unless two scanned cells overlap; keep the first.
            if (!seen.Add(member)) continue;
            entries.Add(new ZSetEntry(member, storeDist ? gp.Dist / conversion : gp.Score));
        }
        entries.Sort(ZSetEntry.Comparison);
        var dst = SortedSetObject.FromSorted(storeKey, entries, c.Server.ZSetLimits);
        SortedSetCommands.StoreResult(c, storeKey, dst);
        c.Server.Notify(KeyspaceEventClass.ZSet, geoSearch ? "geosearchstore" : "georadiusstore", storeKey, c.Db.Id);
        c.Server.Dirty(points.Length);
        c.Reply.Integer(points.Length);
    }
}
