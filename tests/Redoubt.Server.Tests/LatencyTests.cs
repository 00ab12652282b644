using Redoubt.Server.Config;
using Redoubt.Server.Monitoring;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>A server whose latency monitor records anything of 1 ms or more.</summary>
public sealed class LatencyServer : IDisposable
{
    public ServerProcess Server { get; } = new(null, "--latency-monitor-threshold", "1");
    public void Dispose() => Server.Dispose();
}

public sealed class LatencyTests : IClassFixture<LatencyServer>
{
    private readonly ServerProcess _server;
    public LatencyTests(LatencyServer s) => _server = s.Server;

    /// <summary>Storing a 64 MB value takes well over a millisecond: a "command" latency event.</summary>
    private static void SlowCommand(RespClient c) => Assert.Equal("OK", c.Call("SET", "lat:big", new byte[64 * 1024 * 1024]));

    [Fact]
    public void SlowCommandsAreRecordedAsCommandEvents()
    {
        using var c = _server.Connect();
        c.Call("LATENCY", "RESET");
        SlowCommand(c);
        var latest = (object?[])c.Call("LATENCY", "LATEST")!;
        var cmdEvent = latest.Cast<object?[]>().Single(e => (string)e[0]! == "command");
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.InRange((long)cmdEvent[1]!, now - 60, now + 1);
        Assert.True((long)cmdEvent[2]! >= 1);
        Assert.True((long)cmdEvent[3]! >= (long)cmdEvent[2]!);

        var history = (object?[])c.Call("LATENCY", "HISTORY", "command")!;
        Assert.NotEmpty(history);
        Assert.Contains(history.Cast<object?[]>(), sample => Equals(sample[0], cmdEvent[1]));

        string graph = (string)c.Call("LATENCY", "GRAPH", "command")!;
        var lines = graph.Split('\n');
        Assert.Matches(@"^command - high \d+ ms, low \d+ ms \(all time high \d+ ms\)$", lines[0]);
        Assert.Equal(new string('-', 80), lines[1]);
        // One sample: a flat line at the bottom row, labelled with its age. (On a loaded machine another
        // command may take a millisecond too and add a sample: the shape is then not this one.)
        if (((object?[])c.Call("LATENCY", "HISTORY", "command")!).Length == 1)
        {
            Assert.Equal("_", lines[5].Trim());
            Assert.Matches(@"^\d", lines[7]);
        }

        string doctor = (string)c.Call("LATENCY", "DOCTOR")!;
        Assert.StartsWith("Dave, I have observed latency spikes in this Redis instance.", doctor);
        // Numbered among the events seen: on a loaded machine another one (a slow cron tick) may come first.
        Assert.Matches(@"(?m)^\d+\. command: ", doctor);
        Assert.Contains("- Check your Slow Log to understand what are the commands you are running which are too slow to execute.", doctor);

        Assert.Equal(0L, c.Call("LATENCY", "RESET", "nosuchevent"));
        Assert.True((long)c.Call("LATENCY", "RESET")! >= 1);
        Assert.Empty((object?[])c.Call("LATENCY", "LATEST")!);
        Assert.Empty((object?[])c.Call("LATENCY", "HISTORY", "command")!);
        Assert.Equal("ERR No samples available for event 'command'", c.Call("LATENCY", "GRAPH", "command")!.ToString());
    }

    [Fact]
    public void HistogramCountsCallsPerCommandAndSubcommand()
    {
        using var c = _server.Connect();
        for (int i = 0; i < 3; i++) c.Call("SET", "lat:h", "v");
        c.Call("GET", "lat:h");
        c.Call("CLIENT", "ID");
        var reply = (object?[])c.Call("LATENCY", "HISTOGRAM", "set", "blabla", "client")!;
        var map = new Dictionary<string, object?[]>();
        for (int i = 0; i < reply.Length; i += 2) map[(string)reply[i]!] = (object?[])reply[i + 1]!;
        Assert.Contains("set", map.Keys);
        Assert.Contains("client|id", map.Keys);
        Assert.DoesNotContain("get", map.Keys);
        var set = map["set"];
        Assert.Equal("calls", set[0]);
        long calls = (long)set[1]!;
        Assert.True(calls >= 3);
        Assert.Equal("histogram_usec", set[2]);
        var buckets = (object?[])set[3]!;
        // Cumulative: the last bucket holds every call, counts never decrease, bounds grow.
        Assert.Equal(calls, (long)buckets[^1]!);
        for (int i = 2; i < buckets.Length; i += 2)
        {
            Assert.True((long)buckets[i]! > (long)buckets[i - 2]!);
            Assert.True((long)buckets[i + 1]! > (long)buckets[i - 1]!);
        }
        Assert.Empty((object?[])c.Call("LATENCY", "HISTOGRAM", "blabla")!);
        var all = (object?[])c.Call("LATENCY", "HISTOGRAM")!;
        Assert.Contains("get", all.OfType<string>());
    }

    [Fact]
    public void HelpAndArity()
    {
        using var c = _server.Connect();
        var help = (object?[])c.Call("LATENCY", "HELP")!;
        Assert.Equal("LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", help[0]);
        Assert.Equal(17, help.Length);
        Assert.Equal("ERR wrong number of arguments for 'latency|help' command", c.Call("LATENCY", "HELP", "xxx")!.ToString());
    }
}

public sealed class ExpireCycleLatencyTests
{
    [Fact]
    public void ALongActiveExpireCycleIsAnExpireCycleEvent()
    {
        using var server = new ServerProcess(null, "--latency-monitor-threshold", "1");
        using var c = server.Connect();
        // Enough keys expiring together that the cycle runs up to its time limit (25 ms at hz 10).
        const int keys = 50_000;
        var batch = new MemoryStream();
        for (int i = 0; i < keys; i++) batch.Write(RespClient.Encode("SET", "exp:" + i, "v", "PX", "100"));
        c.SendRaw(batch.ToArray());
        for (int i = 0; i < keys; i++) Assert.Equal("OK", c.Read());
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while ((long)c.Call("DBSIZE")! > 0)
        {
            Assert.True(sw.ElapsedMilliseconds < 20000, "keys were not expired");
            Thread.Sleep(50);
        }
        var latest = ((object?[])c.Call("LATENCY", "LATEST")!).Cast<object?[]>();
        var e = latest.Single(x => (string)x[0]! == "expire-cycle");
        Assert.True((long)e[2]! >= 1);
    }
}

public sealed class LatencyDisabledTests
{
    [Fact]
    public void DoctorExplainsThatMonitoringIsOff()
    {
        using var server = new ServerProcess();
        using var c = server.Connect();
        Assert.Equal("OK", c.Call("SET", "big", new byte[32 * 1024 * 1024]));
        Assert.Empty((object?[])c.Call("LATENCY", "LATEST")!);
        Assert.StartsWith("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance.", (string)c.Call("LATENCY", "DOCTOR")!);
    }
}

/// <summary>In-process checks of the histogram's bucket edges, the sparkline and the introspection directives.</summary>
public sealed class MonitoringUnitTests
{
    [Fact]
    public void HistogramReportsRedisBucketEdges()
    {
        var h = new LatencyHistogram();
        h.Record(500);            // 0.5 µs
        h.Record(1_500);          // 1.5 µs
        h.Record(30_000);         // 30 µs
        h.Record(30_000);
        h.Record(2_000_000_000);  // clamped to 1 s
        var points = h.CumulativeDistribution();
        Assert.Equal(new (long, long)[] { (1, 1), (2, 2), (33, 4), (1073741, 5) }, points);
        Assert.Equal(5, h.TotalCount);
        Assert.Equal(30_079, h.ValueAtPercentile(50));
        Assert.Equal(500, h.ValueAtPercentile(0));
    }

    [Fact]
    public void SparklineDrawsColumnsAndLabels()
    {
        var s = new Sparkline();
        s.Add(0, "a");
        s.Add(10, "bc");
        var sb = new System.Text.StringBuilder();
        s.Render(sb, 80, 2);
        Assert.Equal(" #\n_|\n  \nab\n c\n", sb.ToString());
    }

    [Fact]
    public void OutputBufferLimitDirectiveParsesAndPrintsLikeRedis()
    {
        var cfg = new ServerConfig();
        var e = cfg.Find("client-output-buffer-limit")!;
        Assert.Equal("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", e.Get());
        Assert.Null(e.Set(["normal", "1mb", "2mb", "60", "replica", "3mb", "4mb", "70", "pubsub", "5mb", "6mb", "80"]));
        Assert.Equal("normal 1048576 2097152 60 slave 3145728 4194304 70 pubsub 5242880 6291456 80", e.Get());
        Assert.Equal("Wrong number of arguments in buffer limit configuration.", e.Set(["wrong", "number"]));
        Assert.Equal("Invalid client class specified in buffer limit configuration.", e.Set(["invalid_class", "10mb", "10mb", "60"]));
        Assert.Equal("Invalid client class specified in buffer limit configuration.", e.Set(["master", "10mb", "10mb", "60"]));
        Assert.Equal("Error in hard, soft or soft_seconds setting in buffer limit configuration.", e.Set(["normal", "10mbs", "10mb", "60"]));
        Assert.Equal("Error in hard, soft or soft_seconds setting in buffer limit configuration.", e.Set(["pubsub", "10mb", "10mb", "60s"]));
        Assert.Equal("Error in hard, soft or soft_seconds setting in buffer limit configuration.", e.Set(["pubsub", "-1", "10mb", "60"]));
        // A failed line changes nothing, even for the classes it named correctly first.
        Assert.NotNull(e.Set(["normal", "1k", "1k", "1", "pubsub", "x", "1", "1"]));
        Assert.Equal("normal 1048576 2097152 60 slave 3145728 4194304 70 pubsub 5242880 6291456 80", e.Get());
        Assert.Null(e.Set(["pubsub", "1k", "0", "0"]));
        Assert.Equal(new OutputBufferLimit(1000, 0, 0), cfg.ClientOutputBufferLimits[(int)ClientType.PubSub]);
    }

    [Fact]
    public void LatencyDirectivesHaveRedisDefaultsAndChecks()
    {
        var cfg = new ServerConfig();
        Assert.Equal("10000", cfg.Find("slowlog-log-slower-than")!.Get());
        Assert.Equal("128", cfg.Find("slowlog-max-len")!.Get());
        Assert.Equal("0", cfg.Find("latency-monitor-threshold")!.Get());
        Assert.Equal("yes", cfg.Find("latency-tracking")!.Get());
        var p = cfg.Find("latency-tracking-info-percentiles")!;
        Assert.Equal("50 99 99.9", p.Get());
        Assert.Null(p.Set(["0", "12.5", "100"]));
        Assert.Equal("0 12.5 100", p.Get());
        Assert.Equal("Invalid latency-tracking-info-percentiles parameters", p.Set(["abc"]));
        Assert.Equal("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]", p.Set(["101"]));
        Assert.Null(p.Set([""]));
        Assert.Equal("", p.Get());
        Assert.Equal(["latency-tracking-info-percentiles \"\""], p.RewriteLines());
    }
}
