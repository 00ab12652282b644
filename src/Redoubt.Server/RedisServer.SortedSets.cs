using Redoubt.Server.Storage;

namespace Redoubt.Server;

public sealed partial class RedisServer
{
    /// <summary>
    /// zset-max-listpack-entries and zset-max-listpack-value. The directives belong to the config area's
    /// data-type declarations; until they are declared this reads Redis's defaults (128 and 64), and once
    /// they are, their current values through the registry. Only writes that may grow a compact set read
    /// it, so the lookup stays off the read paths.
    /// </summary>
    public ZSetLimits ZSetLimits
        => new(ConfigNumber("zset-max-listpack-entries", ZSetLimits.Default.MaxEntries),
               ConfigNumber("zset-max-listpack-value", ZSetLimits.Default.MaxValue));

    /// <summary>Positions collected by ZSCAN before replying (reused under the lock, so a call allocates no list).</summary>
    internal readonly List<int> ZSetScanScratch = new();

    private long ConfigNumber(string name, long fallback)
    {
        var text = Config.Find(name)?.Get();
        return text != null && long.TryParse(text, out long v) ? v : fallback;
    }
}
