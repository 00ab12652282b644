using System.Globalization;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// The GEO family: points kept in a sorted set, each scored by its 52-bit geohash (see
/// <see cref="GeoHash"/>). GEOADD, GEODIST, GEOHASH and GEOPOS here; the searches (GEOSEARCH,
/// GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and the _RO forms) in GeoCommands.Search.cs.
/// </summary>
public static partial class GeoCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("geoadd", GeoAdd);
        t.Bind("geodist", GeoDist);
        t.Bind("geohash", GeoHashCommand);
        t.Bind("geopos", GeoPos);
        BindSearches(t);
    }

    // ---- argument helpers ------------------------------------------------------------------------

    /// <summary>
    /// Longitude and latitude at arguments <paramref name="i"/> and i + 1: each must be a float, and
    /// together within the GEO limits (latitude ±85.05112878), else Redis's errors.
    /// </summary>
    internal static bool TryGetLonLat(Client c, int i, out double lon, out double lat)
    {
        lat = 0;
        if (!TryGetDouble(c, i, null, out lon) || !TryGetDouble(c, i + 1, null, out lat)) return false;
        if (lon < GeoHash.LonMin || lon > GeoHash.LonMax || lat < GeoHash.LatMin || lat > GeoHash.LatMax)
        {
            c.Reply.Error("-ERR invalid longitude,latitude pair " +
                          FixedPointFormat.Fixed(lon, 6) + "," + FixedPointFormat.Fixed(lat, 6));
            return false;
        }
        return true;
    }

    /// <summary>Redis's getDoubleFromObjectOrReply: the whole argument is one float (no NaN, no overflow).</summary>
    internal static bool TryGetDouble(Client c, int i, string? message, out double value)
    {
        if (CStrtod.TryParseWhole(c.Arg(i), out value)) return true;
        c.Reply.Error(message ?? "value is not a valid float");
        return false;
    }

    /// <summary>Metres per unit for m, km, ft and mi (any case); otherwise replies and returns a negative value.</summary>
    internal static double UnitOrReply(Client c, int i)
    {
        if (c.ArgIs(i, "m"u8)) return 1;
        if (c.ArgIs(i, "km"u8)) return 1000;
        if (c.ArgIs(i, "ft"u8)) return 0.3048;
        if (c.ArgIs(i, "mi"u8)) return 1609.34;
        c.Reply.Error("unsupported unit provided. please use M, KM, FT, MI");
        return -1;
    }

    /// <summary>The point a member stands for; false when the member is missing.</summary>
    internal static bool MemberPosition(SortedSetObject z, ReadOnlySpan<byte> member, out double lon, out double lat)
    {
        lon = lat = 0;
        return z.TryGetScore(member, out double score) && GeoHash.DecodeScore(score, out lon, out lat);
    }

    // ---- replies ---------------------------------------------------------------------------------

    /// <summary>
    /// A distance with exactly four decimals, as a bulk string in both protocols: the value times 10^4
    /// rounded to the nearest integer (ties to even), then printed with the point inserted.
    /// </summary>
    internal static void ReplyDistance(Client c, double d)
    {
        Span<byte> buf = stackalloc byte[40];
        int n = FormatDistance(d, buf);
        c.Reply.Bulk(buf[..n]);
    }

    internal static int FormatDistance(double d, Span<byte> dest)
    {
        if (d == 0)
        {
            "0.0000"u8.CopyTo(dest);
            return 6;
        }
        double scaled = Math.Round(d * 10000.0, MidpointRounding.ToEven);
        // llrint of a value outside the long range (or NaN) yields LLONG_MIN on x86-64.
        long v = double.IsNaN(scaled) || scaled >= 9223372036854775808.0 || scaled < -9223372036854775808.0
            ? long.MinValue : (long)scaled;
        int p = 0;
        ulong mag;
        if (v < 0)
        {
            dest[p++] = (byte)'-';
            mag = v == long.MinValue ? 9223372036854775808UL : (ulong)(-v);
        }
        else mag = (ulong)v;
        Span<byte> digits = stackalloc byte[24];
        mag.TryFormat(digits, out int nd, default, CultureInfo.InvariantCulture);
        if (nd < 5)
        {
            // Fewer than five digits: the integer part is 0 and the fraction is zero-padded on the left.
            dest[p++] = (byte)'0';
            dest[p++] = (byte)'.';
            for (int k = nd; k < 4; k++) dest[p++] = (byte)'0';
            digits[..nd].CopyTo(dest[p..]);
            return p + nd;
        }
        digits[..(nd - 4)].CopyTo(dest[p..]);
        p += nd - 4;
        dest[p++] = (byte)'.';
        digits[(nd - 4)..nd].CopyTo(dest[p..]);
        return p + 4;
    }

    /// <summary>A coordinate as Redis's addReplyHumanLongDouble writes it: bulk in RESP2, a double in RESP3.</summary>
    internal static void ReplyCoordinate(Client c, double d)
    {
        Span<byte> buf = stackalloc byte[FixedPointFormat.HumanMaxBytes];
        int n = FixedPointFormat.Human(d, buf);
        if (c.Reply.IsResp3)
        {
            c.Reply.Raw(","u8);
            c.Reply.Raw(buf[..n]);
            c.Reply.Raw("\r\n"u8);
        }
        else c.Reply.Bulk(buf[..n]);
    }

    // ---- commands --------------------------------------------------------------------------------

    /// <summary>
    /// GEOADD key [NX|XX] [CH] longitude latitude member [...]: every coordinate pair is checked, then
    /// the points are added as ZADD would add their geohash scores (same flags, reply and "zadd" event).
    /// </summary>
    private static void GeoAdd(Client c)
    {
        bool xx = false, nx = false, ch = false;
        int longIdx = 2;
        for (; longIdx < c.Argc; longIdx++)
        {
            if (c.ArgIs(longIdx, "nx"u8)) nx = true;
            else if (c.ArgIs(longIdx, "xx"u8)) xx = true;
            else if (c.ArgIs(longIdx, "ch"u8)) ch = true;
            else break;
        }
        if ((c.Argc - longIdx) % 3 != 0 || (xx && nx) || c.Argc == longIdx)
        {
            c.SyntaxError();
            return;
        }
        int elements = (c.Argc - longIdx) / 3;
        Span<double> scores = elements <= 64 ? stackalloc double[elements] : new double[elements];
        for (int j = 0; j < elements; j++)
        {
            if (!TryGetLonLat(c, longIdx + j * 3, out double lon, out double lat)) return;
            GeoHash.ScoreOf(lon, lat, out scores[j]);
        }
        var flags = (nx ? ZAddFlags.NX : ZAddFlags.None) | (xx ? ZAddFlags.XX : ZAddFlags.None);
        SortedSetCommands.ZAddElements(c, flags, ch, elements, longIdx + 2, 3, scores);
        if (c.Propagating)
        {
            // Propagates as the ZADD it performed, with the geohash scores as integers.
            var argv = new byte[2 + (longIdx - 2) + elements * 2][];
            argv[0] = "zadd"u8.ToArray();
            argv[1] = c.ArgBytes(1);
            int n = 2;
            for (int j = 2; j < longIdx; j++) argv[n++] = c.ArgBytes(j);
            for (int j = 0; j < elements; j++)
            {
                argv[n++] = StringCommands.Num((long)scores[j]);
                argv[n++] = c.ArgBytes(longIdx + j * 3 + 2);
            }
            c.PropagateAs(argv);
        }
    }

    /// <summary>GEODIST key member1 member2 [unit]: null when the key or either member is missing.</summary>
    private static void GeoDist(Client c)
    {
        double toMeter = 1;
        if (c.Argc == 5)
        {
            toMeter = UnitOrReply(c, 4);
            if (toMeter < 0) return;
        }
        else if (c.Argc > 5)
        {
            c.SyntaxError();
            return;
        }
        if (!SortedSetCommands.TryRead(c, c.Arg(1), out var z)) return;
        if (z is null || !MemberPosition(z, c.Arg(2), out double lon1, out double lat1) ||
            !MemberPosition(z, c.Arg(3), out double lon2, out double lat2))
        {
            c.Reply.Null();
            return;
        }
        ReplyDistance(c, GeoHash.Distance(lon1, lat1, lon2, lat2) / toMeter);
    }

    /// <summary>GEOHASH key [member ...]: the standard 11-character geohash of each member, null for missing ones.</summary>
    private static void GeoHashCommand(Client c)
    {
        if (!SortedSetCommands.TryRead(c, c.Arg(1), out var z)) return;
        c.Reply.ArrayHeader(c.Argc - 2);
        Span<byte> buf = stackalloc byte[11];
        for (int j = 2; j < c.Argc; j++)
        {
            if (z != null && z.TryGetScore(c.Arg(j), out double score) && GeoHash.StandardGeohash(score, buf)) c.Reply.Bulk(buf);
            else c.Reply.Null();
        }
    }

    /// <summary>GEOPOS key [member ...]: [longitude, latitude] of each member (its cell's center), a null array for missing ones.</summary>
    private static void GeoPos(Client c)
    {
        if (!SortedSetCommands.TryRead(c, c.Arg(1), out var z)) return;
        c.Reply.ArrayHeader(c.Argc - 2);
        for (int j = 2; j < c.Argc; j++)
        {
            if (z != null && MemberPosition(z, c.Arg(j), out double lon, out double lat))
            {
                c.Reply.ArrayHeader(2);
                ReplyCoordinate(c, lon);
                ReplyCoordinate(c, lat);
            }
            else c.Reply.NullArray();
        }
    }
}
