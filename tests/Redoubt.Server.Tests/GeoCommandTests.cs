using System.Text;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

public sealed class GeoServer : IDisposable
{
    public ServerProcess Server { get; } = new();
    public void Dispose() => Server.Dispose();
}

/// <summary>The GEO family over the wire: Redis's documented example values, reply shapes in RESP2 and RESP3, errors.</summary>
public sealed class GeoCommandTests : IClassFixture<GeoServer>
{
    private readonly ServerProcess _server;
    public GeoCommandTests(GeoServer shared) => _server = shared.Server;

    private RespClient Db(int db, int protocol = 2)
    {
        var c = _server.Connect();
        if (protocol == 3) Assert.IsType<object?[]>(c.Call("HELLO", "3"));
        Assert.Equal("OK", c.Call("SELECT", db));
        Assert.Equal("OK", c.Call("FLUSHDB"));
        return c;
    }

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    private static object?[] Arr(object? reply) => Assert.IsType<object?[]>(reply);

    private static void Sicily(RespClient c)
        => Assert.Equal(2L, c.Call("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"));

    [Fact]
    public void DistancesHashesAndPositions()
    {
        using var c = Db(1);
        Sicily(c);
        Assert.Equal("166274.1516", c.Call("GEODIST", "Sicily", "Palermo", "Catania"));
        Assert.Equal("166.2742", c.Call("GEODIST", "Sicily", "Palermo", "Catania", "km"));
        Assert.Equal("103.3182", c.Call("GEODIST", "Sicily", "Palermo", "Catania", "MI"));
        Assert.Equal("545518.8700", c.Call("GEODIST", "Sicily", "Palermo", "Catania", "ft"));
        Assert.Null(c.Call("GEODIST", "Sicily", "Palermo", "Nowhere"));
        Assert.Null(c.Call("GEODIST", "nokey", "a", "b"));
        Assert.Equal(new object?[] { "sqc8b49rny0", "sqdtr74hyu0", null }, Arr(c.Call("GEOHASH", "Sicily", "Palermo", "Catania", "Nowhere")));
        var pos = Arr(c.Call("GEOPOS", "Sicily", "Palermo", "Nowhere"));
        Assert.Equal(new object?[] { "13.36138933897018433", "38.11555639549629859" }, Arr(pos[0]));
        Assert.Null(pos[1]);
        Assert.Equal(new object?[] { null, null }, Arr(c.Call("GEOPOS", "nokey", "a", "b")));
        // The stored score is the 52-bit geohash.
        Assert.Equal("3479099956230698", c.Call("ZSCORE", "Sicily", "Palermo"));
    }

    [Fact]
    public void SearchesSortCountAndDecorate()
    {
        using var c = Db(2);
        Sicily(c);
        var r = Arr(c.Call("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHHASH"));
        Assert.Equal(new object?[] { "Palermo", "190.4424", 3479099956230698L }, Arr(r[0]));
        Assert.Equal(new object?[] { "Catania", "56.4413", 3479447370796909L }, Arr(r[1]));
        r = Arr(c.Call("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHCOORD", "DESC", "COUNT", "1"));
        var only = Arr(r.Single());
        Assert.Equal("Palermo", only[0]);
        Assert.Equal(new object?[] { "13.36138933897018433", "38.11555639549629859" }, Arr(only[1]));
        Assert.Equal(new object?[] { "Catania" }, Arr(c.Call("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1")));
        Assert.Equal(new object?[] { "Palermo" }, Arr(c.Call("GEORADIUSBYMEMBER", "Sicily", "Palermo", "100", "km")));
        Assert.Equal(new object?[] { "Catania" }, Arr(c.Call("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "200", "200", "km", "ASC")));
        Assert.Equal(new object?[] { "Catania", "Palermo" }, Arr(c.Call("GEOSEARCH", "Sicily", "FROMMEMBER", "Catania", "BYRADIUS", "200", "km", "ASC")));
        Assert.Empty(Arr(c.Call("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "m")));
        Assert.Empty(Arr(c.Call("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m")));
        Assert.Equal(new object?[] { "Catania", "Palermo" }, Arr(c.Call("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "ASC")));
    }

    [Fact]
    public void Resp3CoordinatesAreDoublesAndDistancesBulk()
    {
        using var raw = new RawRespConnection(_server.Port);
        raw.Call(["HELLO", "3"]);
        raw.Call(["SELECT", "3"]);
        raw.Call(["FLUSHDB"]);
        raw.Call(["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"]);
        Assert.Equal("*[*[,13.36138933897018433,,38.11555639549629859],_]", raw.Call(["GEOPOS", "Sicily", "Palermo", "x"]));
        Assert.Equal("*[*[$Palermo,$190.4424]]", raw.Call(["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST"]));
        Assert.Equal("_", raw.Call(["GEODIST", "Sicily", "Palermo", "x"]));
    }

    [Fact]
    public void StoreFormsWriteSortedSets()
    {
        using var c = Db(4);
        Sicily(c);
        Assert.Equal(2L, c.Call("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "dst"));
        Assert.Equal(new object?[] { "Palermo", "3479099956230698", "Catania", "3479447370796909" }, Arr(c.Call("ZRANGE", "dst", "0", "-1", "WITHSCORES")));
        Assert.Equal(2L, c.Call("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "STOREDIST", "dst"));
        Assert.Equal(new object?[] { "Palermo", "0", "Catania", "166.27415156960032" }, Arr(c.Call("ZRANGE", "dst", "0", "-1", "WITHSCORES")));
        Assert.Equal("listpack", c.Call("OBJECT", "ENCODING", "dst"));
        Assert.Equal(1L, c.Call("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "100", "km", "STOREDIST"));
        Assert.Equal(new object?[] { "Catania", "56.441257870158204" }, Arr(c.Call("ZRANGE", "dst", "0", "-1", "WITHSCORES")));
        // An empty result deletes the destination, also when the source is missing.
        Assert.Equal(0L, c.Call("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m"));
        Assert.Equal(0L, c.Call("EXISTS", "dst"));
        c.Call("SET", "dst", "x");
        Assert.Equal(0L, c.Call("GEORADIUS", "nokey", "0", "0", "1", "m", "STORE", "dst"));
        Assert.Equal(0L, c.Call("EXISTS", "dst"));
        // The source itself can be the destination.
        Assert.Equal(1L, c.Call("GEORADIUSBYMEMBER", "Sicily", "Palermo", "1", "km", "STORE", "Sicily"));
        Assert.Equal(new object?[] { "Palermo" }, Arr(c.Call("ZRANGE", "Sicily", "0", "-1")));
    }

    [Fact]
    public void GeoaddOptionsFollowZadd()
    {
        using var c = Db(5);
        Assert.Equal(1L, c.Call("GEOADD", "g", "1", "1", "a"));
        Assert.Equal(0L, c.Call("GEOADD", "g", "NX", "2", "2", "a"));
        Assert.Equal(0L, c.Call("GEOADD", "g", "XX", "2", "2", "a"));
        Assert.Equal(1L, c.Call("GEOADD", "g", "XX", "CH", "3", "3", "a", "4", "4", "new"));
        Assert.Equal(0L, c.Call("GEOADD", "missing", "XX", "1", "1", "a"));
        Assert.Equal(0L, c.Call("EXISTS", "missing"));
        Assert.Equal(1L, c.Call("ZCARD", "g"));
    }

    [Theory]
    [InlineData("ERR syntax error", "GEOADD", "g", "NX", "XX", "1", "1", "a")]
    [InlineData("ERR syntax error", "GEOADD", "g", "1", "1", "a", "2")]
    [InlineData("ERR syntax error", "GEOADD", "g", "NX", "CH", "XX")]
    [InlineData("ERR invalid longitude,latitude pair 200.000000,10.000000", "GEOADD", "g", "200", "10", "a")]
    [InlineData("ERR invalid longitude,latitude pair 10.000000,85.100000", "GEOADD", "g", "10", "85.1", "a")]
    [InlineData("ERR invalid longitude,latitude pair inf,0.000000", "GEOADD", "g", "inf", "0", "a")]
    [InlineData("ERR value is not a valid float", "GEOADD", "g", "abc", "0", "a")]
    [InlineData("ERR value is not a valid float", "GEOADD", "g", "1", "nan", "a")]
    [InlineData("ERR unsupported unit provided. please use M, KM, FT, MI", "GEODIST", "g", "a", "b", "yd")]
    [InlineData("ERR syntax error", "GEODIST", "g", "a", "b", "km", "x")]
    [InlineData("ERR need numeric radius", "GEORADIUS", "g", "0", "0", "x", "km")]
    [InlineData("ERR radius cannot be negative", "GEORADIUS", "g", "0", "0", "-1", "km")]
    [InlineData("ERR COUNT must be > 0", "GEORADIUS", "g", "0", "0", "1", "km", "COUNT", "0")]
    [InlineData("ERR value is not an integer or out of range", "GEORADIUS", "g", "0", "0", "1", "km", "COUNT", "x")]
    [InlineData("ERR the ANY argument requires COUNT argument", "GEORADIUS", "g", "0", "0", "1", "km", "ANY")]
    [InlineData("ERR syntax error", "GEORADIUS_RO", "g", "0", "0", "1", "km", "STORE", "x")]
    [InlineData("ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options", "GEORADIUS", "g", "0", "0", "1", "km", "STORE", "x", "WITHHASH")]
    [InlineData("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options", "GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m", "WITHDIST")]
    [InlineData("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch", "geosearch", "g", "BYRADIUS", "1", "m", "ASC", "WITHDIST")]
    [InlineData("ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH", "GEOSEARCH", "g", "FROMLONLAT", "0", "0", "ASC", "WITHDIST")]
    [InlineData("ERR syntax error", "GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m", "BYBOX", "1", "1", "m")]
    [InlineData("ERR syntax error", "GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m", "STORE", "x")]
    [InlineData("ERR height or width cannot be negative", "GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYBOX", "1", "-1", "m")]
    [InlineData("ERR need numeric height", "GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYBOX", "1", "h", "m")]
    [InlineData("ERR could not decode requested zset member", "GEOSEARCH", "g", "FROMMEMBER", "nope", "BYRADIUS", "1", "m")]
    [InlineData("ERR could not decode requested zset member", "GEORADIUSBYMEMBER", "g", "nope", "1", "m")]
    public void ErrorsAreRedis(string expected, params string[] args)
    {
        using var c = Db(6);
        c.Call("GEOADD", "g", "1", "1", "a");
        Assert.Equal(expected, Err(c.Call(args)));
        Assert.Equal(1L, c.Call("ZCARD", "g"));
    }

    [Fact]
    public void WrongTypeComesAfterCoordinateChecks()
    {
        using var c = Db(7);
        c.Call("SET", "s", "x");
        const string wrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";
        Assert.Equal("ERR invalid longitude,latitude pair 500.000000,0.000000", Err(c.Call("GEOADD", "s", "500", "0", "a")));
        Assert.Equal(wrongType, Err(c.Call("GEOADD", "s", "1", "1", "a")));
        Assert.Equal(wrongType, Err(c.Call("GEOPOS", "s", "a")));
        Assert.Equal(wrongType, Err(c.Call("GEOHASH", "s", "a")));
        Assert.Equal(wrongType, Err(c.Call("GEODIST", "s", "a", "b")));
        Assert.Equal(wrongType, Err(c.Call("GEOSEARCH", "s", "FROMLONLAT", "500", "0", "BYRADIUS", "1", "m")));
    }
}

/// <summary>Keyspace events and dirty counts of the GEO writes, observed inside the server.</summary>
public sealed class GeoSideEffectTests
{
    private readonly InProcessKeyspace _ks = new();
    private readonly Client _c;

    public GeoSideEffectTests()
    {
        _ks.Server.NotifyFlags = KeyspaceEventClass.All | KeyspaceEventClass.Keyevent;
        _c = _ks.NewClient();
    }

    private string Effects(params string[] args)
    {
        _ks.Published.Clear();
        long before = _ks.Server.Stats.Dirty;
        var reply = _ks.Call(_c, args);
        Assert.IsNotType<RespError>(reply);
        var events = _ks.Published.Where(p => p.Channel.StartsWith("__keyevent@")).Select(p => p.Channel[(p.Channel.IndexOf(':') + 1)..] + ":" + p.Message);
        return string.Join(" ", events) + " dirty=" + (_ks.Server.Stats.Dirty - before);
    }

    [Fact]
    public void WritesNotifyLikeRedis()
    {
        Assert.Equal("zadd:g dirty=2", Effects("GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"));
        Assert.Equal(" dirty=0", Effects("GEOADD", "g", "13.361389", "38.115556", "Palermo"));
        Assert.Equal("georadiusstore:d dirty=2", Effects("GEORADIUS", "g", "15", "37", "200", "km", "STORE", "d"));
        Assert.Equal("georadiusstore:d dirty=1", Effects("GEORADIUSBYMEMBER", "g", "Palermo", "10", "km", "STOREDIST", "d"));
        Assert.Equal("geosearchstore:d dirty=2", Effects("GEOSEARCHSTORE", "d", "g", "FROMMEMBER", "Palermo", "BYBOX", "800", "800", "km"));
        Assert.Equal("del:d dirty=1", Effects("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m"));
        Assert.Equal(" dirty=0", Effects("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m"));
        Assert.Equal(" dirty=0", Effects("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"));
    }
}

/// <summary>The geohash arithmetic and number formatting on their own.</summary>
public sealed class GeoHashTests
{
    [Fact]
    public void InterleaveRoundTrips()
    {
        var rng = new Random(5);
        for (int i = 0; i < 1000; i++)
        {
            uint a = (uint)rng.NextInt64(0, 1L << 32), b = (uint)rng.NextInt64(0, 1L << 32);
            ulong bits = GeoHash.Interleave(a, b);
            Assert.Equal((ulong)a | ((ulong)b << 32), GeoHash.Deinterleave(bits));
            Assert.Equal((ulong)(a & 1), bits & 1);
            Assert.Equal((ulong)(b & 1), (bits >> 1) & 1);
        }
    }

    [Fact]
    public void DecodedPointLiesInItsCell()
    {
        var rng = new Random(6);
        for (int i = 0; i < 2000; i++)
        {
            double lon = rng.NextDouble() * 360 - 180, lat = (rng.NextDouble() * 2 - 1) * GeoHash.LatMax;
            Assert.True(GeoHash.ScoreOf(lon, lat, out double score));
            Assert.True(GeoHash.DecodeScore(score, out double dlon, out double dlat));
            // A 26-step cell is 360/2^26 degrees of longitude wide.
            Assert.InRange(Math.Abs(dlon - lon), 0, 360.0 / (1 << 26));
            Assert.InRange(Math.Abs(dlat - lat), 0, 2 * GeoHash.LatMax / (1 << 26));
        }
    }

    [Fact]
    public void NonGeohashScoresDecodeLikeX86Casts()
    {
        Assert.Equal(0x8000000000000000UL, GeoHash.ScoreToBits(double.NaN));
        Assert.Equal(0UL, GeoHash.ScoreToBits(double.PositiveInfinity));
        Assert.Equal(ulong.MaxValue, GeoHash.ScoreToBits(-1.0));
        Assert.Equal(1UL << 63, GeoHash.ScoreToBits(9223372036854775808.0));
        Assert.Equal(42UL, GeoHash.ScoreToBits(42.9));
    }

    [Fact]
    public void StepsShrinkWithRadiusAndNearThePoles()
    {
        Assert.Equal(26, GeoHash.EstimateStepsByRadius(0, 0));
        Assert.Equal(1, GeoHash.EstimateStepsByRadius(30_000_000, 0));
        int equator = GeoHash.EstimateStepsByRadius(1000, 0);
        Assert.Equal(equator - 1, GeoHash.EstimateStepsByRadius(1000, 70));
        Assert.Equal(equator - 2, GeoHash.EstimateStepsByRadius(1000, -81));
    }

    [Fact]
    public void DistanceAlongAMeridianIsExact()
    {
        Assert.Equal(GeoHash.EarthRadius * Math.PI / 180.0 * 10, GeoHash.Distance(5, 0, 5, 10), 6);
        Assert.Equal(0, GeoHash.Distance(1, 2, 1, 2));
    }

    [Theory]
    [InlineData(13.361389338970184, "13.36138933897018433")]
    [InlineData(0.5, "0.5")]
    [InlineData(-0.0, "0")]
    [InlineData(-1e-30, "0")]
    [InlineData(-180.0, "-180")]
    [InlineData(1e-17, "0.00000000000000001")]
    [InlineData(123456789012345678.0, "123456789012345680")]
    [InlineData(double.PositiveInfinity, "inf")]
    public void HumanFormatIsLongDoubleFixed17(double d, string expected)
    {
        Span<byte> buf = stackalloc byte[FixedPointFormat.HumanMaxBytes];
        int n = FixedPointFormat.Human(d, buf);
        Assert.Equal(expected, Encoding.ASCII.GetString(buf[..n]));
    }

    [Theory]
    [InlineData(200, "200.000000")]
    [InlineData(-0.0000005, "-0.000000")]
    [InlineData(0.0000005, "0.000000")]
    [InlineData(0.0000015, "0.000002")]
    [InlineData(1e22, "10000000000000000000000.000000")]
    [InlineData(double.NegativeInfinity, "-inf")]
    public void FixedFormatIsPrintfF(double d, string expected) => Assert.Equal(expected, FixedPointFormat.Fixed(d, 6));

    [Theory]
    [InlineData(0.0, "0.0000")]
    [InlineData(0.00004, "0.0000")]
    [InlineData(0.00005, "0.0000")]
    [InlineData(0.00006, "0.0001")]
    [InlineData(0.00025, "0.0002")]
    [InlineData(0.0123, "0.0123")]
    [InlineData(1.23456, "1.2346")]
    [InlineData(166274.15156960038, "166274.1516")]
    public void DistancesHaveFourDecimals(double d, string expected)
    {
        Span<byte> buf = stackalloc byte[40];
        int n = Commands.GeoCommands.FormatDistance(d, buf);
        Assert.Equal(expected, Encoding.ASCII.GetString(buf[..n]));
    }

    [Fact]
    public void PartialQuickSortOrdersTheWantedRange()
    {
        var rng = new Random(7);
        for (int round = 0; round < 300; round++)
        {
            int n = rng.Next(0, 120);
            var items = Enumerable.Range(0, n).Select(_ => rng.Next(0, 30)).ToArray();
            var sorted = items.OrderBy(x => x).ToArray();
            int from = n == 0 ? 0 : rng.Next(0, n), to = n == 0 ? -1 : rng.Next(from - 1, n);
            PartialQuickSort.Sort(items.AsSpan(), (a, b) => a.CompareTo(b), from, to);
            for (int i = from; i <= to; i++) Assert.Equal(sorted[i], items[i]);
            Assert.Equal(sorted, items.OrderBy(x => x).ToArray());
        }
    }
}
