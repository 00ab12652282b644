using System.Text;
using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// The HyperLogLog commands from inside the server (notifications, the dirty counter, the stored
/// bytes, other types) and the representation code on its own. HyperLogLogCompatTests compares
/// against the real server.
/// </summary>
public sealed class HyperLogLogTests : IDisposable
{
    private readonly StringTestHost _h = new();
    public void Dispose() => _h.Dispose();

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;
    private static byte[] Bytes(object? reply) => Encoding.Latin1.GetBytes(Assert.IsType<string>(reply));

    [Fact]
    public void PfAddWithoutElementsCreatesAnEmptySparseHll()
    {
        Assert.Equal(1L, _h.Call("PFADD", "k"));
        var v = Bytes(_h.Call("GET", "k"));
        Assert.Equal("HYLL"u8.ToArray(), v[..4]);
        Assert.Equal(HyperLogLog.EncodingSparse, v[4]);
        // Creation counts as an update, so the (zero) cached count is marked stale.
        Assert.Equal(0x80, v[15]);
        Assert.Equal(new byte[] { 0x7f, 0xff }, v[16..]);
        Assert.Equal(0L, _h.Call("PFCOUNT", "k"));
        Assert.Equal(0x00, Bytes(_h.Call("GET", "k"))[15]);
        Assert.Equal(0L, _h.Call("PFADD", "k"));
        Assert.Equal(0L, _h.Call("PFCOUNT", "missing"));
    }

    [Fact]
    public void PfAddRepliesWhetherARegisterChanged()
    {
        Assert.Equal(1L, _h.Call("PFADD", "k", "a", "b", "c"));
        Assert.Equal(0L, _h.Call("PFADD", "k", "a", "b", "c"));
        Assert.Equal(1L, _h.Call("PFADD", "k", ""));
        Assert.Equal(4L, _h.Call("PFCOUNT", "k"));
    }

    [Fact]
    public void CachedCardinalityFollowsRedisRules()
    {
        _h.Call("PFADD", "k", "a", "b", "c");
        Assert.Equal(3L, _h.Call("PFCOUNT", "k"));
        var v = Bytes(_h.Call("GET", "k"));
        Assert.Equal(new byte[] { 3, 0, 0, 0, 0, 0, 0, 0 }, v[8..16]);
        _h.Call("PFADD", "k", "a", "b", "c");
        Assert.Equal(0x00, Bytes(_h.Call("GET", "k"))[15]);
        _h.Call("PFADD", "k", "1", "2", "3");
        v = Bytes(_h.Call("GET", "k"));
        // Only the validity bit changes: the stale count stays in the other bytes.
        Assert.Equal(new byte[] { 3, 0, 0, 0, 0, 0, 0, 0x80 }, v[8..16]);
        Assert.Equal(6L, _h.Call("PFCOUNT", "k"));
        Assert.Equal(new byte[] { 6, 0, 0, 0, 0, 0, 0, 0 }, Bytes(_h.Call("GET", "k"))[8..16]);
        // A multi-key count writes nothing back.
        _h.Call("PFADD", "k", "7");
        v = Bytes(_h.Call("GET", "k"));
        Assert.Equal(7L, _h.Call("PFCOUNT", "k", "missing"));
        Assert.Equal(v, Bytes(_h.Call("GET", "k")));
    }

    [Fact]
    public void WritesAreNotifiedAndCounted()
    {
        _h.TakeEvents();
        long d0 = _h.Dirty;
        Assert.Equal(1L, _h.Call("PFADD", "k", "a", "b"));
        // Creation plus one per register raised.
        Assert.Equal(3, _h.Dirty - d0);
        Assert.Equal(new[] { "pfadd:k" }, _h.TakeEvents());

        d0 = _h.Dirty;
        Assert.Equal(0L, _h.Call("PFADD", "k", "a"));
        Assert.Equal(0, _h.Dirty - d0);
        Assert.Empty(_h.TakeEvents());

        // Refreshing the cache changes the value: counted, but announced to nobody.
        d0 = _h.Dirty;
        _h.Call("PFCOUNT", "k");
        Assert.Equal(1, _h.Dirty - d0);
        _h.Call("PFCOUNT", "k");
        _h.Call("PFCOUNT", "k", "k");
        Assert.Equal(1, _h.Dirty - d0);
        Assert.Empty(_h.TakeEvents());

        d0 = _h.Dirty;
        Assert.Equal("OK", _h.Call("PFMERGE", "dest", "k"));
        Assert.Equal(1, _h.Dirty - d0);
        Assert.Equal(new[] { "pfadd:dest" }, _h.TakeEvents());

        d0 = _h.Dirty;
        Assert.Equal(1L, _h.Call("PFDEBUG", "TODENSE", "dest"));
        Assert.Equal(0L, _h.Call("PFDEBUG", "TODENSE", "dest"));
        Assert.Equal(1, _h.Dirty - d0);
        Assert.Empty(_h.TakeEvents());
    }

    [Fact]
    public void DenseUpdatesStayInTheirRecord()
    {
        _h.Call("PFADD", "k", "a");
        _h.Call("PFDEBUG", "TODENSE", "k");
        object before, after;
        lock (_h.Server.Sync) before = _h.Db.ObjectAt(_h.Db.FindLive("k"u8));
        Assert.Equal(1L, _h.Call("PFADD", "k", "b", "c", "d"));
        Assert.Equal(4L, _h.Call("PFCOUNT", "k"));
        lock (_h.Server.Sync) after = _h.Db.ObjectAt(_h.Db.FindLive("k"u8));
        Assert.Same(before, after);
        Assert.Equal(HyperLogLog.DenseSize, Bytes(_h.Call("GET", "k")).Length);
    }

    [Fact]
    public void TypeAndFormatErrors()
    {
        const string wrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";
        const string notHll = "WRONGTYPE Key is not a valid HyperLogLog string value.";
        _h.PlantOtherType("list");
        _h.Call("PFADD", "hll", "a");
        Assert.Equal(wrongType, Err(_h.Call("PFADD", "list", "a")));
        Assert.Equal(wrongType, Err(_h.Call("PFCOUNT", "list")));
        Assert.Equal(wrongType, Err(_h.Call("PFCOUNT", "hll", "list")));
        Assert.Equal(wrongType, Err(_h.Call("PFMERGE", "hll", "list")));
        Assert.Equal(wrongType, Err(_h.Call("PFMERGE", "list", "hll")));
        Assert.Equal(wrongType, Err(_h.Call("PFDEBUG", "GETREG", "list")));

        _h.Call("SET", "str", "hello");
        Assert.Equal(notHll, Err(_h.Call("PFADD", "str", "a")));
        Assert.Equal(notHll, Err(_h.Call("PFCOUNT", "str")));
        Assert.Equal(notHll, Err(_h.Call("PFMERGE", "hll", "str")));
        Assert.Equal("hello", _h.Call("GET", "str"));

        var v = Bytes(_h.Call("GET", "hll"));
        v[4] = 2;
        _h.Call("SET", "badenc", v);
        Assert.Equal(notHll, Err(_h.Call("PFCOUNT", "badenc")));
        v[4] = HyperLogLog.EncodingDense;
        _h.Call("SET", "shortdense", v);
        Assert.Equal(notHll, Err(_h.Call("PFCOUNT", "shortdense")));

        const string corrupt = "INVALIDOBJ Corrupted HLL object detected";
        _h.Call("PFADD", "tail", "a", "b", "c");
        _h.Call("APPEND", "tail", "hello");
        Assert.Equal(corrupt, Err(_h.Call("PFCOUNT", "tail")));
        Assert.Equal(corrupt, Err(_h.Call("PFCOUNT", "tail", "hll")));
        Assert.Equal(corrupt, Err(_h.Call("PFMERGE", "out", "tail")));
        Assert.Equal(0L, _h.Call("EXISTS", "out"));
        Assert.Equal(corrupt, Err(_h.Call("PFDEBUG", "TODENSE", "tail")));
    }

    [Fact]
    public void PfDebugSubcommands()
    {
        Assert.Equal("ERR The specified key does not exist", Err(_h.Call("PFDEBUG", "ENCODING", "nokey")));
        _h.Call("PFADD", "k", "a", "b", "c");
        Assert.Equal("sparse", _h.Call("PFDEBUG", "ENCODING", "k"));
        Assert.Equal("Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603", _h.Call("PFDEBUG", "DECODE", "k"));
        Assert.Equal("ERR Unknown PFDEBUG subcommand 'nosuch'", Err(_h.Call("PFDEBUG", "nosuch", "k")));

        var regs = Assert.IsType<object?[]>(_h.Call("PFDEBUG", "GETREG", "k"));
        Assert.Equal(16384, regs.Length);
        var nonZero = regs.Select((r, i) => (i, r)).Where(t => (long)t.r! != 0).ToArray();
        Assert.Equal(new[] { (8436, (object?)1L), (12711, 2L), (15780, 1L) }, nonZero);
        // GETREG reads the dense form, converting the value first.
        Assert.Equal("dense", _h.Call("PFDEBUG", "ENCODING", "k"));
        Assert.Equal("ERR HLL encoding is not sparse", Err(_h.Call("PFDEBUG", "DECODE", "k")));
        Assert.Equal(3L, _h.Call("PFCOUNT", "k"));
    }

    [Fact]
    public void SelfTestPasses() => Assert.Equal("OK", _h.Call("PFSELFTEST"));

    [Fact]
    public void SparseMaxBytesComesFromTheConfigRegistry()
    {
        var entry = _h.Server.Config.Find("hll-sparse-max-bytes");
        if (entry is null)
        {
            Assert.Equal(3000, _h.Server.HllSparseMaxBytes());
            return;
        }
        Assert.Null(entry.Set(["40"]));
        Assert.Equal(40, _h.Server.HllSparseMaxBytes());
        for (int i = 0; i < 20; i++) _h.Call("PFADD", "k", "e" + i);
        Assert.Equal("dense", _h.Call("PFDEBUG", "ENCODING", "k"));
        Assert.Null(entry.Set(["3000"]));
    }

    // ---- the representation on its own ----------------------------------

    [Fact]
    public void DenseRegistersRoundTripWithoutDisturbingNeighbours()
    {
        var regs = new byte[HyperLogLog.DenseSize - HyperLogLog.HeaderSize];
        var expected = new int[HyperLogLog.Registers];
        var rng = new Random(3);
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < expected.Length; i++)
            {
                expected[i] = rng.Next(64);
                HyperLogLog.SetRegister(regs, i, expected[i]);
            }
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], HyperLogLog.GetRegister(regs, i));
        }
        // The last register ends exactly at the last byte.
        HyperLogLog.SetRegister(regs, HyperLogLog.Registers - 1, 63);
        Assert.Equal(0xfc, regs[^1] & 0xfc);
    }

    [Fact]
    public void ElementsHashToRedisRegisters()
    {
        // From PFDEBUG GETREG / DECODE on redis-server 7.0.15 after PFADD of these elements.
        Assert.Equal(2, HyperLogLog.PatternLength("a"u8, out int index));
        Assert.Equal(12711, index);
        var others = new[] { "b", "c" }.Select(e => (HyperLogLog.PatternLength(Encoding.ASCII.GetBytes(e), out int i), i)).OrderBy(t => t.i);
        Assert.Equal(new[] { (1, 8436), (1, 15780) }, others);
    }

    [Fact]
    public void SparseAndDenseEstimatesAgree()
    {
        var sparse = new HllBuffer();
        HyperLogLog.WriteEmpty(sparse);
        var dense = new byte[HyperLogLog.DenseSize];
        Span<byte> ele = stackalloc byte[8];
        for (int i = 1; i <= 3000; i++)
        {
            BitConverter.TryWriteBytes(ele, (long)i * 7919);
            HyperLogLog.Add(sparse, ele, HyperLogLog.DefaultSparseMaxBytes);
            HyperLogLog.DenseAdd(dense.AsSpan(HyperLogLog.HeaderSize), ele);
            if (i % 100 != 0) continue;
            Assert.True(HyperLogLog.TryCount(sparse.Value, out ulong a));
            Assert.True(HyperLogLog.TryCount(dense, out ulong b));
            Assert.Equal(b, a);
        }
        Assert.True(HyperLogLog.IsDense(sparse.Value));
        Assert.Equal(dense.AsSpan(HyperLogLog.HeaderSize).ToArray(), sparse.Value[HyperLogLog.HeaderSize..].ToArray());
    }
}

/// <summary>WATCH sees the cache refresh of PFCOUNT as a change, as Redis does; a cached answer is no change.</summary>
public sealed class HyperLogLogWatchTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public HyperLogLogWatchTests(SharedServer shared) => _server = shared.Server;

    [Fact]
    public void PfCountThatRefreshesTheCacheAbortsWatchers()
    {
        using var a = _server.Connect();
        using var b = _server.Connect();
        a.Call("DEL", "w:hll");
        a.Call("PFADD", "w:hll", "x", "y");

        a.Call("WATCH", "w:hll");
        Assert.Equal(2L, b.Call("PFCOUNT", "w:hll"));
        a.Call("MULTI");
        a.Call("PING");
        Assert.Null(a.Call("EXEC"));

        a.Call("WATCH", "w:hll");
        Assert.Equal(2L, b.Call("PFCOUNT", "w:hll"));
        Assert.Equal(2L, b.Call("PFCOUNT", "w:hll", "w:other"));
        a.Call("MULTI");
        a.Call("PING");
        Assert.Equal(new object?[] { "PONG" }, a.Call("EXEC"));
    }
}
