using System.Globalization;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Random GEO command streams sent to our server and to a real redis-server 7.0, replies compared
/// byte for byte in RESP2 and RESP3. Points cluster near the poles' limits and the antimeridian,
/// some share coordinates (ties in distance order, with and without COUNT), radii range from zero
/// to more than half the earth's circumference (coarse cells whose neighbours coincide), and the
/// sets grow past the listpack limit so both encodings are searched.
/// </summary>
public sealed class GeoDifferentialTests
{
    private sealed class Generator(int seed)
    {
        private readonly Random _rng = new(seed);
        private static readonly string[] Keys = ["g1", "g2"];

        private T Pick<T>(T[] a) => a[_rng.Next(a.Length)];
        private double Uniform(double lo, double hi) => lo + _rng.NextDouble() * (hi - lo);

        private double Lon()
        {
            if (_rng.NextDouble() < 0.15)
                return Pick(new[] { 180.0, -180.0, 179.9999, -179.9999, 0.0 }) + (_rng.Next(2) == 0 ? Uniform(-0.5, 0.5) : 0);
            return Uniform(-180, 180);
        }

        private double Lat()
        {
            if (_rng.NextDouble() < 0.2)
                return Pick(new[] { 85.05112878, -85.05112878, 85.0, -85.0, 84.9, 0.0 }) - Uniform(0, 0.1) * (_rng.Next(2) == 0 ? 1 : -1);
            return Uniform(-85.05112878, 85.05112878);
        }

        /// <summary>A coordinate with a random number of decimals; out-of-range values test the error path.</summary>
        private string Fmt(double x) => Math.Round(x, Pick(new[] { 0, 2, 6, 10, 15 })).ToString("R", CultureInfo.InvariantCulture);

        private string Unit() => Pick(new[] { "m", "km", "mi", "ft", "KM" });

        private string Radius() => _rng.Next(11) == 10
            ? Uniform(0, 3000000).ToString("R", CultureInfo.InvariantCulture)
            : Pick(new[] { "0", "1", "100", "5000", "50000", "500000", "2000000", "7000000", "20000000", "25000000" });

        private string Member() => "m" + _rng.Next(300);

        public List<List<string>> Next()
        {
            string k = Pick(Keys);
            double choice = _rng.NextDouble();
            if (choice < 0.3)
            {
                var cmd = new List<string> { "GEOADD", k };
                int n = Pick(new[] { 1, 1, 3, 10 });
                for (int j = 0; j < n; j++) cmd.AddRange([Fmt(Lon()), Fmt(Lat()), Member()]);
                return [cmd];
            }
            if (choice < 0.35)
            {
                // Several members at one point: equal distances.
                var cmd = new List<string> { "GEOADD", k };
                string lon = Fmt(Lon()), lat = Fmt(Lat());
                for (int j = 0; j < 5; j++) cmd.AddRange([lon, lat, "d" + _rng.Next(40)]);
                return [cmd];
            }
            if (choice < 0.8) return Search(k);
            if (choice < 0.85) return [["GEOPOS", k, Member(), Member()]];
            if (choice < 0.9) return [["GEOHASH", k, Member(), Member()]];
            if (choice < 0.95) return [["GEODIST", k, Member(), Member(), Unit()]];
            return [["ZREM", k, Member()]];
        }

        private List<List<string>> Search(string k)
        {
            string name = Pick(new[] { "GEOSEARCH", "GEOSEARCH", "GEORADIUS", "GEORADIUSBYMEMBER", "GEOSEARCHSTORE", "GEORADIUS_RO", "GEORADIUSBYMEMBER_RO" });
            var cmd = new List<string> { name };
            if (name.StartsWith("GEOSEARCH"))
            {
                if (name == "GEOSEARCHSTORE") cmd.Add("dst");
                cmd.Add(k);
                if (_rng.Next(2) == 0) cmd.AddRange(["FROMLONLAT", Fmt(Lon()), Fmt(Lat())]);
                else cmd.AddRange(["FROMMEMBER", Member()]);
                if (_rng.Next(2) == 0) cmd.AddRange(["BYRADIUS", Radius(), Unit()]);
                else cmd.AddRange(["BYBOX", Radius(), Radius(), Unit()]);
            }
            else if (name.StartsWith("GEORADIUSBYMEMBER")) cmd.AddRange([k, Member(), Radius(), Unit()]);
            else cmd.AddRange([k, Fmt(Lon()), Fmt(Lat()), Radius(), Unit()]);

            bool store = name == "GEOSEARCHSTORE" || (name is "GEORADIUS" or "GEORADIUSBYMEMBER" && _rng.Next(10) < 3);
            if (!store)
            {
                foreach (var o in new[] { "WITHDIST", "WITHCOORD", "WITHHASH" })
                    if (_rng.Next(10) < 4) cmd.Add(o);
            }
            else if (name == "GEOSEARCHSTORE")
            {
                if (_rng.Next(2) == 0) cmd.Add("STOREDIST");
            }
            else cmd.AddRange([Pick(new[] { "STORE", "STOREDIST" }), "dst"]);
            if (_rng.Next(2) == 0) cmd.Add(Pick(new[] { "ASC", "DESC" }));
            if (_rng.Next(2) == 0)
            {
                cmd.AddRange(["COUNT", Pick(new[] { "1", "2", "3", "5", "10", "50" })]);
                if (_rng.Next(10) < 3) cmd.Add("ANY");
            }
            var batch = new List<List<string>> { cmd };
            if (store) batch.Add(["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
            return batch;
        }
    }

    private static List<string> Run(int protocol, int seed, int count)
    {
        using var real = new RealRedisServer();
        using var ours = new ServerProcess();
        using var a = new RawRespConnection(ours.Port);
        using var b = new RawRespConnection(real.Port);
        if (protocol == 3)
        {
            a.Call(["HELLO", "3"]);
            b.Call(["HELLO", "3"]);
        }
        var gen = new Generator(seed);
        var mismatches = new List<string>();
        int nonEmptySearches = 0;
        for (int i = 0; i < count && mismatches.Count < 5; i++)
        {
            foreach (var cmd in gen.Next())
            {
                string ra = a.Call(cmd), rb = b.Call(cmd);
                if (ra != rb) mismatches.Add($"#{i} {string.Join(' ', cmd)}\n  ours: {Trim(ra)}\n  real: {Trim(rb)}");
                else if (cmd[0].StartsWith("GEO") && cmd[0] != "GEOADD" && rb.Length > 4) nonEmptySearches++;
            }
        }
        // The stream is only meaningful if searches actually find points.
        Assert.True(nonEmptySearches > count / 10, $"only {nonEmptySearches} non-empty replies");
        return mismatches;
    }

    private static string Trim(string s) => s.Length > 600 ? s[..600] + "..." : s;

    [Theory]
    [InlineData(2, 11, 2500)]
    [InlineData(3, 12, 1500)]
    public void RandomGeoCommandsMatchRealRedis(int protocol, int seed, int count)
    {
        var mismatches = Run(protocol, seed, count);
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    /// <summary>Fixed edge cases: limits, bad input, scores that are not geohashes, the antimeridian.</summary>
    [Fact]
    public void EdgeCasesMatchRealRedis()
    {
        string[][] script =
        [
            ["GEOADD", "edge", "180", "85.05112878", "ne", "-180", "-85.05112878", "sw", "180", "-85.05112878", "se", "-180", "85.05112878", "nw", "0", "0", "zero"],
            ["GEOPOS", "edge", "ne", "sw", "se", "nw", "zero", "missing"],
            ["GEOHASH", "edge", "ne", "sw", "se", "nw", "zero", "missing"],
            ["ZRANGE", "edge", "0", "-1", "WITHSCORES"],
            ["GEOSEARCH", "edge", "FROMLONLAT", "179.9", "0", "BYBOX", "40000", "40000", "km", "WITHCOORD", "WITHDIST", "WITHHASH"],
            ["GEORADIUS", "edge", "0", "0", "30000", "km", "WITHDIST", "ASC"],
            ["ZADD", "weird", "-1", "neg", "1e20", "big", "inf", "pinf", "-inf", "ninf", "9007199254740992", "top"],
            ["GEOPOS", "weird", "neg", "big", "pinf", "ninf", "top"],
            ["GEOHASH", "weird", "neg", "big", "pinf", "ninf", "top"],
            ["GEODIST", "weird", "neg", "big", "mi"],
            ["GEOADD", "bad", "200", "10", "x"],
            ["GEOADD", "bad", "10", "86", "x"],
            ["GEOADD", "bad", "inf", "10", "x"],
            ["GEOADD", "bad", "1e300", "-1e-7", "x"],
            ["GEOADD", "bad", "-0.0000001", "-85.06", "x"],
            ["GEOADD", "bad", "nan", "10", "x"],
            ["GEOADD", "bad", "NX", "XX", "10", "10", "x"],
            ["GEOADD", "bad", "1", "1"],
            ["GEOADD", "bad", "GT", "1", "1", "x"],
            ["GEORADIUS", "edge", "0", "0", "-1", "km"],
            ["GEORADIUS", "edge", "0", "0", "1", "parsec"],
            ["GEORADIUS", "edge", "0", "0", "1", "km", "COUNT", "0"],
            ["GEORADIUS", "edge", "0", "0", "1", "km", "ANY"],
            ["GEORADIUS", "edge", "0", "0", "1", "km", "STORE", "x", "WITHDIST"],
            ["GEORADIUS_RO", "edge", "0", "0", "1", "km", "STORE", "x"],
            ["GEORADIUSBYMEMBER", "nokey", "m", "abc", "km", "STORE", "x"],
            ["GEOSEARCH", "edge", "BYRADIUS", "1", "km"],
            ["geosearch", "edge", "FROMLONLAT", "0", "0"],
            ["GEOSEARCH", "edge", "FROMMEMBER", "zero", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m"],
            ["GEOSEARCH", "edge", "FROMMEMBER", "missing", "BYRADIUS", "1", "m"],
            ["GEOSEARCH", "edge", "FROMLONLAT", "0", "0", "BYBOX", "1", "-1", "m"],
            ["GEOSEARCHSTORE", "dst", "edge", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m", "WITHCOORD"],
            ["GEOSEARCHSTORE", "dst", "edge", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m", "STOREDIST"],
            ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
            ["GEODIST", "edge", "ne", "sw", "km", "extra"],
            ["SET", "str", "x"],
            ["GEOPOS", "str", "x"],
            ["GEOADD", "str", "1", "1", "x"],
        ];
        using var real = new RealRedisServer();
        using var ours = new ServerProcess();
        foreach (int protocol in new[] { 2, 3 })
        {
            using var a = new RawRespConnection(ours.Port);
            using var b = new RawRespConnection(real.Port);
            a.Call(["HELLO", protocol.ToString()]);
            b.Call(["HELLO", protocol.ToString()]);
            a.Call(["FLUSHALL"]);
            b.Call(["FLUSHALL"]);
            foreach (var cmd in script)
                Assert.Equal(b.Call(cmd), a.Call(cmd));
        }
    }
}
