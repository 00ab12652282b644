namespace Redoubt.Server.Config;

/// <summary>Memory limit, eviction, lazy freeing, defragmentation and OOM-score directives.</summary>
public sealed partial class ServerConfig
{
    /// <summary>maxmemory in bytes (0 = no limit); an unsigned 64-bit value kept in a long.</summary>
    public long MaxMemory;
    public string MaxMemoryPolicy = "noeviction";
    public long MaxMemorySamples, MaxMemoryEvictionTenacity;
    /// <summary>maxmemory-clients: bytes, or a percentage of maxmemory stored as a negative number.</summary>
    public long MaxMemoryClients;
    public long LfuLogFactor, LfuDecayTime;
    public bool LazyfreeLazyEviction, LazyfreeLazyExpire, LazyfreeLazyServerDel, LazyfreeLazyUserDel, LazyfreeLazyUserFlush;
    public bool ActiveDefrag, JemallocBgThread;
    public long ActiveDefragCycleMin, ActiveDefragCycleMax, ActiveDefragThresholdLower, ActiveDefragThresholdUpper;
    public long ActiveDefragIgnoreBytes, ActiveDefragMaxScanFields;
    public string OomScoreAdj = "no";
    /// <summary>oom-score-adj-values for master, replica and background child.</summary>
    public int[] OomScoreAdjValues = [0, 200, 800];

    /// <summary>Set by the memory layer: starts evicting after maxmemory is lowered.</summary>
    public Action? MaxMemoryChanged;
    /// <summary>Set by the memory layer: re-buckets clients after maxmemory-clients changes.</summary>
    public Action? MaxMemoryClientsChanged;

    private static readonly int[] DefaultOomScoreAdjValues = [0, 200, 800];

    partial void DeclareMemory()
    {
        Add(new NumberConfig("maxmemory", () => MaxMemory, v => MaxMemory = v, 0, 0, NumberConfig.ULongMax)
        {
            IsMemory = true, IsUnsigned = true,
            OnChange = OnMaxMemoryChanged,
        });
        Add(new EnumConfig("maxmemory-policy", () => MaxMemoryPolicy, v => MaxMemoryPolicy = v, "noeviction",
            "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"));
        Add(new NumberConfig("maxmemory-samples", () => MaxMemorySamples, v => MaxMemorySamples = v, 5, 1, int.MaxValue));
        Add(new NumberConfig("maxmemory-eviction-tenacity", () => MaxMemoryEvictionTenacity, v => MaxMemoryEvictionTenacity = v, 10, 0, 100));
        Add(new NumberConfig("maxmemory-clients", () => MaxMemoryClients, v => MaxMemoryClients = v, 0, -100, long.MaxValue)
        {
            IsMemory = true, AllowPercent = true,
            OnChange = () => MaxMemoryClientsChanged?.Invoke(),
        });
        Add(new NumberConfig("lfu-log-factor", () => LfuLogFactor, v => LfuLogFactor = v, 10, 0, int.MaxValue));
        Add(new NumberConfig("lfu-decay-time", () => LfuDecayTime, v => LfuDecayTime = v, 1, 0, int.MaxValue));

        Add(new BoolConfig("lazyfree-lazy-eviction", () => LazyfreeLazyEviction, v => LazyfreeLazyEviction = v, false) { Flags = ConfigFlags.Debug });
        Add(new BoolConfig("lazyfree-lazy-expire", () => LazyfreeLazyExpire, v => LazyfreeLazyExpire = v, false) { Flags = ConfigFlags.Debug });
        Add(new BoolConfig("lazyfree-lazy-server-del", () => LazyfreeLazyServerDel, v => LazyfreeLazyServerDel = v, false) { Flags = ConfigFlags.Debug });
        Add(new BoolConfig("lazyfree-lazy-user-del", () => LazyfreeLazyUserDel, v => LazyfreeLazyUserDel = v, false) { Flags = ConfigFlags.Debug });
        Add(new BoolConfig("lazyfree-lazy-user-flush", () => LazyfreeLazyUserFlush, v => LazyfreeLazyUserFlush = v, false) { Flags = ConfigFlags.Debug });

        // There is no defragmenter here: turning it on is refused the way a build without one refuses it.
        Add(new BoolConfig("activedefrag", () => ActiveDefrag, v => ActiveDefrag = v, false)
        {
            Flags = ConfigFlags.Debug,
            Validate = v => v
                ? "Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc " +
                  "like the one shipped by default with the Redis source distribution"
                : null,
        });
        Add(new NumberConfig("active-defrag-cycle-min", () => ActiveDefragCycleMin, v => ActiveDefragCycleMin = v, 1, 1, 99));
        Add(new NumberConfig("active-defrag-cycle-max", () => ActiveDefragCycleMax, v => ActiveDefragCycleMax = v, 25, 1, 99));
        Add(new NumberConfig("active-defrag-threshold-lower", () => ActiveDefragThresholdLower, v => ActiveDefragThresholdLower = v, 10, 0, 1000));
        Add(new NumberConfig("active-defrag-threshold-upper", () => ActiveDefragThresholdUpper, v => ActiveDefragThresholdUpper = v, 100, 0, 1000));
        Add(new NumberConfig("active-defrag-ignore-bytes", () => ActiveDefragIgnoreBytes, v => ActiveDefragIgnoreBytes = v, 100L << 20, 1, long.MaxValue)
        {
            IsMemory = true, IsUnsigned = true,
        });
        Add(new NumberConfig("active-defrag-max-scan-fields", () => ActiveDefragMaxScanFields, v => ActiveDefragMaxScanFields = v, 1000, 1, long.MaxValue));
        Add(new BoolConfig("jemalloc-bg-thread", () => JemallocBgThread, v => JemallocBgThread = v, true));

        Add(new EnumConfig("oom-score-adj", () => OomScoreAdj, v => OomScoreAdj = v, "no", "no", "yes", "relative", "absolute")
        {
            // "relative" is another name for "yes" and is shown as such.
            Synonyms = new Dictionary<string, string> { ["relative"] = "yes" },
            Apply = () => OomScoreAdjust.Apply(this, Server?.Log),
        });
        Add(new CustomConfig("oom-score-adj-values", () => string.Join(' ', OomScoreAdjValues), SetOomScoreAdjValues, "0 200 800")
        {
            Flags = ConfigFlags.MultiArg,
            Apply = () => OomScoreAdjust.Apply(this, Server?.Log),
            RewriteWith = state => state.RewriteLine("oom-score-adj-values", "oom-score-adj-values " + string.Join(' ', OomScoreAdjValues),
                !OomScoreAdjValues.SequenceEqual(DefaultOomScoreAdjValues)),
        });
    }

    private void OnMaxMemoryChanged()
    {
        if (MaxMemory != 0) MaxMemoryChanged?.Invoke();
    }

    private string? SetOomScoreAdjValues(string[] args)
    {
        if (args.Length != 3) return "wrong number of arguments";
        var values = new int[3];
        for (int i = 0; i < 3; i++)
        {
            if (!long.TryParse(args[i], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long v)
                || v < -2000 || v > 2000)
                return "Invalid oom-score-adj-values, elements must be between -2000 and 2000.";
            values[i] = (int)v;
        }
        if (values[1] < values[0] || values[2] < values[1])
            Server?.Log.Warning("The oom-score-adj-values configuration may not work for non-privileged processes! Please consult the documentation.");
        OomScoreAdjValues = values;
        return null;
    }
}
