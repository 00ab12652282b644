using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Redoubt.Server.Config;
using Redoubt.Server.Persistence;
using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>A stand-in stream value: the stream type lives elsewhere, so tests carry the decoded data.</summary>
internal sealed class StubStream(byte[] key, RdbStreamData data) : RedisObject(key)
{
    public readonly RdbStreamData Data = data;
    public override RedisType Type => RedisType.Stream;
    public override string Encoding => "stream";
    public override RedisObject Clone(byte[] newKey) => new StubStream(newKey, Data);
    public override long MemoryUsage => 64;
}

/// <summary>In-process checks of the RDB codecs and of loading Redis 7.0.15's own files.</summary>
public class RdbFormatTests
{
    public static string FixtureDir => Path.Combine(ServerProcess.RepoRoot, "tests", "Redoubt.Server.Tests", "Fixtures", "rdb-7.0.15");

    internal static RedisServer NewServer()
    {
        var server = new RedisServer(new ServerConfig());
        server.Start(listen: false);
        server.StreamFromRdb = (key, data) => new StubStream(key, data);
        server.StreamToRdb = o => ((StubStream)o).Data;
        return server;
    }

    [Fact]
    public void Crc64MatchesTheJonesCheckValue()
    {
        Assert.Equal(0xe9c6d914c4b8d9caUL, Crc64.Update(0, "123456789"u8));
        // Incremental updates give the same result as one pass.
        var data = Encoding.ASCII.GetBytes(new string('x', 1000) + "tail");
        Assert.Equal(Crc64.Update(0, data), Crc64.Update(Crc64.Update(0, data.AsSpan(0, 333)), data.AsSpan(333)));
    }

    [Theory]
    [InlineData(21, 1)]
    [InlineData(1000, 3)]
    [InlineData(70000, 7)]
    public void LzfRoundTrips(int size, int seed)
    {
        var rng = new Random(seed);
        var data = new byte[size];
        for (int i = 0; i < size; i++) data[i] = (byte)(size > 100 && rng.Next(4) == 0 ? rng.Next(256) : 'a' + (i % 7));
        var outBuf = new byte[size + 8];
        int n = Lzf.Compress(data, outBuf, size - 4);
        Assert.True(n > 0 && n < size - 4);
        var back = new byte[size];
        Assert.True(Lzf.Decompress(outBuf.AsSpan(0, n), back));
        Assert.Equal(data, back);
        // Incompressible input does not fit in len-4 bytes: the writer then stores it plainly.
        var noise = new byte[200];
        rng.NextBytes(noise);
        Assert.Equal(0, Lzf.Compress(noise, new byte[208], 196));
        // A corrupt back reference is refused.
        Assert.False(Lzf.Decompress(new byte[] { 0xE0, 0x05, 0xFF }, new byte[20]));
    }

    [Fact]
    public void ListpackEncodesAsRedisDoes()
    {
        var lp = new ListpackBuilder();
        lp.Reset();
        lp.Append("a"u8); lp.Append("b"u8); lp.Append("c"u8);
        Assert.Equal(Convert.FromHexString("100000000300816102816202816302FF"), lp.Finish().ToArray());
        lp.Reset();
        foreach (var v in new long[] { 0, 127, 128, -1, 4095, -4096, 4096, 32767, -32768, 8388607, -8388608, int.MaxValue, long.MinValue })
            lp.AppendInt(v);
        var bytes = lp.Finish().ToArray();
        Assert.Equal(13, ListpackReader.Validate(bytes, deep: true));
        var r = new ListpackReader(bytes);
        var seen = new List<long>();
        while (r.Next(out _, out long v, out bool isInt)) { Assert.True(isInt); seen.Add(v); }
        Assert.Equal(new long[] { 0, 127, 128, -1, 4095, -4096, 4096, 32767, -32768, 8388607, -8388608, int.MaxValue, long.MinValue }, seen);
        // A long string takes the 12-bit and 32-bit length forms, and back lengths of 2 and 3 bytes.
        lp.Reset();
        lp.Append(new byte[100]); lp.Append(new byte[5000]); lp.Append(new byte[20000]);
        Assert.Equal(3, ListpackReader.Validate(lp.Finish().ToArray(), deep: true));
    }

    [Fact]
    public void DeepValidationRejectsACorruptListpack()
    {
        var lp = new ListpackBuilder();
        lp.Reset();
        lp.Append("hello"u8); lp.Append("world"u8);
        var bytes = lp.Finish().ToArray();
        bytes[6 + 6] = 9; // the first entry's back length
        Assert.Equal(2, ListpackReader.Validate(bytes, deep: false));
        Assert.Throws<RdbFormatException>(() => ListpackReader.Validate(bytes, deep: true));
    }

    // ---- the 7.0.15 fixtures --------------------------------------------------------------------

    public static Dictionary<string, string> Canonical(RedisServer server)
    {
        var result = new Dictionary<string, string>();
        foreach (var db in server.Databases)
        {
            var table = db.Table;
            for (int slot = 0; slot < table.SlotLimit; slot++)
            {
                if (!table.IsOccupied(slot)) continue;
                var obj = db.ObjectAt(slot);
                string key = Encoding.Latin1.GetString(KeyTable.KeyOf(obj));
                result[$"{db.Id}/{key}"] = $"{db.GetExpire(slot)}|{Describe(obj)}";
            }
        }
        return result;
    }

    private static string L1(ReadOnlySpan<byte> s) => Encoding.Latin1.GetString(s);

    private static string Describe(object obj)
    {
        var sb = new StringBuilder();
        switch (obj)
        {
            case byte[] rec:
                return "string:" + Convert.ToBase64String(StringRecord.Value(rec));
            case HashObject h:
            {
                var items = new List<string>();
                for (int p = h.First(); p >= 0; p = h.NextPosition(p)) items.Add(L1(h.FieldAt(p)) + "=" + L1(h.ValueAt(p)));
                items.Sort(StringComparer.Ordinal);
                return "hash:" + string.Join(",", items);
            }
            case ListObject l:
            {
                var items = new List<string>();
                if (l.TrySeek(0, out var cur))
                    do items.Add(L1(ListObject.Current(cur))); while (ListObject.MoveNext(ref cur));
                return "list:" + string.Join(",", items);
            }
            case SetObject s:
            {
                var items = new List<string>();
                var scratch = new byte[SetObject.ScratchSize];
                for (int p = s.First(); p >= 0; p = s.NextPosition(p)) items.Add(L1(s.MemberAt(p, scratch)));
                items.Sort(StringComparer.Ordinal);
                return "set:" + string.Join(",", items);
            }
            case SortedSetObject z:
            {
                var items = new List<string>();
                for (int p = z.First(); p >= 0; p = z.Next(p))
                {
                    var m = z.EntryAt(p, out double sc);
                    items.Add(L1(m) + "=" + Protocol.NumberFormat.G17(sc));
                }
                return "zset:" + string.Join(",", items);
            }
            case StubStream st:
                foreach (var e in st.Data.Entries)
                    sb.Append(e.Id).Append('{').Append(string.Join(",", e.FieldsAndValues.Select(x => L1(x)))).Append('}');
                return "stream:" + sb;
        }
        return "?";
    }

    /// <summary>The expected JSON of a fixture in the same canonical form.</summary>
    private static Dictionary<string, string> Expected(string jsonPath, out Dictionary<string, string> encodings)
    {
        // The file uses the bare Infinity literal, which strict JSON parsers refuse.
        string text = Regex.Replace(File.ReadAllText(jsonPath), @"(?<=[\[,:]\s*)(-?Infinity|NaN)(?=\s*[\],}])", "\"$1\"");
        using var doc = JsonDocument.Parse(text);
        var result = new Dictionary<string, string>();
        encodings = new Dictionary<string, string>();
        foreach (var db in doc.RootElement.EnumerateObject())
            foreach (var k in db.Value.EnumerateObject())
            {
                var v = k.Value;
                string type = v.GetProperty("type").GetString()!;
                long exp = v.GetProperty("pexpireat").GetInt64();
                string desc = type switch
                {
                    "string" => "string:" + v.GetProperty("value_b64").GetString(),
                    "hash" => "hash:" + string.Join(",", v.GetProperty("value").EnumerateObject().Select(p => p.Name + "=" + p.Value.GetString()).OrderBy(x => x, StringComparer.Ordinal)),
                    "list" => "list:" + string.Join(",", v.GetProperty("value").EnumerateArray().Select(x => x.GetString())),
                    "set" => "set:" + string.Join(",", v.GetProperty("value").EnumerateArray().Select(x => x.GetString()).OrderBy(x => x, StringComparer.Ordinal)),
                    "zset" => "zset:" + string.Join(",", v.GetProperty("value").EnumerateArray().Select(x => x[0].GetString() + "=" + Score(x[1]))),
                    "stream" => "stream:" + string.Concat(v.GetProperty("value").EnumerateArray().Select(x =>
                        x[0].GetString() + "{" + string.Join(",", x[1].EnumerateObject().SelectMany(p => new[] { p.Name, p.Value.GetString() })) + "}")),
                    _ => "?",
                };
                result[$"{db.Name}/{k.Name}"] = $"{exp}|{desc}";
                encodings[$"{db.Name}/{k.Name}"] = v.GetProperty("encoding_in_redis").GetString()!;
            }
        return result;
    }

    private static string Score(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? (e.GetString() == "Infinity" ? "inf" : e.GetString() == "-Infinity" ? "-inf" : "nan")
        : Protocol.NumberFormat.G17(e.GetDouble());

    private static string ExpectedEncoding(object obj) => obj switch
    {
        byte[] rec => StringRecord.ValueLength(rec) <= 20 && Protocol.NumberParser.TryParseInt64(StringRecord.Value(rec), out _) ? "int"
            : StringRecord.ValueLength(rec) <= 44 ? "embstr" : "raw",
        RedisObject ro => ro.Encoding,
        _ => "?",
    };

    [Theory]
    [InlineData("all-types.rdb")]
    [InlineData("all-types-uncompressed.rdb")]
    public void LoadsRedis7Fixture(string file)
    {
        var server = NewServer();
        try
        {
            var result = RdbLoader.LoadFile(server, Path.Combine(FixtureDir, file));
            var expected = Expected(Path.Combine(FixtureDir, file.Replace(".rdb", ".expected.json")), out var encodings);
            var actual = Canonical(server);
            Assert.Equal(expected.Count, actual.Count);
            foreach (var (k, v) in expected) Assert.Equal(v, actual[k]);
            Assert.Equal(expected.Count, result.KeysLoaded);
            Assert.Contains(("redis-ver", "7.0.15"), result.Aux);
            // Encodings as Redis reported them for the same data.
            foreach (var db in server.Databases)
                for (int slot = 0; slot < db.Table.SlotLimit; slot++)
                {
                    if (!db.Table.IsOccupied(slot)) continue;
                    var obj = db.ObjectAt(slot);
                    string name = $"{db.Id}/{Encoding.Latin1.GetString(KeyTable.KeyOf(obj))}";
                    Assert.True(encodings[name] == ExpectedEncoding(obj), $"{name}: {encodings[name]} vs {ExpectedEncoding(obj)}");
                }
            // The stream, through the data object: entries, IDs and the consumer group.
            var stream = (StubStream)server.Databases[0].Peek("stream:1"u8)!;
            var d = stream.Data;
            Assert.Equal(2UL, d.Length);
            Assert.Equal(new RdbStreamId(2, 0), d.LastId);
            Assert.Equal(new RdbStreamId(1, 1), d.FirstId);
            var g = Assert.Single(d.Groups);
            Assert.Equal("grp", L1(g.Name));
            Assert.Equal(new RdbStreamId(1, 1), g.LastId);
            Assert.Equal(1, g.EntriesRead);
            var pending = Assert.Single(g.Pending);
            Assert.Equal(new RdbStreamId(1, 1), pending.Id);
            var consumer = Assert.Single(g.Consumers);
            Assert.Equal(new RdbStreamId(1, 1), Assert.Single(consumer.Pending));
        }
        finally { server.Shutdown(true, true); }
    }

    internal static byte[] SaveToBytes(RedisServer server)
    {
        var ms = new MemoryStream();
        lock (server.Sync) RdbSave.WriteAll(server, RdbWriter.For(server), ms);
        return ms.ToArray();
    }

    [Fact]
    public void WhatWeWriteLoadsBackIdentically()
    {
        var a = NewServer();
        var b = NewServer();
        try
        {
            RdbLoader.LoadFile(a, Path.Combine(FixtureDir, "all-types.rdb"));
            var bytes = SaveToBytes(a);
            Assert.Equal("REDIS0010"u8.ToArray(), bytes[..9]);
            RdbLoader.Load(b, bytes, 0, bytes.Length, RdbLoadFlags.None, lockHeld: false);
            Assert.Equal(Canonical(a).OrderBy(x => x.Key), Canonical(b).OrderBy(x => x.Key));
            var sa = ((StubStream)a.Databases[0].Peek("stream:1"u8)!).Data;
            var sb = ((StubStream)b.Databases[0].Peek("stream:1"u8)!).Data;
            AssertSameStream(sa, sb);
        }
        finally { a.Shutdown(true, true); b.Shutdown(true, true); }
    }

    /// <summary>An RDB of database 0 holding <paramref name="entries"/> in this order (duplicates allowed).</summary>
    private static byte[] RdbOf(RedisServer server, params (string Key, string Value)[] entries)
    {
        var writer = RdbWriter.For(server);
        var ms = new MemoryStream();
        lock (server.Sync)
        {
            writer.Begin(server);
            writer.BeginDatabase(0, entries.Length, 0);
            foreach (var (k, v) in entries) writer.WriteEntry(StringRecord.Create(Encoding.ASCII.GetBytes(k), Encoding.ASCII.GetBytes(v)), -1, 0);
            writer.End();
            writer.FlushTo(ms);
        }
        return ms.ToArray();
    }

    [Fact]
    public void ADuplicatedKeyFailsTheLoadUnlessMerging()
    {
        var server = NewServer();
        try
        {
            var bytes = RdbOf(server, ("a", "1"), ("dup", "first"), ("b", "2"), ("dup", "second"));
            var e = Assert.Throws<RdbLoadException>(() => RdbLoader.Load(server, bytes, 0, bytes.Length, RdbLoadFlags.None, lockHeld: false));
            Assert.Equal("Duplicated key 'dup' found in RDB file (DB 0)", e.Message);
            foreach (var db in server.Databases) db.Clear();
            // DEBUG RELOAD MERGE: the later entry replaces the earlier one, and nothing is counted twice.
            var result = RdbLoader.Load(server, bytes, 0, bytes.Length, RdbLoadFlags.AllowDuplicates, lockHeld: false);
            Assert.Equal(4, result.KeysLoaded);
            var db0 = server.Databases[0];
            Assert.Equal(3, db0.Count);
            Assert.Equal("second", Encoding.ASCII.GetString(StringRecord.Value((byte[])db0.Peek("dup"u8)!)));
        }
        finally { server.Shutdown(true, true); }
    }

    internal static void AssertSameStream(RdbStreamData x, RdbStreamData y)
    {
        Assert.Equal(x.Length, y.Length);
        Assert.Equal(x.LastId, y.LastId);
        Assert.Equal(x.FirstId, y.FirstId);
        Assert.Equal(x.MaxDeletedId, y.MaxDeletedId);
        Assert.Equal(x.EntriesAdded, y.EntriesAdded);
        Assert.Equal(x.Entries.Count, y.Entries.Count);
        for (int i = 0; i < x.Entries.Count; i++)
        {
            Assert.Equal(x.Entries[i].Id, y.Entries[i].Id);
            Assert.Equal(x.Entries[i].FieldsAndValues.Select(v => L1(v)), y.Entries[i].FieldsAndValues.Select(v => L1(v)));
        }
        Assert.Equal(x.Groups.Count, y.Groups.Count);
        for (int i = 0; i < x.Groups.Count; i++)
        {
            var (g, h) = (x.Groups[i], y.Groups[i]);
            Assert.Equal(L1(g.Name), L1(h.Name));
            Assert.Equal(g.LastId, h.LastId);
            Assert.Equal(g.EntriesRead, h.EntriesRead);
            Assert.Equal(g.Pending, h.Pending);
            Assert.Equal(g.Consumers.Count, h.Consumers.Count);
            for (int c = 0; c < g.Consumers.Count; c++)
            {
                Assert.Equal(L1(g.Consumers[c].Name), L1(h.Consumers[c].Name));
                Assert.Equal(g.Consumers[c].SeenTimeMs, h.Consumers[c].SeenTimeMs);
                Assert.Equal(g.Consumers[c].Pending, h.Consumers[c].Pending);
            }
        }
    }

    [Fact]
    public void FilesAreReadThroughAWindowWithoutLosingAByte()
    {
        // Enough data for several 1 MB windows: plain values straddling window edges, a value larger
        // than a window, compressible values (LZF) and small hashes, after the fixture's every type.
        var a = NewServer();
        var b = NewServer();
        var c = NewServer();
        string dir = Directory.CreateTempSubdirectory("redoubt-rdb-window").FullName;
        try
        {
            RdbLoader.LoadFile(a, Path.Combine(FixtureDir, "all-types.rdb"));
            var rng = new Random(7);
            byte[] huge;
            lock (a.Sync)
            {
                var db = a.Databases[0];
                for (int i = 0; i < 6000; i++)
                {
                    var value = new byte[rng.Next(1, 1500)];
                    rng.NextBytes(value);
                    db.Add(StringRecord.Create(Encoding.ASCII.GetBytes($"plain:{i}"), value));
                }
                huge = new byte[3 << 20];
                rng.NextBytes(huge);
                db.Add(StringRecord.Create("huge"u8, huge));
                for (int i = 0; i < 2000; i++)
                {
                    db.Add(StringRecord.Create(Encoding.ASCII.GetBytes($"lzf:{i}"), Encoding.ASCII.GetBytes(new string((char)('a' + i % 26), 200 + i % 300))));
                    var h = new HashObject(Encoding.ASCII.GetBytes($"hash:{i}"));
                    for (int f = 0; f < 8; f++) h.Set(Encoding.ASCII.GetBytes($"field{f}"), Encoding.ASCII.GetBytes($"value{f * i}"), 128, 64);
                    db.Add(h);
                }
            }
            var bytes = SaveToBytes(a);
            Assert.True(bytes.Length > 7 << 20);
            string path = Path.Combine(dir, "dump.rdb");
            File.WriteAllBytes(path, bytes);

            var result = RdbLoader.LoadFile(b, path);
            Assert.Equal(bytes.Length, result.ConsumedBytes);
            Assert.Equal(Canonical(a).OrderBy(x => x.Key), Canonical(b).OrderBy(x => x.Key));

            // One flipped byte inside the huge value leaves the structure intact: only the checksum,
            // accumulated across the windows, can notice it.
            int hugeAt = bytes.AsSpan().IndexOf(huge.AsSpan(0, 32));
            Assert.True(hugeAt > 0);
            bytes[hugeAt + (2 << 20)] ^= 1;
            File.WriteAllBytes(path, bytes);
            var crc = Assert.Throws<RdbLoadException>(() => RdbLoader.LoadFile(c, path));
            Assert.Equal("RDB CRC error", crc.Message);

            // Cut in the middle of the huge value: a short read at the end of the file, not a hang or a crash.
            File.WriteAllBytes(path, bytes[..(hugeAt + (1 << 20))]);
            var cut = Assert.Throws<RdbLoadException>(() => RdbLoader.LoadFile(NewServerFlushed(c), path));
            Assert.True(cut.ShortRead);
        }
        finally
        {
            a.Shutdown(true, true); b.Shutdown(true, true); c.Shutdown(true, true);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static RedisServer NewServerFlushed(RedisServer server)
    {
        lock (server.Sync) foreach (var db in server.Databases) db.Clear();
        return server;
    }

    [Fact]
    public void StreamDataRoundTripsThroughManyNodes()
    {
        var data = new RdbStreamData();
        for (int i = 0; i < 450; i++)
        {
            var fv = i % 3 == 0
                ? new[] { "a"u8.ToArray(), Encoding.ASCII.GetBytes(i.ToString()), "b"u8.ToArray(), "x"u8.ToArray() }
                : new[] { "other"u8.ToArray(), Encoding.ASCII.GetBytes(new string('v', i % 50)) };
            data.Entries.Add(new RdbStreamEntry(new RdbStreamId(1000 + (ulong)i / 2, (ulong)(i % 2)), fv));
        }
        data.Length = 450;
        data.LastId = data.Entries[^1].Id;
        data.FirstId = data.Entries[0].Id;
        data.MaxDeletedId = new RdbStreamId(5, 5);
        data.EntriesAdded = 460;
        var pel = new List<RdbStreamPending> { new(data.Entries[3].Id, 1234567, 2), new(data.Entries[7].Id, 7654321, 1) };
        data.Groups.Add(new RdbStreamGroup("g1"u8.ToArray(), data.Entries[7].Id, 8, pel,
            [new RdbStreamConsumer("alice"u8.ToArray(), 99, [data.Entries[3].Id]), new RdbStreamConsumer("bob"u8.ToArray(), 100, [data.Entries[7].Id])]));
        data.Groups.Add(new RdbStreamGroup("empty"u8.ToArray(), default, 0, [], []));

        var server = NewServer();
        try
        {
            var enc = new RdbEncoder(server, compress: true);
            RdbStreamCodec.Write(enc, data, new ListpackBuilder(), server);
            var bytes = enc.Written.ToArray();
            var back = RdbStreamCodec.Read(new RdbReader(bytes, 0, bytes.Length), Rdb.TypeStreamListpacks2, deep: true);
            AssertSameStream(data, back);
        }
        finally { server.Shutdown(true, true); }
    }

    [Fact]
    public void HugeLengthsFailBeforeAllocating()
    {
        var server = NewServer();
        try
        {
            // A list claiming 2^62 elements, and a string claiming 4 GB, in a few bytes.
            foreach (var payload in new[] { new byte[] { Rdb.TypeList, 0x81, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x61 },
                                            new byte[] { Rdb.TypeString, 0x80, 0xFF, 0xFF, 0xFF, 0xF0, 0x61 },
                                            new byte[] { Rdb.TypeString, 0xC3, 0x02, 0x80, 0x7F, 0xFF, 0xFF, 0xFF, 0x00, 0x61 } })
            {
                var r = new RdbReader(payload, 1, payload.Length - 1);
                long before = GC.GetAllocatedBytesForCurrentThread();
                Assert.ThrowsAny<Exception>(() => RdbObjects.Read(r, payload[0], "k"u8.ToArray(), server, deep: false));
                Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
            }
        }
        finally { server.Shutdown(true, true); }
    }
}
