using System.Collections.Concurrent;
using System.Diagnostics;
using Redoubt.Server.Persistence;
using Redoubt.Server.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Redoubt.Server.Tests;

/// <summary>
/// BGREWRITEAOF on the concurrent point-in-time snapshot: the server keeps serving during the rewrite,
/// and after a restart the dataset is exactly what clients were acknowledged (base from the snapshot
/// plus the incr file opened when the rewrite began). Also check-aof on an RDB-preamble base.
/// </summary>
public sealed class AofRewriteSnapshotTests(ITestOutputHelper log)
{
    private const int Keys = 200_000, Writers = 4;

    private static string InfoField(RespClient c, string name)
    {
        string info = (string)c.Call("INFO", "persistence")!;
        return info.Split("\r\n").First(l => l.StartsWith(name + ":"))[(name.Length + 1)..];
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("no")]
    public void RewriteUnderWriteLoadKeepsServingAndLosesNothing(string preamble)
    {
        string dir = AofHarness.NewDataDir();
        try
        {
            var expected = new ConcurrentDictionary<string, string>();
            long[] counters = new long[Writers];
            long maxPingUs = 0;
            using (var server = DirServer.Ours(dir, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble,
                       "--auto-aof-rewrite-percentage", "0"))
            using (var c = server.Connect())
            {
                Assert.Equal("OK", c.Call("DEBUG", "POPULATE", Keys.ToString()));
                var stop = new ManualResetEventSlim();
                var threads = new List<Thread>();
                for (int w = 0; w < Writers; w++)
                {
                    int id = w;
                    threads.Add(new Thread(() =>
                    {
                        using var wc = server.Connect();
                        var rnd = new Random(id);
                        long n = 0;
                        while (!stop.IsSet)
                        {
                            // Each writer owns the keys with j % Writers == id, so the last acknowledged value is known.
                            int j = rnd.Next(Keys / Writers) * Writers + id;
                            string key = "key:" + j, value = $"w{id}-{n}";
                            Assert.Equal("OK", wc.Call("SET", key, value));
                            expected[key] = value;
                            Assert.Equal(n + 1, (long)wc.Call("INCR", "ctr:" + id)!);
                            counters[id] = ++n;
                        }
                    }));
                }
                threads.Add(new Thread(() =>
                {
                    using var pc = server.Connect();
                    var sw = new Stopwatch();
                    while (!stop.IsSet)
                    {
                        sw.Restart();
                        Assert.Equal("PONG", pc.Call("PING"));
                        long us = (long)sw.Elapsed.TotalMicroseconds;
                        if (us > maxPingUs) maxPingUs = us;
                        Thread.Sleep(1);
                    }
                }));
                foreach (var t in threads) t.Start();
                Thread.Sleep(200);
                Assert.Equal("Background append only file rewriting started", c.Call("BGREWRITEAOF"));
                // A BGSAVE while the rewrite runs is only scheduled (one child at a time).
                var bgsave = c.Call("BGSAVE", "SCHEDULE");
                bool sawInProgress = InfoField(c, "aof_rewrite_in_progress") == "1";
                var sw = Stopwatch.StartNew();
                while (InfoField(c, "aof_rewrite_in_progress") == "1" && sw.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(20);
                Thread.Sleep(200);
                stop.Set();
                foreach (var t in threads) t.Join();
                Assert.Equal("0", InfoField(c, "aof_rewrite_in_progress"));
                Assert.Equal("ok", InfoField(c, "aof_last_bgrewrite_status"));
                log.WriteLine($"preamble={preamble}: rewrite seen running={sawInProgress}, BGSAVE SCHEDULE -> {bgsave}, writes={counters.Sum()}, max PING latency {maxPingUs / 1000.0:F1} ms");
                Assert.True(maxPingUs < 500_000, $"PING waited {maxPingUs / 1000.0:F1} ms during the rewrite");
                string manifest = File.ReadAllText(Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest"));
                Assert.Contains("seq 2 type b", manifest);
                AofHarness.Shutdown(c, server.Process);
            }
            using (var server = DirServer.Ours(dir, "--appendonly", "yes"))
            using (var c = server.Connect())
            {
                Assert.Equal((long)(Keys + Writers), (long)c.Call("DBSIZE")!);
                for (int w = 0; w < Writers; w++) Assert.Equal(counters[w].ToString(), c.Call("GET", "ctr:" + w));
                // Every key: the last acknowledged value, or DEBUG POPULATE's for the untouched ones.
                for (int from = 0; from < Keys; from += 1000)
                {
                    var args = new object[1001];
                    args[0] = "MGET";
                    for (int i = 0; i < 1000; i++) args[i + 1] = "key:" + (from + i);
                    var values = (object?[])c.Call(args)!;
                    for (int i = 0; i < 1000; i++)
                    {
                        string key = "key:" + (from + i);
                        string want = expected.TryGetValue(key, out var v) ? v : "value:" + (from + i);
                        Assert.Equal(want, (string?)values[i]);
                    }
                }
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>
    /// FLUSHALL during a rewrite leaves the rewrite running on its point-in-time data (only an RDB save is
    /// stopped); the FLUSHALL is in the new incr file, so the reloaded dataset is only what came after.
    /// </summary>
    [Fact]
    public void FlushAllDuringRewrite()
    {
        string dir = AofHarness.NewDataDir();
        try
        {
            using (var server = DirServer.Ours(dir, "--appendonly", "yes", "--auto-aof-rewrite-percentage", "0"))
            using (var c = server.Connect())
            {
                Assert.Equal("OK", c.Call("DEBUG", "POPULATE", Keys.ToString()));
                Assert.Equal("Background append only file rewriting started", c.Call("BGREWRITEAOF"));
                Assert.Equal("OK", c.Call("FLUSHALL"));
                Assert.Equal("OK", c.Call("SET", "after", "1"));
                AofLoadTests.WaitRewriteDone(c);
                Assert.Equal("ok", InfoField(c, "aof_last_bgrewrite_status"));
                AofHarness.Shutdown(c, server.Process);
            }
            using (var server = DirServer.Ours(dir, "--appendonly", "yes"))
            using (var c = server.Connect())
            {
                Assert.Equal(1L, (long)c.Call("DBSIZE")!);
                Assert.Equal("1", c.Call("GET", "after"));
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>BGREWRITEAOF inside MULTI/EXEC is scheduled, as Redis starts no rewrite mid-transaction, and then runs.</summary>
    [Fact]
    public void BgRewriteInsideExecIsScheduledThenRuns()
    {
        string dir = AofHarness.NewDataDir();
        try
        {
            using var server = DirServer.Ours(dir, "--appendonly", "yes", "--auto-aof-rewrite-percentage", "0");
            using var c = server.Connect();
            long before = long.Parse(InfoField(c, "aof_rewrites"));
            Assert.Equal("OK", c.Call("MULTI"));
            Assert.Equal("QUEUED", c.Call("SET", "k", "v"));
            Assert.Equal("QUEUED", c.Call("BGREWRITEAOF"));
            var replies = (object?[])c.Call("EXEC")!;
            Assert.Equal("Background append only file rewriting scheduled", replies[1]);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (long.Parse(InfoField(c, "aof_rewrites")) == before && DateTime.UtcNow < deadline) Thread.Sleep(50);
            Assert.Equal(before + 1, long.Parse(InfoField(c, "aof_rewrites")));
            AofHarness.Shutdown(c, server.Process);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>check-aof validates an RDB-preamble base with the RDB checker, as redis-check-aof does.</summary>
    [Fact]
    public void CheckAofValidatesRdbPreamble()
    {
        string dir = AofHarness.NewDataDir();
        try
        {
            using (var server = DirServer.Ours(dir, "--appendonly", "yes", "--aof-use-rdb-preamble", "yes"))
            using (var c = server.Connect())
            {
                c.Call("SET", "a", "1");
                c.Call("RPUSH", "l", "x", "y");
                c.Call("HSET", "h", "f", "v");
                Assert.Equal("Background append only file rewriting started", c.Call("BGREWRITEAOF"));
                AofLoadTests.WaitRewriteDone(c);
                c.Call("SET", "after", "2");
                AofHarness.Shutdown(c, server.Process);
            }
            string aofDir = Path.Combine(dir, "appendonlydir");
            string manifest = Path.Combine(aofDir, "appendonly.aof.manifest");
            string basePath = Directory.GetFiles(aofDir, "appendonly.aof.*.base.*").Single();
            Assert.Equal("REDIS"u8.ToArray(), File.ReadAllBytes(basePath)[..5]);

            var output = new StringWriter();
            int code = AofChecker.Run([manifest], output, new StringReader(""), "redis-check-aof");
            Assert.True(code == 0, output.ToString());
            Assert.Contains("\\o/ RDB looks OK! \\o/", output.ToString());
            Assert.Contains("RDB preamble is OK, proceeding with AOF tail...", output.ToString());
            var real = Process.Start(new ProcessStartInfo("redis-check-aof", manifest) { RedirectStandardOutput = true })!;
            string realOut = real.StandardOutput.ReadToEnd();
            real.WaitForExit();
            Assert.Equal(0, real.ExitCode);
            Assert.Contains("RDB preamble is OK, proceeding with AOF tail...", realOut);

            // A damaged RDB part: the checksum no longer matches, the file is refused.
            var bytes = File.ReadAllBytes(basePath);
            int at = Array.IndexOf(bytes, (byte)'h', 20);
            bytes[at + 1] ^= 0x5a;
            File.WriteAllBytes(basePath, bytes);
            output = new StringWriter();
            code = AofChecker.Run([manifest], output, new StringReader(""), "redis-check-aof");
            Assert.Equal(1, code);
            Assert.Contains("--- RDB ERROR DETECTED ---", output.ToString());
            Assert.Contains("RDB preamble of AOF file is not sane, aborting.", output.ToString());
        }
        finally { Directory.Delete(dir, true); }
    }
}
