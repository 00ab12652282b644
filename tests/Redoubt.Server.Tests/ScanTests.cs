using Redoubt.Server.Commands;
using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>SCAN over the wire: options, cursor parsing, and the guarantee across table resizes.</summary>
public sealed class ScanTests : IClassFixture<KeyspaceServer>
{
    private readonly ServerProcess _server;
    public ScanTests(KeyspaceServer shared) => _server = shared.Server;

    private RespClient Db(int db)
    {
        var c = _server.Connect();
        Assert.Equal("OK", c.Call("SELECT", db));
        Assert.Equal("OK", c.Call("FLUSHDB"));
        return c;
    }

    private static void Populate(RespClient c, string prefix, int from, int to)
    {
        var batch = new MemoryStream();
        for (int i = from; i < to; i++) batch.Write(RespClient.Encode("SET", prefix + i, "v"));
        c.SendRaw(batch.ToArray());
        for (int i = from; i < to; i++) Assert.Equal("OK", c.Read());
    }

    private static void Delete(RespClient c, string prefix, int from, int to)
    {
        var batch = new MemoryStream();
        for (int i = from; i < to; i++) batch.Write(RespClient.Encode("DEL", prefix + i));
        c.SendRaw(batch.ToArray());
        for (int i = from; i < to; i++) c.Read();
    }

    /// <summary>Runs a full SCAN with extra arguments; returns every key seen (with repeats).</summary>
    private static List<string> FullScan(RespClient c, params string[] options)
    {
        var keys = new List<string>();
        string cursor = "0";
        do
        {
            var reply = (object?[])c.Call(["SCAN", cursor, .. options])!;
            cursor = (string)reply[0]!;
            keys.AddRange(((object?[])reply[1]!).Cast<string>());
        } while (cursor != "0");
        return keys;
    }

    [Fact]
    public void FullScanReturnsEveryKeyWithAnyCount()
    {
        using var c = Db(1);
        Populate(c, "key:", 0, 1000);
        Assert.Equal(1000, FullScan(c).Distinct().Count());
        Assert.Equal(1000, FullScan(c, "COUNT", "5").Distinct().Count());
        Assert.Equal(1000, FullScan(c, "count", "100000").Distinct().Count());
    }

    [Fact]
    public void MatchAndTypeFilter()
    {
        using var c = Db(2);
        Populate(c, "key:", 0, 1000);
        Assert.Equal(100, FullScan(c, "MATCH", "key:1??").Distinct().Count());
        Assert.Empty(FullScan(c, "TYPE", "list"));
        Assert.Equal(1000, FullScan(c, "TYPE", "STRING").Distinct().Count());
        Assert.Equal(1000, FullScan(c, "type", "string", "match", "key:*", "count", "10").Distinct().Count());
    }

    [Fact]
    public void ExpiredKeysAreNotReturned()
    {
        using var c = Db(3);
        Populate(c, "live:", 0, 50);
        for (int i = 0; i < 50; i++) c.Call("SET", "dead:" + i, "v", "PX", "1");
        Thread.Sleep(20);
        var keys = FullScan(c, "COUNT", "1000");
        Assert.Equal(50, keys.Distinct().Count());
        Assert.All(keys, k => Assert.StartsWith("live:", k));
    }

    [Fact]
    public void CursorSyntax()
    {
        using var c = Db(4);
        c.Call("SET", "k", "v");
        foreach (var bad in new[] { "abc", " 1", "1 ", "+", "-", "18446744073709551616", "1.5", "0x10" })
            Assert.Equal("ERR invalid cursor", Assert.IsType<RespError>(c.Call("SCAN", bad)).Message);
        // strtoul's rules: empty is 0, a sign is allowed, "-1" wraps to 2^64-1, the full unsigned range is valid.
        foreach (var good in new[] { "", "+0", "-1", "18446744073709551615", "9223372036854775808", "-18446744073709551615" })
            Assert.IsType<object?[]>(c.Call("SCAN", good));
        Assert.Equal("ERR syntax error", Assert.IsType<RespError>(c.Call("SCAN", "0", "COUNT", "0")).Message);
        Assert.Equal("ERR value is not an integer or out of range", Assert.IsType<RespError>(c.Call("SCAN", "0", "COUNT", "x")).Message);
        Assert.Equal("ERR syntax error", Assert.IsType<RespError>(c.Call("SCAN", "0", "MATCH")).Message);
        Assert.Equal("ERR syntax error", Assert.IsType<RespError>(c.Call("SCAN", "0", "FOO", "bar")).Message);
    }

    [Fact]
    public void CursorsAreUnsignedDecimalStrings()
    {
        using var c = Db(5);
        Populate(c, "k", 0, 5000);
        var seen = new List<ulong>();
        string cursor = "0";
        do
        {
            var reply = (object?[])c.Call("SCAN", cursor, "COUNT", "50")!;
            cursor = (string)reply[0]!;
            Assert.True(ulong.TryParse(cursor, out ulong v) && v.ToString() == cursor);
            seen.Add(v);
        } while (cursor != "0");
        Assert.True(seen.Count > 10);
    }

    /// <summary>
    /// Keys present for the whole scan are returned even when, between calls, the table grows a lot and
    /// then shrinks below its starting size (both directions of the reverse-binary cursor argument).
    /// </summary>
    [Fact]
    public void GuaranteeHoldsAcrossGrowthAndShrink()
    {
        using var c = Db(6);
        Populate(c, "stay:", 0, 300);
        var seen = new HashSet<string>();
        string cursor = "0";
        int step = 0;
        do
        {
            var reply = (object?[])c.Call("SCAN", cursor, "COUNT", "20")!;
            cursor = (string)reply[0]!;
            foreach (var k in ((object?[])reply[1]!).Cast<string>()) seen.Add(k);
            step++;
            if (step == 2) Populate(c, "grow:", 0, 20000);        // buckets multiply
            if (step == 5) Delete(c, "grow:", 0, 20000);          // and shrink back
            if (step == 7) Populate(c, "grow:", 0, 3000);
            if (step == 9) Delete(c, "grow:", 0, 3000);
        } while (cursor != "0");
        for (int i = 0; i < 300; i++) Assert.Contains("stay:" + i, seen);
    }
}

/// <summary>The SCAN guarantee and cursor arithmetic on the table itself, with randomized resizes.</summary>
public sealed class KeyTableScanTests
{
    private static byte[] Rec(string key) => StringRecord.Create(System.Text.Encoding.ASCII.GetBytes(key), "v"u8);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void KeysPresentThroughoutAreAlwaysReturned(int seed)
    {
        var rng = new Random(seed);
        var table = new KeyTable(seed);
        var stable = new HashSet<string>();
        for (int i = 0; i < 500; i++)
        {
            table.Add(Rec("s" + i), 0);
            stable.Add("s" + i);
        }
        var transient = new List<string>();
        int next = 0;
        var seen = new HashSet<string>();
        var found = new List<object>();
        ulong cursor = 0;
        do
        {
            found.Clear();
            cursor = table.ScanBucket(cursor, found);
            foreach (var o in found) seen.Add(System.Text.Encoding.ASCII.GetString(KeyTable.KeyOf(o)));
            // Between steps, grow or shrink the table by a random large amount.
            if (rng.Next(3) == 0)
            {
                int n = rng.Next(5000);
                for (int i = 0; i < n; i++)
                {
                    string k = "t" + next++;
                    table.Add(Rec(k), 0);
                    transient.Add(k);
                }
            }
            else if (transient.Count > 0 && rng.Next(2) == 0)
            {
                int n = rng.Next(transient.Count + 1);
                for (int i = 0; i < n; i++)
                {
                    var k = transient[^1];
                    transient.RemoveAt(transient.Count - 1);
                    table.Remove(table.Find(System.Text.Encoding.ASCII.GetBytes(k)));
                }
            }
        } while (cursor != 0);
        Assert.Subset(seen, stable);
    }

    [Fact]
    public void EmptyTableEndsTheScan()
    {
        var table = new KeyTable(1);
        Assert.Equal(0UL, table.ScanBucket(12345, new List<object>()));
    }

    [Theory]
    [InlineData("", true, 0UL)]
    [InlineData("0", true, 0UL)]
    [InlineData("+7", true, 7UL)]
    [InlineData("-1", true, ulong.MaxValue)]
    [InlineData("18446744073709551615", true, ulong.MaxValue)]
    [InlineData("18446744073709551616", false, 0UL)]
    [InlineData(" 1", false, 0UL)]
    [InlineData("1a", false, 0UL)]
    [InlineData("-", false, 0UL)]
    public void CursorParsingFollowsStrtoul(string text, bool ok, ulong value)
    {
        Assert.Equal(ok, KeyspaceCommands.TryParseCursor(System.Text.Encoding.ASCII.GetBytes(text), out ulong v));
        if (ok) Assert.Equal(value, v);
    }
}
