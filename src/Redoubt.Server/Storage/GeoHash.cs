namespace Redoubt.Server.Storage;

/// <summary>A geohash cell: <see cref="Step"/> bits per axis, interleaved (latitude in even bits, longitude in odd).</summary>
public struct GeoHashBits
{
    public ulong Bits;
    public int Step;

    public GeoHashBits(ulong bits, int step)
    {
        Bits = bits;
        Step = step;
    }

    /// <summary>A cleared cell ("no area to search"): both bits and step are zero.</summary>
    public readonly bool IsZero => Bits == 0 && Step == 0;
}

/// <summary>The coordinates a cell covers.</summary>
public struct GeoHashArea
{
    public double LonMin, LonMax, LatMin, LatMax;
}

/// <summary>A search area: a circle (radius) or an axis-aligned box (width x height) around a center.</summary>
public struct GeoShape
{
    public bool IsBox;
    public double Lon, Lat;
    /// <summary>Metres per unit of the radius/width/height (m 1, km 1000, ft 0.3048, mi 1609.34).</summary>
    public double Conversion;
    public double Radius, Width, Height;
    /// <summary>The bounding box in degrees: min lon, min lat, max lon, max lat.</summary>
    public double MinLon, MinLat, MaxLon, MaxLat;
}

/// <summary>The center cell of a search and its eight neighbours (cleared ones need no scan), in scan order.</summary>
public struct GeoSearchCells
{
    public GeoHashBits Center, North, South, East, West, NorthEast, NorthWest, SouthEast, SouthWest;
    public GeoHashArea Area;

    public readonly GeoHashBits this[int i] => i switch
    {
        0 => Center, 1 => North, 2 => South, 3 => East, 4 => West,
        5 => NorthEast, 6 => NorthWest, 7 => SouthEast, _ => SouthWest,
    };
}

/// <summary>
/// The geohash arithmetic behind the GEO commands. A point is stored as a sorted-set score: 26 bits
/// of latitude and 26 of longitude interleaved into a 52-bit integer, over the Web Mercator latitude
/// range (±85.05112878) rather than ±90. Searches cover the shape's bounding box with the cell that
/// holds the center and its eight neighbours at a precision chosen from the radius, scan each cell as
/// a score range, and keep the points whose great-circle (haversine) distance qualifies.
/// Every formula keeps the exact floating-point operation order, so distances, cells and decoded
/// coordinates come out bit for bit the same as Redis's.
/// </summary>
public static class GeoHash
{
    public const double LatMin = -85.05112878, LatMax = 85.05112878;
    public const double LonMin = -180, LonMax = 180;
    public const int StepMax = 26;
    /// <summary>The earth's quadratic mean radius (metres) used by every distance.</summary>
    public const double EarthRadius = 6372797.560856;
    private const double MercatorMax = 20037726.37;
    private const double DegToRadFactor = Math.PI / 180.0;

    private static double DegRad(double deg) => deg * DegToRadFactor;
    private static double RadDeg(double rad) => rad / DegToRadFactor;

    // ---- bit interleaving ----------------------------------------------------------------------

    /// <summary>Spreads the 32 bits of <paramref name="even"/> over the even bit positions and <paramref name="odd"/> over the odd ones.</summary>
    public static ulong Interleave(uint even, uint odd) => Spread(even) | (Spread(odd) << 1);

    private static ulong Spread(ulong v)
    {
        v = (v | (v << 16)) & 0x0000FFFF0000FFFFUL;
        v = (v | (v << 8)) & 0x00FF00FF00FF00FFUL;
        v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0FUL;
        v = (v | (v << 2)) & 0x3333333333333333UL;
        v = (v | (v << 1)) & 0x5555555555555555UL;
        return v;
    }

    private static ulong Compact(ulong v)
    {
        v &= 0x5555555555555555UL;
        v = (v | (v >> 1)) & 0x3333333333333333UL;
        v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0FUL;
        v = (v | (v >> 4)) & 0x00FF00FF00FF00FFUL;
        v = (v | (v >> 8)) & 0x0000FFFF0000FFFFUL;
        v = (v | (v >> 16)) & 0x00000000FFFFFFFFUL;
        return v;
    }

    /// <summary>The inverse of <see cref="Interleave"/>: even bits in the low half of the result, odd bits in the high half.</summary>
    public static ulong Deinterleave(ulong bits) => Compact(bits) | (Compact(bits >> 1) << 32);

    // ---- encoding and decoding -------------------------------------------------------------------

    /// <summary>
    /// The cell of the given precision holding a point, over the given latitude range (the GEO range,
    /// or ±90 for standard geohash strings). False outside the GEO limits or the ranges.
    /// </summary>
    public static bool Encode(double lon, double lat, int step, double latRangeMin, double latRangeMax, out GeoHashBits hash)
    {
        hash = default;
        if (step > 32 || step == 0) return false;
        if (lon > LonMax || lon < LonMin || lat > LatMax || lat < LatMin) return false;
        hash.Step = step;
        if (lat < latRangeMin || lat > latRangeMax) return false;
        double latOffset = (lat - latRangeMin) / (latRangeMax - latRangeMin);
        double lonOffset = (lon - LonMin) / (LonMax - LonMin);
        latOffset *= (double)(1UL << step);
        lonOffset *= (double)(1UL << step);
        // The offsets are at most 2^step: truncation to 32 bits, as a C cast does. An offset of exactly
        // 2^26 (longitude 180, latitude at the limit) carries into bit 52 or 53, as in Redis.
        hash.Bits = Interleave((uint)(long)latOffset, (uint)(long)lonOffset);
        return true;
    }

    /// <summary>The cell of a point at full precision, over the GEO latitude range.</summary>
    public static bool Encode(double lon, double lat, int step, out GeoHashBits hash) => Encode(lon, lat, step, LatMin, LatMax, out hash);

    /// <summary>The coordinates covered by a cell (over the GEO ranges); false for a cleared cell.</summary>
    public static bool Decode(GeoHashBits hash, out GeoHashArea area)
    {
        area = default;
        if (hash.IsZero) return false;
        int step = hash.Step;
        ulong sep = Deinterleave(hash.Bits);
        const double latScale = LatMax - LatMin, lonScale = LonMax - LonMin;
        uint ilat = (uint)sep;
        uint ilon = (uint)(sep >> 32);
        double cells = (double)(1UL << step);
        // The "+ 1" wraps in 32 bits like the C code's unsigned arithmetic.
        area.LatMin = LatMin + (ilat * 1.0 / cells) * latScale;
        area.LatMax = LatMin + (unchecked(ilat + 1u) * 1.0 / cells) * latScale;
        area.LonMin = LonMin + (ilon * 1.0 / cells) * lonScale;
        area.LonMax = LonMin + (unchecked(ilon + 1u) * 1.0 / cells) * lonScale;
        return true;
    }

    /// <summary>
    /// The point a stored score stands for: the center of its 26-bit cell, clamped to the GEO limits.
    /// The score is converted to an integer the way x86-64 converts a double to uint64_t, so even
    /// scores that are not geohashes (negative, huge, NaN) decode as they do in Redis.
    /// </summary>
    public static bool DecodeScore(double score, out double lon, out double lat)
    {
        lon = lat = 0;
        if (!Decode(new GeoHashBits(ScoreToBits(score), StepMax), out var area)) return false;
        lon = (area.LonMin + area.LonMax) / 2;
        if (lon > LonMax) lon = LonMax;
        if (lon < LonMin) lon = LonMin;
        lat = (area.LatMin + area.LatMax) / 2;
        if (lat > LatMax) lat = LatMax;
        if (lat < LatMin) lat = LatMin;
        return true;
    }

    /// <summary>The sorted-set score of a point: its 26-step cell aligned to 52 bits.</summary>
    public static bool ScoreOf(double lon, double lat, out double score)
    {
        score = 0;
        if (!Encode(lon, lat, StepMax, out var hash)) return false;
        score = (double)(long)Align52(hash);
        return true;
    }

    /// <summary>A cell's bits shifted to the 52-bit score scale.</summary>
    public static ulong Align52(GeoHashBits hash) => hash.Bits << (52 - hash.Step * 2);

    /// <summary>(uint64_t)d as compiled for x86-64: cvttsd2si, with the 2^63 adjustment for large values.</summary>
    public static ulong ScoreToBits(double d)
    {
        const double Two63 = 9223372036854775808.0;
        if (d >= Two63) return (ulong)TruncateToInt64(d - Two63) ^ 0x8000000000000000UL;
        return (ulong)TruncateToInt64(d);
    }

    /// <summary>cvttsd2si: truncation, and 0x8000000000000000 for NaN or anything out of range.</summary>
    public static long TruncateToInt64(double d)
    {
        const double Two63 = 9223372036854775808.0;
        if (double.IsNaN(d) || d >= Two63 || d < -Two63) return long.MinValue;
        return (long)d;
    }

    /// <summary>
    /// The 11-character standard geohash of a score: decoded to its point, re-encoded over ±90 latitude
    /// at 26 steps, then 5 bits per character with the 11th character (bits that do not exist) as '0'.
    /// Returns false when the point cannot be re-encoded.
    /// </summary>
    public static bool StandardGeohash(double score, Span<byte> dest)
    {
        if (!DecodeScore(score, out double lon, out double lat)) return false;
        if (!Encode(lon, lat, StepMax, -90, 90, out var hash)) hash = new GeoHashBits(0, StepMax);
        ReadOnlySpan<byte> alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"u8;
        for (int i = 0; i < 11; i++)
        {
            int idx = i == 10 ? 0 : (int)((hash.Bits >> (52 - (i + 1) * 5)) & 0x1f);
            dest[i] = alphabet[idx];
        }
        return true;
    }

    // ---- neighbours ------------------------------------------------------------------------------

    private static GeoHashBits MoveX(GeoHashBits hash, int d)
    {
        if (d == 0) return hash;
        ulong x = hash.Bits & 0xaaaaaaaaaaaaaaaaUL;
        ulong y = hash.Bits & 0x5555555555555555UL;
        ulong zz = 0x5555555555555555UL >> (64 - hash.Step * 2);
        if (d > 0) x += zz + 1;
        else
        {
            x |= zz;
            x -= zz + 1;
        }
        x &= 0xaaaaaaaaaaaaaaaaUL >> (64 - hash.Step * 2);
        hash.Bits = x | y;
        return hash;
    }

    private static GeoHashBits MoveY(GeoHashBits hash, int d)
    {
        if (d == 0) return hash;
        ulong x = hash.Bits & 0xaaaaaaaaaaaaaaaaUL;
        ulong y = hash.Bits & 0x5555555555555555UL;
        ulong zz = 0xaaaaaaaaaaaaaaaaUL >> (64 - hash.Step * 2);
        if (d > 0) y += zz + 1;
        else
        {
            y |= zz;
            y -= zz + 1;
        }
        y &= 0x5555555555555555UL >> (64 - hash.Step * 2);
        hash.Bits = x | y;
        return hash;
    }

    private static void SetNeighbors(ref GeoSearchCells cells)
    {
        var h = cells.Center;
        cells.East = MoveX(h, 1);
        cells.West = MoveX(h, -1);
        cells.South = MoveY(h, -1);
        cells.North = MoveY(h, 1);
        cells.NorthWest = MoveY(MoveX(h, -1), 1);
        cells.NorthEast = MoveY(MoveX(h, 1), 1);
        cells.SouthEast = MoveY(MoveX(h, 1), -1);
        cells.SouthWest = MoveY(MoveX(h, -1), -1);
    }

    // ---- search areas ----------------------------------------------------------------------------

    /// <summary>The precision whose cells are about as large as the radius: coarser near the poles.</summary>
    public static int EstimateStepsByRadius(double rangeMeters, double lat)
    {
        if (rangeMeters == 0) return 26;
        int step = 1;
        while (rangeMeters < MercatorMax)
        {
            rangeMeters *= 2;
            step++;
        }
        step -= 2;
        if (lat > 66 || lat < -66)
        {
            step--;
            if (lat > 80 || lat < -80) step--;
        }
        if (step < 1) step = 1;
        if (step > 26) step = 26;
        return step;
    }

    /// <summary>
    /// The shape's bounding box in degrees. Longitude spans widen towards the pole, so the wider of the
    /// top and bottom edges is taken: the top one north of the equator, the bottom one south of it.
    /// </summary>
    public static void BoundingBox(ref GeoShape shape)
    {
        double lon = shape.Lon, lat = shape.Lat;
        double height = shape.Conversion * (shape.IsBox ? shape.Height / 2 : shape.Radius);
        double width = shape.Conversion * (shape.IsBox ? shape.Width / 2 : shape.Radius);
        double latDelta = RadDeg(height / EarthRadius);
        double lonDeltaTop = RadDeg(width / EarthRadius / Math.Cos(DegRad(lat + latDelta)));
        double lonDeltaBottom = RadDeg(width / EarthRadius / Math.Cos(DegRad(lat - latDelta)));
        bool southern = lat < 0;
        shape.MinLon = southern ? lon - lonDeltaBottom : lon - lonDeltaTop;
        shape.MaxLon = southern ? lon + lonDeltaBottom : lon + lonDeltaTop;
        shape.MinLat = lat - latDelta;
        shape.MaxLat = lat + latDelta;
    }

    /// <summary>
    /// The nine cells that cover the shape (and sets its bounding box): the step is estimated from the
    /// radius (half the box diagonal for a box), reduced by one when a neighbour does not reach the
    /// box's edge, and neighbours lying wholly outside the box are cleared.
    /// </summary>
    public static GeoSearchCells CalculateAreas(ref GeoShape shape)
    {
        BoundingBox(ref shape);
        double minLon = shape.MinLon, minLat = shape.MinLat, maxLon = shape.MaxLon, maxLat = shape.MaxLat;
        double lon = shape.Lon, lat = shape.Lat;
        double radiusMeters = shape.IsBox
            ? Math.Sqrt((shape.Width / 2) * (shape.Width / 2) + (shape.Height / 2) * (shape.Height / 2))
            : shape.Radius;
        radiusMeters *= shape.Conversion;

        int steps = EstimateStepsByRadius(radiusMeters, lat);
        var cells = new GeoSearchCells();
        Encode(lon, lat, steps, out cells.Center);
        SetNeighbors(ref cells);
        Decode(cells.Center, out cells.Area);

        Decode(cells.North, out var north);
        Decode(cells.South, out var south);
        Decode(cells.East, out var east);
        Decode(cells.West, out var west);
        bool decreaseStep = north.LatMax < maxLat || south.LatMin > minLat || east.LonMax < maxLon || west.LonMin > minLon;

        if (steps > 1 && decreaseStep)
        {
            steps--;
            Encode(lon, lat, steps, out cells.Center);
            SetNeighbors(ref cells);
            Decode(cells.Center, out cells.Area);
        }

        if (steps >= 2)
        {
            var area = cells.Area;
            if (area.LatMin < minLat) cells.South = cells.SouthWest = cells.SouthEast = default;
            if (area.LatMax > maxLat) cells.North = cells.NorthEast = cells.NorthWest = default;
            if (area.LonMin < minLon) cells.West = cells.SouthWest = cells.NorthWest = default;
            if (area.LonMax > maxLon) cells.East = cells.SouthEast = cells.NorthEast = default;
        }
        return cells;
    }

    /// <summary>The score interval [min, max) holding every point of a cell.</summary>
    public static void ScoresOfCell(GeoHashBits hash, out ulong min, out ulong max)
    {
        min = Align52(hash);
        hash.Bits++;
        max = Align52(hash);
    }

    // ---- distances -----------------------------------------------------------------------------

    /// <summary>The distance along a meridian between two latitudes.</summary>
    public static double LatDistance(double lat1, double lat2) => EarthRadius * Math.Abs(DegRad(lat2) - DegRad(lat1));

    /// <summary>Haversine great-circle distance in metres; along the meridian when the longitudes match.</summary>
    public static double Distance(double lon1, double lat1, double lon2, double lat2)
    {
        double lon1r = DegRad(lon1), lon2r = DegRad(lon2);
        double v = Math.Sin((lon2r - lon1r) / 2);
        if (v == 0.0) return LatDistance(lat1, lat2);
        double lat1r = DegRad(lat1), lat2r = DegRad(lat2);
        double u = Math.Sin((lat2r - lat1r) / 2);
        double a = u * u + Math.Cos(lat1r) * Math.Cos(lat2r) * v * v;
        return 2.0 * EarthRadius * Math.Asin(Math.Sqrt(a));
    }

    /// <summary>
    /// Whether the point (<paramref name="lon"/>, <paramref name="lat"/>) lies in the shape, with its
    /// distance from the center. A box is checked by the north-south distance, then the east-west
    /// distance along the point's own latitude.
    /// </summary>
    public static bool WithinShape(in GeoShape shape, double lon, double lat, out double distance)
    {
        distance = 0;
        if (!shape.IsBox)
        {
            distance = Distance(shape.Lon, shape.Lat, lon, lat);
            return !(distance > shape.Radius * shape.Conversion);
        }
        double widthM = shape.Width * shape.Conversion, heightM = shape.Height * shape.Conversion;
        if (LatDistance(lat, shape.Lat) > heightM / 2) return false;
        if (Distance(lon, lat, shape.Lon, lat) > widthM / 2) return false;
        distance = Distance(shape.Lon, shape.Lat, lon, lat);
        return true;
    }
}
