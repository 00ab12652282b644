using System.Text;
using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Corrupted HLL values: every command must answer (an error or a number), never crash or hang the
/// server, and where the real server is at hand it must answer exactly as it does, bytes included.
/// </summary>
public sealed class HyperLogLogFuzzTests : IClassFixture<HllServerPair>
{
    private readonly HllServerPair _pair;
    public HyperLogLogFuzzTests(HllServerPair pair) => _pair = pair;

    /// <summary>
    /// Valid sparse and dense HLLs corrupted at random (overwritten bytes, extra or missing bytes at the
    /// end), then PFCOUNT, PFADD, PFMERGE, multi-key PFCOUNT or PFDEBUG against both servers.
    /// </summary>
    [Fact]
    public void RandomCorruptionsAnswerLikeRedis()
    {
        using var p = new PairClient(_pair);
        var rng = new Random(20240601);
        int errors = 0, numbers = 0;
        int[] sizes = [0, 1, 5, 20, 100, 400, 1500, 3000];
        for (int it = 0; it < 300; it++)
        {
            p.Both("DEL", "f:h", "f:h2");
            int n = sizes[rng.Next(sizes.Length)];
            p.Both(["PFADD", "f:h", .. Enumerable.Range(0, n).Select(i => (object)$"{it}-{i}-{rng.Next()}")]);
            if (rng.Next(3) == 0) p.Both("PFDEBUG", "TODENSE", "f:h");
            int len = Encoding.Latin1.GetByteCount((string)p.Both("GET", "f:h")!);
            for (int k = rng.Next(1, 6); k > 0; k--)
            {
                int pos = rng.Next(2) == 0 ? rng.Next(len) : HyperLogLog.HeaderSize + rng.Next(len - HyperLogLog.HeaderSize);
                p.Both("SETRANGE", "f:h", pos.ToString(), new[] { (byte)rng.Next(256) });
            }
            if (rng.Next(10) == 0) p.Both("APPEND", "f:h", Enumerable.Repeat((byte)rng.Next(256), rng.Next(1, 4)).ToArray());
            if (rng.Next(10) == 0)
            {
                var v = Encoding.Latin1.GetBytes((string)p.Both("GET", "f:h")!);
                p.Both("SET", "f:h", v[..Math.Max(0, v.Length - rng.Next(1, 4))]);
            }
            object? r = rng.Next(7) switch
            {
                0 => p.Both("PFCOUNT", "f:h"),
                1 => p.Both(["PFADD", "f:h", .. Enumerable.Range(0, rng.Next(1, 50)).Select(i => (object)$"add-{it}-{i}")]),
                2 => p.Both("PFMERGE", "f:h2", "f:h"),
                3 => Both2(p, () => p.Both("PFADD", "f:h2", "a", "b"), () => p.Both("PFMERGE", "f:h", "f:h2")),
                4 => p.Both("PFCOUNT", "f:h", "f:h2"),
                5 => p.Both("PFDEBUG", "DECODE", "f:h"),
                _ => p.Both("PFDEBUG", "TODENSE", "f:h"),
            };
            if (r is RespError) errors++;
            else numbers++;
            p.Both("PFCOUNT", "f:h");
            p.Both("GET", "f:h");
            p.Both("GET", "f:h2");
        }
        // Both outcomes must have been exercised for the comparison to mean something.
        Assert.True(errors > 30 && numbers > 30, $"errors {errors}, numbers {numbers}");
    }

    private static object? Both2(PairClient p, Action first, Func<object?> second)
    {
        first();
        return second();
    }

    /// <summary>
    /// Sparse payloads made of random opcodes (runs too long or too short, XZERO cut at the end, huge
    /// totals, empty bodies) and dense ones of the wrong size: our server alone must answer every command
    /// promptly and stay up. Random opcode streams can read past the value in Redis itself, so only our
    /// server is checked here.
    /// </summary>
    [Fact]
    public void HostilePayloadsNeverCrashOrHang()
    {
        using var c = _pair.Ours.Connect();
        var rng = new Random(77);
        for (int it = 0; it < 400; it++)
        {
            int bodyLen = rng.Next(6) switch { 0 => 0, 1 => 1, 2 => rng.Next(2, 8), 3 => rng.Next(8, 200), 4 => rng.Next(200, 3000), _ => rng.Next(3000, 20000) };
            var v = new byte[HyperLogLog.HeaderSize + bodyLen];
            "HYLL"u8.CopyTo(v);
            v[4] = (byte)(rng.Next(8) == 0 ? rng.Next(3) : 1);
            v[15] = (byte)(rng.Next(2) == 0 ? 0x80 : 0);
            for (int i = HyperLogLog.HeaderSize; i < v.Length; i++)
                v[i] = rng.Next(4) switch { 0 => (byte)rng.Next(64), 1 => (byte)(0x40 | rng.Next(64)), _ => (byte)(0x80 | rng.Next(128)) };
            if (rng.Next(5) == 0) v[^1] = (byte)(0x40 | rng.Next(64));
            Assert.Equal("OK", c.Call("SET", "h:x", v));
            AssertAnswer(c.Call("PFCOUNT", "h:x"));
            AssertAnswer(c.Call("PFADD", "h:x", "a" + it, "b" + it, "c" + it));
            AssertAnswer(c.Call("PFCOUNT", "h:x", "h:missing"));
            AssertAnswer(c.Call("PFMERGE", "h:y", "h:x"));
            AssertAnswer(c.Call("PFMERGE", "h:x", "h:y"));
            AssertAnswer(c.Call("PFDEBUG", "DECODE", "h:x"));
            AssertAnswer(c.Call("PFDEBUG", "TODENSE", "h:x"));
            AssertAnswer(c.Call("PFCOUNT", "h:x"));
            c.Call("DEL", "h:y");
        }
        Assert.Equal("PONG", c.Call("PING"));
    }

    private static void AssertAnswer(object? reply)
    {
        switch (reply)
        {
            case RespError e:
                Assert.True(e.Message.StartsWith("INVALIDOBJ ", StringComparison.Ordinal) || e.Message.StartsWith("WRONGTYPE ", StringComparison.Ordinal) ||
                            e.Message == "ERR HLL encoding is not sparse", e.Message);
                break;
            case long or string:
                break;
            default:
                Assert.Fail("unexpected reply " + reply);
                break;
        }
    }
}
