using System.Text;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>The bitmap family over the wire: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD[_RO].</summary>
public sealed class BitmapCommandTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public BitmapCommandTests(SharedServer shared) => _server = shared.Server;

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;
    private static byte[] B(params int[] bytes) => bytes.Select(b => (byte)b).ToArray();
    private static string S(params int[] bytes) => Encoding.Latin1.GetString(B(bytes));

    [Fact]
    public void SetBitAndGetBit()
    {
        using var c = _server.Connect();
        Assert.Equal(0L, c.Call("SETBIT", "b:k", "1", "1"));
        Assert.Equal(S(0b0100_0000), c.Call("GET", "b:k"));
        c.Call("SET", "b:k", "@");
        Assert.Equal(0L, c.Call("SETBIT", "b:k", "2", "1"));
        Assert.Equal(1L, c.Call("SETBIT", "b:k", "1", "0"));
        Assert.Equal(S(0b0010_0000), c.Call("GET", "b:k"));
        Assert.Equal(0L, c.Call("SETBIT", "b:k", "23", "1"));
        Assert.Equal(S(0b0010_0000, 0, 1), c.Call("GET", "b:k"));
        c.Call("SET", "b:g", "`");
        Assert.Equal(new object?[] { 0L, 1L, 1L, 0L, 0L, 0L }, new[] { "0", "1", "2", "3", "8", "10000" }.Select(o => c.Call("GETBIT", "b:g", o)).ToArray());
        Assert.Equal(0L, c.Call("GETBIT", "b:none", "0"));

        const string offsetError = "ERR bit offset is not an integer or out of range";
        Assert.Equal(offsetError, Err(c.Call("SETBIT", "b:k", "4294967296", "1")));
        Assert.Equal(offsetError, Err(c.Call("SETBIT", "b:k", "-1", "1")));
        Assert.Equal(offsetError, Err(c.Call("GETBIT", "b:k", "x")));
        foreach (var bad in new[] { "-1", "2", "10", "x" })
            Assert.Equal("ERR bit is not an integer or out of range", Err(c.Call("SETBIT", "b:k", "0", bad)));
    }

    [Fact]
    public void SetBitFuzzMatchesAModel()
    {
        using var c = _server.Connect();
        var rng = new Random(7);
        var model = new byte[256];
        int maxByte = -1;
        for (int i = 0; i < 1500; i++)
        {
            int bit = rng.Next(256 * 8), on = rng.Next(2);
            int mask = 1 << (7 - bit % 8);
            long old = (model[bit / 8] & mask) != 0 ? 1 : 0;
            Assert.Equal(old, c.Call("SETBIT", "b:fuzz", bit.ToString(), on.ToString()));
            model[bit / 8] = (byte)(on == 1 ? model[bit / 8] | mask : model[bit / 8] & ~mask);
            maxByte = Math.Max(maxByte, bit / 8);
        }
        Assert.Equal(Encoding.Latin1.GetString(model, 0, maxByte + 1), c.Call("GET", "b:fuzz"));
    }

    [Fact]
    public void BitCountRanges()
    {
        using var c = _server.Connect();
        c.Call("SET", "bc:s", "foobar");
        Assert.Equal(26L, c.Call("BITCOUNT", "bc:s"));
        Assert.Equal(6L, c.Call("BITCOUNT", "bc:s", "1", "1"));
        Assert.Equal(18L, c.Call("BITCOUNT", "bc:s", "1", "-2"));
        Assert.Equal(0L, c.Call("BITCOUNT", "bc:s", "-2", "1"));
        Assert.Equal(26L, c.Call("BITCOUNT", "bc:s", "0", "1000"));
        Assert.Equal(26L, c.Call("BITCOUNT", "bc:s", "0", "4294967296"));
        Assert.Equal(17L, c.Call("BITCOUNT", "bc:s", "5", "30", "BIT"));
        Assert.Equal(26L, c.Call("BITCOUNT", "bc:s", "0", "-1", "bit"));
        Assert.Equal(6L, c.Call("BITCOUNT", "bc:s", "1", "1", "byte"));
        Assert.Equal(0L, c.Call("BITCOUNT", "bc:s", "-6", "-15", "bit"));
        Assert.Equal(0L, c.Call("BITCOUNT", "bc:none"));
        Assert.Equal(0L, c.Call("BITCOUNT", "bc:none", "0", "1000", "bit"));
        c.Call("SET", "bc:m", "__PPxxxxxxxxxxxxxxxxRR__");
        Assert.Equal(74L, c.Call("BITCOUNT", "bc:m", "2", "-3"));
        Assert.Equal("ERR syntax error", Err(c.Call("BITCOUNT", "bc:s", "0")));
        Assert.Equal("ERR syntax error", Err(c.Call("BITCOUNT", "bc:s", "0", "1", "hello")));
        // Reversed negative ranges are empty before the unit is even looked at, as in Redis.
        Assert.Equal(0L, c.Call("BITCOUNT", "bc:s", "-1", "-2", "hello"));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("BITCOUNT", "bc:s", "a", "b")));
        Assert.Equal(0L, c.Call("BITCOUNT", "bc:none", "a", "b"));
    }

    [Fact]
    public void BitPosSemantics()
    {
        using var c = _server.Connect();
        c.Call("SET", "bp:a", B(0xff, 0xf0, 0x00));
        Assert.Equal(12L, c.Call("BITPOS", "bp:a", "0"));
        Assert.Equal(12L, c.Call("BITPOS", "bp:a", "0", "0", "-1", "bit"));
        Assert.Equal(12L, c.Call("BITPOS", "bp:a", "0", "1"));
        c.Call("SET", "bp:b", B(0x00, 0x0f, 0xff));
        Assert.Equal(12L, c.Call("BITPOS", "bp:b", "1", "1"));
        Assert.Equal(12L, c.Call("BITPOS", "bp:b", "1", "1", "-1", "bit"));
        c.Call("SET", "bp:c", B(0x00, 0xff, 0x00));
        Assert.Equal(16L, c.Call("BITPOS", "bp:c", "0", "1", "-1"));
        Assert.Equal(-1L, c.Call("BITPOS", "bp:c", "0", "1", "1"));
        Assert.Equal(-1L, c.Call("BITPOS", "bp:c", "0", "8", "8", "bit"));
        Assert.Equal(8L, c.Call("BITPOS", "bp:c", "1", "8", "8", "bit"));
        Assert.Equal(-1L, c.Call("BITPOS", "bp:c", "1", "16", "200", "bit"));
        // Looking for 0 in all ones: past the end unless an end was given.
        c.Call("SET", "bp:d", B(0xff, 0xff, 0xff));
        Assert.Equal(24L, c.Call("BITPOS", "bp:d", "0"));
        Assert.Equal(24L, c.Call("BITPOS", "bp:d", "0", "0"));
        Assert.Equal(-1L, c.Call("BITPOS", "bp:d", "0", "0", "-1"));
        Assert.Equal(-1L, c.Call("BITPOS", "bp:d", "0", "0", "-1", "bit"));
        Assert.Equal(0L, c.Call("BITPOS", "bp:none", "0"));
        Assert.Equal(-1L, c.Call("BITPOS", "bp:none", "1"));
        c.Call("SET", "bp:empty", "");
        Assert.Equal(-1L, c.Call("BITPOS", "bp:empty", "0"));
        Assert.Equal("ERR The bit argument must be 1 or 0.", Err(c.Call("BITPOS", "bp:d", "2")));
        Assert.Equal("ERR syntax error", Err(c.Call("BITPOS", "bp:d", "1", "0", "-1", "xx")));
        Assert.Equal("ERR syntax error", Err(c.Call("BITPOS", "bp:d", "1", "0", "-1", "bit", "extra")));
        // A long run of zero words before the first one.
        var longRun = new byte[1000];
        longRun[999] = 0x10;
        c.Call("SET", "bp:long", longRun);
        Assert.Equal(999L * 8 + 3, c.Call("BITPOS", "bp:long", "1"));
        Assert.Equal(999L * 8 + 3, c.Call("BITPOS", "bp:long", "1", "3", "-1", "bit"));
        Assert.Equal(0L, c.Call("BITPOS", "bp:long", "0"));
    }

    [Fact]
    public void BitOpCombinesWithZeroPadding()
    {
        using var c = _server.Connect();
        c.Call("SET", "o:{a}", B(0x01, 0x02, 0xff, 0xff));
        c.Call("SET", "o:{b}", B(0x01, 0x02, 0xff));
        Assert.Equal(4L, c.Call("BITOP", "AND", "o:{and}", "o:{a}", "o:{b}"));
        Assert.Equal(S(0x01, 0x02, 0xff, 0x00), c.Call("GET", "o:{and}"));
        Assert.Equal(4L, c.Call("BITOP", "or", "o:{or}", "o:{a}", "o:{b}", "o:{missing}"));
        Assert.Equal(S(0x01, 0x02, 0xff, 0xff), c.Call("GET", "o:{or}"));
        Assert.Equal(4L, c.Call("BITOP", "xor", "o:{xor}", "o:{a}", "o:{b}"));
        Assert.Equal(S(0x00, 0x00, 0x00, 0xff), c.Call("GET", "o:{xor}"));
        Assert.Equal(4L, c.Call("BITOP", "not", "o:{a}", "o:{a}"));
        Assert.Equal(S(0xfe, 0xfd, 0x00, 0x00), c.Call("GET", "o:{a}"));
        // Long operands exercise the vectorized path; compare with a byte-by-byte model.
        var rng = new Random(3);
        var x = new byte[300];
        var y = new byte[257];
        rng.NextBytes(x);
        rng.NextBytes(y);
        c.Call("SET", "o:{x}", x);
        c.Call("SET", "o:{y}", y);
        foreach (var (op, f) in new (string, Func<byte, byte, byte>)[] { ("and", (p, q) => (byte)(p & q)), ("or", (p, q) => (byte)(p | q)), ("xor", (p, q) => (byte)(p ^ q)) })
        {
            var expected = new byte[300];
            for (int i = 0; i < 300; i++) expected[i] = f(x[i], i < y.Length ? y[i] : (byte)0);
            Assert.Equal(300L, c.Call("BITOP", op, "o:{r}", "o:{x}", "o:{y}"));
            Assert.Equal(Encoding.Latin1.GetString(expected), c.Call("GET", "o:{r}"));
        }
        c.Call("SET", "o:{i1}", "1");
        c.Call("SET", "o:{i2}", "2");
        Assert.Equal(1L, c.Call("BITOP", "xor", "o:{r}", "o:{i1}", "o:{i2}", "o:{i1}"));
        Assert.Equal("2", c.Call("GET", "o:{r}"));
        // An empty result deletes the destination.
        c.Call("SET", "o:{empty}", "");
        Assert.Equal(0L, c.Call("BITOP", "not", "o:{r}", "o:{empty}"));
        Assert.Equal(0L, c.Call("EXISTS", "o:{r}"));
        Assert.Equal("ERR BITOP NOT must be called with a single source key.", Err(c.Call("BITOP", "not", "o:{r}", "o:{x}", "o:{y}")));
        Assert.Equal("ERR syntax error", Err(c.Call("BITOP", "nand", "o:{r}", "o:{x}")));
    }

    [Fact]
    public void BitfieldOperations()
    {
        using var c = _server.Connect();
        Assert.Equal(new object?[] { 0L, -56L, -56L }, c.Call("BITFIELD", "bf:k", "SET", "i8", "0", "100", "INCRBY", "i8", "0", "100", "GET", "i8", "0"));
        Assert.Equal(new object?[] { 44L, -128L, null, 128L },
            c.Call("BITFIELD", "bf:k", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "100", "INCRBY", "i8", "0", "-300", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "-1", "GET", "u8", "0"));
        Assert.Equal(new object?[] { 0L, 15L, 143L, 0L, 15L },
            c.Call("BITFIELD", "bf:k", "SET", "u4", "#1", "15", "GET", "u4", "#1", "GET", "u8", "0", "INCRBY", "u4", "#1", "1", "OVERFLOW", "SAT", "INCRBY", "u4", "#1", "100"));
        Assert.Equal(new object?[] { -8142508126285856768L, -8142508126285856768L, 9223372036854775807L, -1L },
            c.Call("BITFIELD", "bf:k", "GET", "i64", "0", "SET", "i64", "0", "-1", "GET", "u63", "1", "GET", "i64", "0"));
        // Saturating a SET of the most negative 64-bit value into i8 classifies it as an overflow, as Redis does.
        Assert.Equal(new object?[] { -1L, 127L }, c.Call("BITFIELD", "bf:k", "OVERFLOW", "SAT", "SET", "i8", "0", "-9223372036854775808", "GET", "i8", "0"));
        Assert.Equal(new object?[] { 127L, 255L, 255L, 44L },
            c.Call("BITFIELD", "bf:k", "OVERFLOW", "SAT", "SET", "u8", "0", "-1", "GET", "u8", "0", "OVERFLOW", "WRAP", "SET", "u8", "0", "300", "GET", "u8", "0"));
        Assert.Equal(new object?[] { 0L }, c.Call("BITFIELD", "bf:none", "GET", "u8", "100"));
        Assert.Equal(0L, c.Call("EXISTS", "bf:none"));
        Assert.Equal(Array.Empty<object?>(), c.Call("BITFIELD", "bf:k"));
        // Writes grow the string to the farthest bit even when reads come first.
        Assert.Equal(new object?[] { 0L, 0L }, c.Call("BITFIELD", "bf:grow", "GET", "u8", "0", "SET", "u8", "#9", "0"));
        Assert.Equal(10L, c.Call("STRLEN", "bf:grow"));

        const string typeError = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
        foreach (var t in new[] { "u64", "i65", "x8", "i0", "I8", "i" })
            Assert.Equal(typeError, Err(c.Call("BITFIELD", "bf:k", "GET", t, "0")));
        Assert.Equal("ERR Invalid OVERFLOW type specified", Err(c.Call("BITFIELD", "bf:k", "OVERFLOW", "maybe", "GET", "i8", "0")));
        Assert.Equal("ERR syntax error", Err(c.Call("BITFIELD", "bf:k", "SET", "i8", "0")));
        Assert.Equal("ERR syntax error", Err(c.Call("BITFIELD", "bf:k", "FROB", "i8", "0")));
        Assert.Equal("ERR bit offset is not an integer or out of range", Err(c.Call("BITFIELD", "bf:k", "GET", "i8", "-1")));
        Assert.Equal("ERR bit offset is not an integer or out of range", Err(c.Call("BITFIELD", "bf:k", "GET", "i8", "#")));
        Assert.Equal("ERR value is not an integer or out of range", Err(c.Call("BITFIELD", "bf:k", "SET", "i8", "0", "abc")));
        Assert.Equal("ERR BITFIELD_RO only supports the GET subcommand", Err(c.Call("BITFIELD_RO", "bf:k", "GET", "i8", "0", "SET", "i8", "0", "1")));
        Assert.Equal(new object?[] { 44L, 2L }, c.Call("BITFIELD_RO", "bf:k", "GET", "u8", "0", "GET", "u4", "0"));
    }
}

/// <summary>Bitmap side effects: types, notifications, dirty counting, TTL and growth.</summary>
public sealed class BitmapSideEffectTests : IDisposable
{
    private readonly StringTestHost _h = new();
    public void Dispose() => _h.Dispose();

    private const string WrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";

    [Fact]
    public void OtherTypesAreRejected()
    {
        _h.PlantOtherType("list");
        _h.Call("SET", "s", "x");
        foreach (var cmd in new[]
        {
            new object[] { "SETBIT", "list", "0", "1" }, new object[] { "GETBIT", "list", "0" }, new object[] { "BITCOUNT", "list" },
            new object[] { "BITPOS", "list", "1" }, new object[] { "BITOP", "and", "dest", "s", "list", "missing" },
            new object[] { "BITFIELD", "list", "GET", "u8", "0" }, new object[] { "BITFIELD", "list", "SET", "u8", "0", "1" },
            new object[] { "BITFIELD_RO", "list", "GET", "u8", "0" },
        })
            Assert.Equal(WrongType, Assert.IsType<RespError>(_h.Call(cmd)).Message);
        Assert.Equal(0L, _h.Call("EXISTS", "dest"));
        // BITOP's destination may hold any type: it is replaced.
        Assert.Equal(1L, _h.Call("BITOP", "or", "list", "s"));
        Assert.Equal("x", _h.Call("GET", "list"));
    }

    [Fact]
    public void DirtyOnlyWhenTheValueChanges()
    {
        long d = _h.Dirty;
        _h.Call("SETBIT", "foo", "0", "0");
        _h.Call("BITFIELD", "foo2", "SET", "i5", "0", "0");
        Assert.Equal(d + 2, _h.Dirty);
        _h.Call("SETBIT", "foo", "0", "0");
        _h.Call("BITFIELD", "foo2", "SET", "i5", "0", "0");
        Assert.Equal(d + 2, _h.Dirty);
        _h.Call("SETBIT", "foo", "0", "1");
        _h.Call("SETBIT", "foo", "0", "1");
        _h.Call("BITFIELD", "foo2", "SET", "i5", "0", "1");
        _h.Call("BITFIELD", "foo2", "SET", "i5", "0", "1");
        Assert.Equal(d + 4, _h.Dirty);
        _h.Call("BITFIELD", "foo3", "INCRBY", "i5", "0", "1", "INCRBY", "i5", "0", "1");
        Assert.Equal(d + 6, _h.Dirty);
        // Growing the string is a change even when the bits written are zero.
        _h.Call("SETBIT", "foo", "90", "0");
        _h.Call("BITFIELD", "foo2", "SET", "i5", "90", "0");
        Assert.Equal(d + 8, _h.Dirty);
        // A failed (OVERFLOW FAIL) write changes nothing, though the key is still created.
        _h.Call("BITFIELD", "foo4", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9");
        Assert.Equal(d + 8, _h.Dirty);
        Assert.Equal(1L, _h.Call("STRLEN", "foo4"));
    }

    [Fact]
    public void NotificationsAndTtl()
    {
        _h.Call("SET", "k", "a", "EX", "100");
        _h.TakeEvents();
        _h.Call("SETBIT", "k", "0", "1");
        _h.Call("SETBIT", "k", "0", "1");
        _h.Call("BITFIELD", "k", "SET", "u8", "8", "1", "GET", "u8", "0");
        _h.Call("BITFIELD", "k", "GET", "u8", "0");
        Assert.Equal(["setbit:k", "setbit:k"], _h.TakeEvents());
        Assert.NotEqual(-1, _h.ExpireOf("k"));
        _h.Call("SET", "dst", "x", "EX", "100");
        _h.TakeEvents();
        _h.Call("BITOP", "not", "dst", "k");
        Assert.Equal(["set:dst"], _h.TakeEvents());
        Assert.Equal(-1, _h.ExpireOf("dst"));
        _h.Call("BITOP", "and", "dst", "nothing");
        Assert.Equal(["del:dst"], _h.TakeEvents());
        _h.Call("BITOP", "and", "dst", "nothing");
        Assert.Empty(_h.TakeEvents());
    }

    [Fact]
    public void SequentialGrowthKeepsEveryBit()
    {
        // Setting bits in increasing order grows the value a byte at a time; spare room in the record
        // must never leak into the value.
        const int bits = 200_000;
        for (int i = 0; i < bits; i += 3) _h.Call("SETBIT", "seq", i.ToString(), "1");
        Assert.Equal(25000L, _h.Call("STRLEN", "seq"));
        Assert.Equal(66667L, _h.Call("BITCOUNT", "seq"));
        Assert.Equal(1L, _h.Call("GETBIT", "seq", "199998"));
        Assert.Equal(0L, _h.Call("GETBIT", "seq", "199999"));
        Assert.Equal(199992L, _h.Call("BITPOS", "seq", "1", "24999", "-1", "byte"));
        Assert.Equal(1L, _h.Call("BITPOS", "seq", "0"));
        _h.Call("APPEND", "seq", "tail");
        Assert.Equal("tail", _h.Call("GETRANGE", "seq", "-4", "-1"));
        _h.Call("SETRANGE", "seq", "30000", "end");
        Assert.Equal(30003L, _h.Call("STRLEN", "seq"));
        Assert.Equal(66667L, _h.Call("BITCOUNT", "seq", "0", "24999"));
        Assert.Equal("end", _h.Call("GETRANGE", "seq", "30000", "-1"));
    }
}
