using System.Diagnostics;
using System.Text;
using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Our server and the installed redis-server side by side: the same HyperLogLog command sequences are
/// sent to both and every reply, including GET of the HLL values, must be identical byte for byte.
/// </summary>
public sealed class HllServerPair : IDisposable
{
    public ServerProcess Ours { get; } = new();
    public RealRedis Real { get; } = new();
    public void Dispose()
    {
        Ours.Dispose();
        Real.Dispose();
    }
}

/// <summary>The installed redis-server on a free port, without persistence, killed on dispose.</summary>
public sealed class RealRedis : IDisposable
{
    public int Port { get; }
    private readonly Process _process;
    private readonly string _dir;

    public RealRedis(params string[] extraArgs)
    {
        string exe = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
                     ?? throw new InvalidOperationException("redis-server is not installed: the compatibility tests need it");
        Port = ServerProcess.FreePort();
        _dir = Directory.CreateTempSubdirectory("redoubt-real-").FullName;
        var psi = new ProcessStartInfo(exe) { WorkingDirectory = _dir, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" }) psi.ArgumentList.Add(a);
        foreach (var a in extraArgs) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var c = new RespClient(Port);
                if (c.Call("PING") as string == "PONG") break;
            }
            catch (Exception) when (DateTime.UtcNow < deadline) { Thread.Sleep(50); }
        }
    }

    public RespClient Connect() => new(Port);

    public void Dispose()
    {
        try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(5000); } } catch { }
        try { Directory.Delete(_dir, recursive: true); } catch { }
    }
}

/// <summary>Two connections, one per server, that send every command to both and compare the replies.</summary>
internal sealed class PairClient : IDisposable
{
    public readonly RespClient Ours, Real;

    public PairClient(HllServerPair pair)
    {
        Ours = pair.Ours.Connect();
        Real = pair.Real.Connect();
    }

    /// <summary>Runs a command on both servers, asserts identical replies and returns ours.</summary>
    public object? Both(params object[] args)
    {
        var ours = Ours.Call(args);
        var real = Real.Call(args);
        if (!Same(ours, real))
            Assert.Fail($"replies differ for {string.Join(' ', args.Take(4).Select(a => a is byte[] b ? $"<{b.Length} bytes>" : a.ToString()))}:\n ours: {Show(ours)}\n real: {Show(real)}");
        return ours;
    }

    private static bool Same(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (object?[] x, object?[] y) => x.Length == y.Length && x.Zip(y).All(p => Same(p.First, p.Second)),
        _ => Equals(a, b),
    };

    private static string Show(object? r) => r switch
    {
        null => "(nil)",
        object?[] a => "[" + string.Join(",", a.Take(8).Select(Show)) + (a.Length > 8 ? $",... {a.Length} items" : "") + "]",
        string s => s.Length > 80 ? Convert.ToHexString(Encoding.Latin1.GetBytes(s))[..160] + $"... ({s.Length} bytes)" : s,
        _ => r.ToString() ?? "",
    };

    public void Dispose()
    {
        Ours.Dispose();
        Real.Dispose();
    }
}

public sealed class HyperLogLogCompatTests : IClassFixture<HllServerPair>
{
    private readonly HllServerPair _pair;
    public HyperLogLogCompatTests(HllServerPair pair) => _pair = pair;

    private static object[] Elements(string prefix, int from, int count)
    {
        var e = new object[count];
        for (int i = 0; i < count; i++) e[i] = prefix + (from + i);
        return e;
    }

    /// <summary>PFADD in batches, comparing the value, the count (twice: computed, then cached) and the encoding.</summary>
    private static void AddAndCompare(PairClient p, string key, string prefix, int total, int batch)
    {
        for (int i = 0; i < total; i += batch)
        {
            p.Both(["PFADD", key, .. Elements(prefix, i, Math.Min(batch, total - i))]);
            if (i % (batch * 20) == 0) p.Both("GET", key);
        }
        p.Both("GET", key);
        p.Both("PFCOUNT", key);
        p.Both("GET", key);
        p.Both("PFCOUNT", key);
        p.Both("PFDEBUG", "ENCODING", key);
    }

    [Fact]
    public void SparseValuesMatchByteForByte()
    {
        using var p = new PairClient(_pair);
        p.Both("PFADD", "c:empty");
        Assert.Equal("HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff", p.Both("GET", "c:empty"));
        p.Both("PFCOUNT", "c:empty");
        p.Both("GET", "c:empty");
        p.Both("PFADD", "c:empty");
        p.Both("PFADD", "c:e", "");
        p.Both("GET", "c:e");
        foreach (int n in new[] { 1, 2, 5, 17, 64, 150, 400 })
        {
            AddAndCompare(p, "c:s" + n, "s" + n + "-", n, 7);
            Assert.Equal("sparse", p.Both("PFDEBUG", "ENCODING", "c:s" + n));
            p.Both("PFDEBUG", "DECODE", "c:s" + n);
        }
        // One element at a time walks every split and merge case of the sparse encoding.
        for (int i = 0; i < 600; i++)
        {
            p.Both("PFADD", "c:one", "x" + i);
            if (i % 50 == 0) p.Both("GET", "c:one");
        }
        p.Both("GET", "c:one");
        p.Both("PFDEBUG", "DECODE", "c:one");
        // Binary elements, including ones longer than a hash block.
        p.Both("PFADD", "c:bin", new byte[] { 0, 255, 10, 13 }, new byte[] { 0x80 }, Encoding.ASCII.GetBytes(new string('z', 1000)));
        p.Both("GET", "c:bin");
    }

    [Fact]
    public void DenseAndLargeSetsMatch()
    {
        using var p = new PairClient(_pair);
        AddAndCompare(p, "c:big", "big-", 100_000, 1000);
        Assert.Equal("dense", p.Both("PFDEBUG", "ENCODING", "c:big"));
        var count = (long)p.Both("PFCOUNT", "c:big")!;
        Assert.InRange(count, 97_000, 103_000);
        // Promotion by size at the default hll-sparse-max-bytes (3000) happens around a thousand elements.
        AddAndCompare(p, "c:mid", "mid-", 5000, 1);
        AddAndCompare(p, "c:mid2", "mid2-", 3000, 50);
        p.Both("PFADD", "c:mid2", "again-0", "again-1");
        p.Both("GET", "c:mid2");
    }

    [Fact]
    public void MergesOfMixedEncodingsMatch()
    {
        using var p = new PairClient(_pair);
        p.Both("PFADD", "m:s1", "a", "b", "c");
        p.Both("PFADD", "m:s2", "c", "d", "e", "f");
        p.Both(["PFADD", "m:d1", .. Elements("d1-", 0, 4000)]);
        p.Both(["PFADD", "m:s3", .. Elements("s3-", 0, 300)]);
        p.Both("PFADD", "m:td", "t1", "t2");
        p.Both("PFDEBUG", "TODENSE", "m:td");
        p.Both("GET", "m:td");

        // sparse + sparse into a new key stays sparse
        p.Both("PFMERGE", "m:r1", "m:s1", "m:s2");
        p.Both("GET", "m:r1");
        Assert.Equal("sparse", p.Both("PFDEBUG", "ENCODING", "m:r1"));
        Assert.Equal(6L, p.Both("PFCOUNT", "m:r1"));
        // sparse + dense into a new key is dense
        p.Both("PFMERGE", "m:r2", "m:s1", "m:d1");
        p.Both("GET", "m:r2");
        Assert.Equal("dense", p.Both("PFDEBUG", "ENCODING", "m:r2"));
        // an existing sparse destination merged with sparse sources (the destination counts as a source)
        p.Both("PFMERGE", "m:s2", "m:s1", "m:s3", "m:missing");
        p.Both("GET", "m:s2");
        // an existing dense destination with sparse sources
        p.Both("PFMERGE", "m:td", "m:s1", "m:s3");
        p.Both("GET", "m:td");
        // a sparse destination promoted by a dense source, then by size from many sparse ones
        p.Both("PFMERGE", "m:s1", "m:td");
        p.Both("GET", "m:s1");
        for (int i = 0; i < 6; i++) p.Both(["PFADD", "m:p" + i, .. Elements("p" + i + "-", 0, 250)]);
        p.Both("PFMERGE", "m:grow", "m:p0", "m:p1", "m:p2", "m:p3", "m:p4", "m:p5");
        p.Both("GET", "m:grow");
        p.Both("PFDEBUG", "ENCODING", "m:grow");
        // no sources at all, and only missing ones
        p.Both("PFMERGE", "m:nothing");
        p.Both("GET", "m:nothing");
        p.Both("PFMERGE", "m:nothing2", "m:missing1", "m:missing2");
        p.Both("GET", "m:nothing2");
        // multi-key PFCOUNT reads without writing
        p.Both("PFCOUNT", "m:s1", "m:s2", "m:d1", "m:missing");
        p.Both("PFCOUNT", "m:s3", "m:p0");
        p.Both("GET", "m:s3");
        p.Both("PFCOUNT", "m:s3");
        p.Both("GET", "m:s3");
    }

    [Fact]
    public void DebugSubcommandsMatch()
    {
        using var p = new PairClient(_pair);
        p.Both("PFADD", "d:k", "a", "b", "c");
        Assert.Equal("Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603", p.Both("PFDEBUG", "DECODE", "d:k"));
        var regs = Assert.IsType<object?[]>(p.Both("PFDEBUG", "GETREG", "d:k"));
        Assert.Equal(16384, regs.Length);
        Assert.Equal(2L, regs[12711]);
        p.Both("GET", "d:k");
        p.Both("PFDEBUG", "ENCODING", "d:k");
        p.Both("PFDEBUG", "TODENSE", "d:k");
        p.Both("PFDEBUG", "DECODE", "d:k");
        p.Both("PFADD", "d:k2", "x");
        p.Both("PFDEBUG", "TODENSE", "d:k2");
        p.Both("GET", "d:k2");
        p.Both("PFDEBUG", "GETREG", "d:k2");
        p.Both("PFDEBUG", "NOSUCH", "d:k2");
        p.Both("PFDEBUG", "NOSUCH", "d:missing");
        p.Both("PFDEBUG", "GETREG", "d:missing");
        p.Both("SET", "d:str", "not an hll at all");
        p.Both("PFDEBUG", "ENCODING", "d:str");
        p.Both("PFADD", "d:str", "a");
        p.Both("PFCOUNT", "d:str");
        p.Both("PFCOUNT", "d:k", "d:str");
        p.Both("PFMERGE", "d:k", "d:str");
        p.Both("PFMERGE", "d:str", "d:k");
        p.Both("SET", "d:num", "12345");
        p.Both("PFCOUNT", "d:num");
        Assert.Equal("OK", p.Both("PFSELFTEST"));
    }

    private static string Dense(Func<int, int> register)
    {
        var regs = new byte[HyperLogLog.DenseSize - HyperLogLog.HeaderSize];
        for (int i = 0; i < HyperLogLog.Registers; i++) HyperLogLog.SetRegister(regs, i, register(i));
        return "HYLL\0\0\0\0\0\0\0\0\0\0\0\x80" + Encoding.Latin1.GetString(regs);
    }

    /// <summary>Hand-made dense values: the estimator's extremes (including an infinite estimate) and random registers.</summary>
    [Fact]
    public void CraftedDenseValuesCountAlike()
    {
        using var p = new PairClient(_pair);
        foreach (int v in new[] { 0, 1, 9, 25, 32, 33, 47, 49, 50, 51, 55, 63 })
        {
            p.Both("SET", "x:d", Encoding.Latin1.GetBytes(Dense(_ => v)));
            p.Both("PFCOUNT", "x:d");
            p.Both("GET", "x:d");
            p.Both("PFCOUNT", "x:d", "x:missing");
        }
        p.Both("SET", "x:d", Encoding.Latin1.GetBytes(Dense(_ => 63)));
        Assert.Equal(long.MinValue, p.Both("PFCOUNT", "x:d"));
        var rng = new Random(11);
        for (int round = 0; round < 40; round++)
        {
            int max = rng.Next(1, 64);
            p.Both("SET", "x:r", Encoding.Latin1.GetBytes(Dense(_ => rng.Next(max))));
            p.Both("PFCOUNT", "x:r");
            p.Both("PFADD", "x:r", "e1", "e2", "e3");
            p.Both("GET", "x:r");
            p.Both("PFMERGE", "x:m" + round, "x:r", "m:s1");
            p.Both("GET", "x:m" + round);
        }
    }

    /// <summary>
    /// A non-default hll-sparse-max-bytes: the real server is started with it and our engine is driven
    /// with the same limit, and the values must agree at every step through the promotion.
    /// </summary>
    [Fact]
    public void PromotionFollowsTheSparseMaxBytesLimit()
    {
        foreach (long limit in new long[] { 40, 200, 1000 })
        {
            using var real = new RealRedis("--hll-sparse-max-bytes", limit.ToString());
            using var c = real.Connect();
            var b = new HllBuffer();
            HyperLogLog.WriteEmpty(b);
            Assert.Equal(1L, c.Call("PFADD", "k"));
            for (int i = 0; i < 1000; i++)
            {
                string e = "lim-" + i;
                int ours = HyperLogLog.Add(b, Encoding.ASCII.GetBytes(e), limit);
                if (ours > 0) HyperLogLog.InvalidateCache(b.Data);
                Assert.Equal((long)ours, c.Call("PFADD", "k", e));
                Assert.Equal(Encoding.Latin1.GetString(b.Value), c.Call("GET", "k"));
            }
            Assert.True(HyperLogLog.IsDense(b.Value));
        }
    }
}
