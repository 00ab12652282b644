using System.Globalization;
using Redoubt.Server.Storage;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// maxmemory: the used-memory figure, each eviction policy choosing the right keys, the OOM refusal,
/// LFU counters, eviction statistics and events, and client eviction (maxmemory-clients).
/// Policy tests run in-process so access times and counters can be set exactly; the rest run the
/// real server.
/// </summary>
// Eviction runs within a time budget per cycle: run alone so a busy machine does not cut it short.
[Collection("Serial")]
public sealed class EvictionTests
{
    // ---- in-process helpers --------------------------------------------------

    private sealed class Host
    {
        public readonly InProcessKeyspace Ks = new();
        public readonly Client C;
        public RedisServer Server => Ks.Server;
        public Database Db => Server.Databases[0];

        public Host(string policy)
        {
            C = Ks.NewClient();
            Server.Config.MaxMemoryPolicy = policy;
            // No time budget: each command evicts all that is needed before it runs.
            Server.Config.MaxMemoryEvictionTenacity = 100;
        }

        public object? Call(params string[] args) => Ks.Call(C, args);

        public int Slot(string key) => Db.FindRaw(System.Text.Encoding.ASCII.GetBytes(key));

        public bool Exists(string key) => Slot(key) >= 0;

        /// <summary>Sets maxmemory so that about <paramref name="keys"/> keys of <paramref name="perKey"/> bytes must go, then runs a command.</summary>
        public void Squeeze(int keys, long perKey)
        {
            Server.Config.MaxMemory = Server.UsedMemory() - keys * perKey;
            Assert.Equal("PONG", Call("PING"));
        }
    }

    /// <summary>
    /// Adds <paramref name="n"/> string keys "k:i"; returns the bytes one key's record takes, what
    /// evicting it frees (the key table's arrays only shrink as the table does).
    /// </summary>
    private static long Fill(Host h, int n, Func<int, string[]>? extra = null)
    {
        for (int i = 0; i < n; i++)
        {
            var args = new List<string> { "SET", "k:" + i, "value-of-twenty-bytes" };
            if (extra != null) args.AddRange(extra(i));
            Assert.Equal("OK", h.Call(args.ToArray()));
        }
        return h.Db.ValueBytes / n;
    }

    // ---- policies ------------------------------------------------------------

    [Fact]
    public void AllKeysLruEvictsTheLeastRecentlyUsedKeys()
    {
        var h = new Host("allkeys-lru");
        long perKey = Fill(h, 2000);
        int clock = h.Server.LruClock;
        // Even keys were last used an hour or more ago, odd keys just now.
        for (int i = 0; i < 2000; i++) h.Db.SetMetaAt(h.Slot("k:" + i), i % 2 == 0 ? clock - 3600 - i : clock);
        h.Squeeze(600, perKey);
        int evictedOld = 0, evictedRecent = 0;
        for (int i = 0; i < 2000; i++)
            if (!h.Exists("k:" + i)) { if (i % 2 == 0) evictedOld++; else evictedRecent++; }
        Assert.InRange(evictedOld + evictedRecent, 550, 700);
        Assert.True(evictedRecent <= (evictedOld + evictedRecent) / 20, $"recent keys evicted: {evictedRecent} of {evictedOld + evictedRecent}");
        Assert.Equal(evictedOld + evictedRecent, h.Server.Stats.EvictedKeys);
        Assert.True(h.Server.UsedMemory() <= h.Server.Config.MaxMemory);
    }

    [Fact]
    public void AllKeysLfuEvictsTheLeastFrequentlyUsedKeys()
    {
        var h = new Host("allkeys-lfu");
        long perKey = Fill(h, 2000);
        int minutes = h.Server.LfuMinutes();
        // Keys below 1000 were used often (counter 100), the others barely (counter 2 .. 6).
        for (int i = 0; i < 2000; i++) h.Db.SetMetaAt(h.Slot("k:" + i), (minutes << 8) | (i < 1000 ? 100 : 2 + i % 5));
        h.Squeeze(600, perKey);
        int evictedFrequent = 0, evictedRare = 0;
        for (int i = 0; i < 2000; i++)
            if (!h.Exists("k:" + i)) { if (i < 1000) evictedFrequent++; else evictedRare++; }
        Assert.InRange(evictedFrequent + evictedRare, 550, 700);
        // Sampling is approximate, as in Redis: when every sampled candidate is a frequent key, one of
        // them can go. Almost all evictions must still hit the rarely used half.
        Assert.InRange(evictedFrequent, 0, 10);
    }

    [Fact]
    public void VolatileTtlEvictsTheSoonestExpiringKeysAndNoPersistentOnes()
    {
        var h = new Host("volatile-ttl");
        // k:0..999 expire in 1000 + i seconds; k:1000..1499 never expire.
        long perKey = Fill(h, 1500, i => i < 1000 ? ["EX", (1000 + i).ToString(CultureInfo.InvariantCulture)] : []);
        h.Squeeze(300, perKey);
        var evicted = Enumerable.Range(0, 1500).Where(i => !h.Exists("k:" + i)).ToList();
        Assert.InRange(evicted.Count, 250, 400);
        Assert.All(evicted, i => Assert.True(i < 1000, $"persistent key k:{i} was evicted"));
        // The pool approximates the order: nearly all evicted keys are from the soonest-expiring half.
        Assert.True(evicted.Count(i => i < 500) >= evicted.Count * 9 / 10, $"evicted: {string.Join(',', evicted)}");
    }

    [Theory]
    [InlineData("volatile-lru")]
    [InlineData("volatile-lfu")]
    [InlineData("volatile-random")]
    [InlineData("volatile-ttl")]
    public void VolatilePoliciesEvictOnlyKeysWithAnExpireThenRefuseWrites(string policy)
    {
        var h = new Host(policy);
        long perKey = Fill(h, 400, i => i % 2 == 1 ? ["EX", "10000"] : []);
        h.Squeeze(100, perKey);
        for (int i = 0; i < 400; i += 2) Assert.True(h.Exists("k:" + i), $"k:{i} has no expire but was evicted");
        Assert.InRange(Enumerable.Range(0, 400).Count(i => !h.Exists("k:" + i)), 90, 140);
        // With no volatile key able to bring memory down, eviction runs out: writes get -OOM, reads still work.
        h.Server.Config.MaxMemory = 1;
        Assert.Equal("PONG", h.Call("PING"));
        for (int i = 0; i < 400; i += 2) Assert.True(h.Exists("k:" + i));
        Assert.Equal(0, h.Db.ExpiresCount);
        var err = Assert.IsType<RespError>(h.Call("SET", "another", "x"));
        Assert.Equal("OOM command not allowed when used memory > 'maxmemory'.", err.Message);
        Assert.Equal("value-of-twenty-bytes", h.Call("GET", "k:0"));
    }

    [Fact]
    public void AllKeysRandomEvictsPersistentAndVolatileKeys()
    {
        var h = new Host("allkeys-random");
        long perKey = Fill(h, 1000, i => i % 2 == 1 ? ["EX", "10000"] : []);
        h.Squeeze(400, perKey);
        var evicted = Enumerable.Range(0, 1000).Where(i => !h.Exists("k:" + i)).ToList();
        Assert.InRange(evicted.Count, 350, 480);
        Assert.Contains(evicted, i => i % 2 == 0);
        Assert.Contains(evicted, i => i % 2 == 1);
    }

    [Fact]
    public void EvictionSamplesEveryDatabase()
    {
        var h = new Host("allkeys-lru");
        for (int i = 0; i < 300; i++) h.Call("SET", "a:" + i, "value-of-twenty-bytes");
        Assert.Equal("OK", h.Call("SELECT", "3"));
        for (int i = 0; i < 300; i++) h.Call("SET", "b:" + i, "value-of-twenty-bytes");
        int clock = h.Server.LruClock;
        // Everything in db 0 is recent; everything in db 3 is old.
        foreach (var (db, prefix, stamp) in new[] { (0, "a:", clock), (3, "b:", clock - 5000) })
            for (int i = 0; i < 300; i++)
            {
                var d = h.Server.Databases[db];
                d.SetMetaAt(d.FindRaw(System.Text.Encoding.ASCII.GetBytes(prefix + i)), stamp);
            }
        h.Server.Config.MaxMemory = h.Server.UsedMemory() - h.Server.Databases[3].ValueBytes / 2;
        Assert.Equal("PONG", h.Call("PING"));
        Assert.Equal(300, h.Server.Databases[0].Count);
        Assert.InRange(h.Server.Databases[3].Count, 100, 200);
    }

    [Fact]
    public void NoevictionRefusesDenyOomCommandsAndQueuingButNotReadsDeletesOrDiscard()
    {
        var h = new Host("noeviction");
        Fill(h, 50);
        h.Server.Config.MaxMemory = 1;
        const string oom = "OOM command not allowed when used memory > 'maxmemory'.";
        Assert.Equal(oom, Assert.IsType<RespError>(h.Call("SET", "x", "1")).Message);
        Assert.Equal(oom, Assert.IsType<RespError>(h.Call("HSET", "h", "f", "v")).Message);
        Assert.Equal("value-of-twenty-bytes", h.Call("GET", "k:1"));
        Assert.Equal(1L, h.Call("DEL", "k:1"));
        Assert.Equal(0, h.Server.Stats.EvictedKeys);
        // In MULTI any queued command is refused, DISCARD is not.
        Assert.Equal("OK", h.Call("MULTI"));
        Assert.Equal(oom, Assert.IsType<RespError>(h.Call("GET", "k:2")).Message);
        Assert.Equal("OK", h.Call("DISCARD"));
        // A transaction queued before memory ran out: EXEC of reads runs, EXEC with a write aborts.
        h.Server.Config.MaxMemory = 0;
        h.Call("MULTI");
        h.Call("GET", "k:2");
        h.Call("PING");
        h.Server.Config.MaxMemory = 1;
        var replies = Assert.IsType<object?[]>(h.Call("EXEC"));
        Assert.Equal(["value-of-twenty-bytes", "PONG"], replies);
        h.Server.Config.MaxMemory = 0;
        h.Call("MULTI");
        h.Call("SET", "y", "1");
        h.Server.Config.MaxMemory = 1;
        Assert.Equal("EXECABORT Transaction discarded because of: " + oom, Assert.IsType<RespError>(h.Call("EXEC")).Message);
        Assert.Equal(3, h.Server.Stats.ErrorCounts["OOM"]);
    }

    [Fact]
    public void TheKeyTableDoesNotDoubleIntoMaxmemory()
    {
        var h = new Host("allkeys-random");
        Fill(h, 4096);
        Assert.Equal(4096, h.Db.BucketCount);
        // 10 KB of room: doubling the table's arrays (80 KB) would have to evict a thousand keys.
        h.Server.Config.MaxMemory = h.Server.UsedMemory() + 10 * 1024;
        Assert.Equal("OK", h.Call("SET", "k1", "v1"));
        Assert.Equal("OK", h.Call("SET", "k2", "v2"));
        Assert.Equal(4098L, h.Call("DBSIZE"));
        Assert.Equal(4096, h.Db.BucketCount);
        Assert.Equal(0, h.Server.Stats.EvictedKeys);
        // Without the limit the buckets double again at the next key.
        h.Server.Config.MaxMemory = 0;
        h.Call("SET", "k3", "v3");
        Assert.Equal(8192, h.Db.BucketCount);
    }

    [Fact]
    public void EvictedKeysAreNotifiedAndCounted()
    {
        var h = new Host("allkeys-random");
        h.Server.NotifyFlags = RedisServer.ParseNotifyFlags("Ee", out _);
        long perKey = Fill(h, 100);
        h.Squeeze(10, perKey);
        var evicted = h.Ks.Published.Where(p => p.Channel == "__keyevent@0__:evicted").Select(p => p.Message).ToList();
        Assert.NotEmpty(evicted);
        Assert.Equal(evicted.Count, h.Server.Stats.EvictedKeys);
        Assert.All(evicted, k => Assert.False(h.Exists(k)));
    }

    // ---- LFU counter ------------------------------------------------------------

    [Fact]
    public void LfuCounterStartsAtFiveAndGrowsByOnePerAccessWithLogFactorZero()
    {
        var h = new Host("allkeys-lfu");
        h.Call("SET", "a", "hello");
        Assert.Equal(5L, h.Call("OBJECT", "FREQ", "a"));
        h.Server.Config.LfuLogFactor = 0;
        for (int i = 0; i < 10; i++) h.Call("GET", "a");
        Assert.Equal(15L, h.Call("OBJECT", "FREQ", "a"));
        // OBJECT FREQ itself does not count as an access.
        Assert.Equal(15L, h.Call("OBJECT", "FREQ", "a"));
    }

    [Fact]
    public void LfuCounterGrowsLogarithmically()
    {
        var h = new Host("allkeys-lfu");
        h.Call("SET", "ten", "v");
        h.Call("SET", "hundred", "v");
        for (int i = 0; i < 1000; i++) h.Call("GET", "ten");
        h.Server.Config.LfuLogFactor = 100;
        for (int i = 0; i < 1000; i++) h.Call("GET", "hundred");
        long ten = (long)h.Call("OBJECT", "FREQ", "ten")!;
        long hundred = (long)h.Call("OBJECT", "FREQ", "hundred")!;
        // About 18 after 1000 hits with factor 10 (far below 1000), fewer with factor 100. The counter
        // grows by chance: the range leaves room for its tail.
        Assert.InRange(ten, 10, 32);
        Assert.True(hundred < ten, $"factor 100: {hundred}, factor 10: {ten}");
        Assert.InRange(hundred, 6, 14);
    }

    [Fact]
    public void LfuCounterDecaysByOneEveryDecayTimeMinutes()
    {
        var h = new Host("allkeys-lfu");
        h.Call("SET", "a", "v");
        int minutes = h.Server.LfuMinutes();
        h.Db.SetMetaAt(h.Slot("a"), (((minutes - 6) & 0xFFFF) << 8) | 20);
        Assert.Equal(14L, h.Call("OBJECT", "FREQ", "a"));
        h.Server.Config.LfuDecayTime = 2;
        Assert.Equal(17L, h.Call("OBJECT", "FREQ", "a"));
        h.Server.Config.LfuDecayTime = 0;
        Assert.Equal(20L, h.Call("OBJECT", "FREQ", "a"));
        h.Server.Config.LfuDecayTime = 1;
        h.Db.SetMetaAt(h.Slot("a"), (((minutes - 100) & 0xFFFF) << 8) | 20);
        Assert.Equal(0L, h.Call("OBJECT", "FREQ", "a"));
        // An access applies the decay, then counts the access from there.
        h.Server.Config.LfuLogFactor = 0;
        h.Call("GET", "a");
        Assert.Equal(1L, h.Call("OBJECT", "FREQ", "a"));
    }

    [Fact]
    public void ObjectFreqAndIdletimeFollowThePolicy()
    {
        var h = new Host("allkeys-lru");
        h.Call("SET", "a", "v");
        Assert.StartsWith("ERR An LFU maxmemory policy is not selected", Assert.IsType<RespError>(h.Call("OBJECT", "FREQ", "a")).Message);
        h.Db.SetMetaAt(h.Slot("a"), h.Server.LruClock - 42);
        Assert.Equal(42L, h.Call("OBJECT", "IDLETIME", "a"));
        h.Server.Config.MaxMemoryPolicy = "volatile-lfu";
        Assert.StartsWith("ERR An LFU maxmemory policy is selected", Assert.IsType<RespError>(h.Call("OBJECT", "IDLETIME", "a")).Message);
    }

    // ---- accounting ----------------------------------------------------------------

    [Fact]
    public void AccountingFollowsInPlaceEditsOfCollections()
    {
        var h = new Host("noeviction");
        long empty = h.Server.UsedMemory();
        for (int i = 0; i < 2000; i++) h.Call("HSET", "h", "field:" + i, "value:" + i);
        for (int i = 0; i < 2000; i++) h.Call("SADD", "s", "member:" + i);
        for (int i = 0; i < 2000; i++) h.Call("ZADD", "z", i.ToString(CultureInfo.InvariantCulture), "member:" + i);
        long full = h.Server.UsedMemory();
        long expected = 0;
        foreach (var key in new[] { "h", "s", "z" }) expected += (long)h.Call("MEMORY", "USAGE", key)!;
        // What the figure grew by is what MEMORY USAGE reports, plus the key table's few entries.
        Assert.InRange(full - empty, expected - 200, expected + 1000);
        for (int i = 0; i < 1990; i++) h.Call("HDEL", "h", "field:" + i);
        for (int i = 0; i < 1990; i++) h.Call("SREM", "s", "member:" + i);
        for (int i = 0; i < 1990; i++) h.Call("ZREM", "z", "member:" + i);
        long trimmed = h.Server.UsedMemory();
        Assert.True(trimmed - empty < (full - empty) / 5, $"empty {empty}, full {full}, trimmed {trimmed}");
        h.Call("DEL", "h", "s", "z");
        Assert.Equal(empty, h.Server.UsedMemory());
    }

    [Fact]
    public void UsedMemoryTracksGrowthAndShrinksAfterDeletes()
    {
        using var server = new ServerProcess();
        using var c = server.Connect();
        long baseline = Info(c, "used_memory");
        var value = new string('v', 100);
        for (int i = 0; i < 10000; i++) Assert.Equal("OK", c.Call("SET", "key:" + i, value));
        long grown = Info(c, "used_memory");
        // At least the bytes written, and no more than three times them.
        Assert.InRange(grown - baseline, 10000 * 108, 10000 * 108 * 3);
        var memory = InfoFields(c);
        Assert.Equal(memory["used_memory"], memory["used_memory_dataset"] + memory["used_memory_overhead"]);
        for (int i = 0; i < 10000; i++) c.Call("DEL", "key:" + i);
        long shrunk = Info(c, "used_memory");
        // The records are gone at once; the key table's arrays shrink when the cron compacts them.
        Assert.True(shrunk - baseline < (grown - baseline) / 4, $"baseline {baseline}, grown {grown}, after deletes {shrunk}");
        Assert.True(SpinUntil(() => Info(c, "used_memory") - baseline < 8192), "tables not compacted");
    }

    [Fact]
    public void MaxmemoryIsHonouredWhileWritingWithEviction()
    {
        using var server = new ServerProcess();
        using var c = server.Connect();
        long limit = Info(c, "used_memory") + 100 * 1024;
        c.Call("CONFIG", "SET", "maxmemory", limit.ToString(CultureInfo.InvariantCulture));
        c.Call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
        var rng = new Random(1);
        int n = 0;
        while (Info(c, "used_memory") + 4096 <= limit)
        {
            c.Call("SETEX", "key:" + rng.Next(), "10000", "x");
            n++;
        }
        Assert.True(n > 10);
        for (int i = 0; i < n; i++) Assert.Equal("OK", c.Call("SETEX", "key:" + rng.Next(), "10000", "x"));
        Assert.True(Info(c, "used_memory") < limit + 4096);
        Assert.True(Info(c, "evicted_keys") > 0);
        // Under noeviction the same writes soon run into the limit.
        c.Call("CONFIG", "SET", "maxmemory-policy", "noeviction");
        object? reply = null;
        for (int i = 0; i < 100 && reply is not RespError; i++) reply = c.Call("SET", "big:" + i, new string('v', 4096));
        Assert.Equal("OOM command not allowed when used memory > 'maxmemory'.", Assert.IsType<RespError>(reply).Message);
    }

    [Fact]
    public void LoweringMaxmemoryEvictsInTheBackgroundAndRecordsTheTime()
    {
        using var server = new ServerProcess(null, "--enable-debug-command", "yes");
        using var c = server.Connect();
        Assert.Equal("OK", c.Call("DEBUG", "POPULATE", "200000"));
        c.Call("CONFIG", "SET", "maxmemory-policy", "allkeys-random");
        long used = Info(c, "used_memory");
        c.Call("CONFIG", "SET", "maxmemory", (used / 2).ToString(CultureInfo.InvariantCulture));
        // Each step is bounded by the default tenacity; the rest continues between commands.
        Assert.True(SpinUntil(() => Info(c, "used_memory") <= used / 2 + 65536));
        Assert.InRange(Info(c, "evicted_keys"), 50000, 190000);
        Assert.Equal(0L, Info(c, "current_eviction_exceeded_time"));
        Assert.Contains("is smaller than the current memory usage", server.Output);
    }

    [Fact]
    public void ClientBuffersAndQueuedCommandsAreCountedInUsedMemory()
    {
        using var server = new ServerProcess();
        using var admin = server.Connect();
        using var c = server.Connect();
        long before = Info(admin, "mem_clients_normal");
        string id = c.Call("CLIENT", "ID")!.ToString()!;
        Assert.Equal("OK", c.Call("MULTI"));
        var value = new string('q', 100_000);
        for (int i = 0; i < 10; i++) Assert.Equal("QUEUED", c.Call("SET", "k" + i, value));
        var queued = InfoFields(admin);
        // Ten queued 100 KB arguments, plus the query buffer grown to take one.
        Assert.InRange(queued["mem_clients_normal"] - before, 1_000_000, 1_400_000);
        Assert.Equal(queued["used_memory"], queued["used_memory_dataset"] + queued["used_memory_overhead"]);
        Assert.Matches(@"multi=10 .* tot-mem=1\d{6} ", (string)admin.Call("CLIENT", "LIST", "ID", id)!);
        Assert.Equal("OK", c.Call("DISCARD"));
        Assert.True(Info(admin, "mem_clients_normal") - before < 200_000);
    }

    // ---- client eviction ---------------------------------------------------------------

    [Fact]
    public void ClientsOverMaxmemoryClientsAreEvictedUnlessNoEvict()
    {
        using var server = new ServerProcess(null, "--maxmemory-clients", "1mb");
        using var admin = server.Connect();
        Assert.Equal("OK", admin.Call("CLIENT", "NO-EVICT", "on"));
        using var protectedClient = server.Connect();
        Assert.Equal("OK", protectedClient.Call("CLIENT", "NO-EVICT", "on"));
        Assert.Equal("OK", protectedClient.Call("CLIENT", "SETNAME", "keeper"));
        using var victim = server.Connect();
        Assert.Equal("OK", victim.Call("CLIENT", "SETNAME", "victim"));
        // Half an argument of 3 MB: the query buffer grows past the limit before the command completes.
        victim.SendRaw("*2\r\n$4\r\nECHO\r\n$3000000\r\n" + new string('x', 1_500_000));
        Assert.True(victim.IsClosedByServer(10000));
        Assert.Equal(1L, Info(admin, "evicted_clients"));
        Assert.Contains("name=keeper", (string)admin.Call("CLIENT", "LIST")!);
        Assert.True(SpinUntil(() => server.Output.Contains("Evicting client: ")));
        Assert.DoesNotContain("name=victim", (string)admin.Call("CLIENT", "LIST")!);
    }

    // ---- helpers ---------------------------------------------------------------------

    private static long Info(RespClient c, string field) => InfoFields(c)[field];

    /// <summary>The numeric fields of one INFO reply.</summary>
    private static Dictionary<string, long> InfoFields(RespClient c)
    {
        var fields = new Dictionary<string, long>();
        foreach (var line in ((string)c.Call("INFO", "everything")!).Split("\r\n"))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && long.TryParse(line[(colon + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
                fields[line[..colon]] = v;
        }
        return fields;
    }

    private static bool SpinUntil(Func<bool> condition, int timeoutMs = 10000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            Thread.Sleep(20);
        }
        return condition();
    }
}
