using Redoubt.Server.Commands;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>
/// Persistence facts INFO persistence reports. The persistence subsystem keeps them current; until it
/// exists they describe a server that has never saved nor loaded.
/// </summary>
public sealed class PersistenceStatus
{
    public bool Loading, AsyncLoading;
    public long LoadingStartTime, LoadingTotalBytes, LoadingRdbUsedMem, LoadingLoadedBytes;
    public long CurrentCowPeak, CurrentCowSize, CurrentCowSizeAgeSec, CurrentSaveKeysProcessed, CurrentSaveKeysTotal;
    public double CurrentForkPerc;
    public bool RdbBgsaveInProgress;
    /// <summary>Unix time of the last successful save (LASTSAVE); the start time until the first save.</summary>
    public long LastSaveUnix;
    public bool LastBgsaveOk = true;
    public long RdbLastBgsaveTimeSec = -1, RdbCurrentBgsaveTimeSec = -1, RdbSaves, RdbLastCowSize;
    public long RdbLastLoadKeysExpired, RdbLastLoadKeysLoaded;
    public bool AofEnabled, AofRewriteInProgress, AofRewriteScheduled;
    public long AofLastRewriteTimeSec = -1, AofCurrentRewriteTimeSec = -1;
    public bool AofLastBgrewriteOk = true, AofLastWriteOk = true;
    public long AofRewrites, AofRewritesConsecutiveFailures, AofLastCowSize;
    public long AofCurrentSize, AofBaseSize, AofBufferLength, AofPendingBioFsync, AofDelayedFsync;
    public bool ModuleForkInProgress;
    public long ModuleForkLastCowSize;
}

/// <summary>
/// Replication facts for a standalone master: INFO replication, ROLE, DEBUG CHANGE-REPL-ID. The
/// replication subsystem updates these and may replace the whole INFO section through
/// <see cref="RedisServer.InfoSectionProviders"/> (a replica prints its master link fields).
/// </summary>
public sealed class ReplicationStatus
{
    public string ReplId = NewReplId();
    public string ReplId2 = new('0', 40);
    public long MasterReplOffset;
    public long SecondReplOffset = -1;
    public bool BacklogActive;
    public long BacklogFirstByteOffset, BacklogHistlen;
    public string FailoverState = "no-failover";

    public static string NewReplId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(20));

    /// <summary>A new primary ID (Redis's changeReplicationId).</summary>
    public void ChangeReplicationId() => ReplId = NewReplId();

    /// <summary>Forgets the secondary ID (Redis's clearReplicationId2).</summary>
    public void ClearReplicationId2()
    {
        ReplId2 = new string('0', 40);
        SecondReplOffset = -1;
    }
}

/// <summary>Scripting memory and counts for INFO memory; the scripting subsystem keeps them current.</summary>
public sealed class ScriptingStatus
{
    public long UsedMemoryVmEval, UsedMemoryScriptsEval, NumberOfCachedScripts;
    public long NumberOfFunctions, NumberOfLibraries, UsedMemoryVmFunctions, UsedMemoryFunctions;
}

/// <summary>Mixes a value's contents into a 20-byte DEBUG DIGEST accumulator (see ServerCommands.MixDigest/XorDigest).</summary>
public delegate void ValueDigester(RedisObject value, Span<byte> digest);

/// <summary>One measurement of the server's memory, as INFO memory, MEMORY STATS and MEMORY DOCTOR present it.</summary>
public sealed class MemorySnapshot
{
    public long Used, Rss, Peak, Startup, Overhead, Dataset, TotalSystem;
    public long AllocatorAllocated, AllocatorActive, AllocatorResident;
    public long ClientsNormal, ClientsReplicas, ReplBacklog, AofBuffer, LuaCaches, FunctionsCaches;
    public long TotalKeys, BytesPerKey;
    public double PeakPerc, DatasetPerc;
    public List<(int Db, long Main, long Expires)> Dbs = new();

    public double AllocatorFragRatio => Ratio(AllocatorActive, AllocatorAllocated);
    public long AllocatorFragBytes => AllocatorActive - AllocatorAllocated;
    public double AllocatorRssRatio => Ratio(AllocatorResident, AllocatorActive);
    public long AllocatorRssBytes => AllocatorResident - AllocatorActive;
    public double RssOverheadRatio => Ratio(Rss, AllocatorResident);
    public long RssOverheadBytes => Rss - AllocatorResident;
    public double FragmentationRatio => Ratio(Rss, Used);
    public long FragmentationBytes => Rss - Used;

    private static double Ratio(long a, long b) => b == 0 ? 0 : (double)a / b;
}

/// <summary>Introspection state: memory accounting, latency statistics, replication/persistence facts for INFO.</summary>
public sealed partial class RedisServer
{
    public readonly PersistenceStatus PersistenceStatus = new();
    public readonly ReplicationStatus ReplicationStatus = new();
    public readonly ScriptingStatus ScriptingStatus = new();

    /// <summary>
    /// Section generators that replace the built-in INFO section of the same (lower-case) name, for
    /// subsystems whose section changes shape with their state (replication on a replica, sentinel).
    /// Each returns the section's lines without the "# Title" header.
    /// </summary>
    public readonly Dictionary<string, Func<string>> InfoSectionProviders = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>DEBUG subcommands contributed by other subsystems (RELOAD, LOADAOF ...), by lower-case name.</summary>
    public readonly Dictionary<string, CommandHandler> DebugExtensions = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>DEBUG DIGEST for non-string values: each type family registers how its contents are mixed in.</summary>
    public readonly Dictionary<RedisType, ValueDigester> ValueDigesters = new();

    /// <summary>
    /// The RDB encoder's length of a stored object (DEBUG OBJECT serializedlength). Until the persistence
    /// subsystem sets it, strings are measured without LZF compression and other values by their memory size.
    /// </summary>
    public Func<object, long>? RdbSerializedLength;

    /// <summary>DEBUG PAUSE-CRON: the cron skips its work while set.</summary>
    public volatile bool CronPaused;

    /// <summary>DEBUG SET-SKIP-CHECKSUM-VALIDATION: RDB loading and RESTORE skip their CRC check while set.</summary>
    public bool SkipChecksumValidation;

    public const long DefaultQuicklistPackedThreshold = 1L << 30;
    /// <summary>DEBUG QUICKLIST-PACKED-THRESHOLD: list elements at least this large are stored as plain nodes.</summary>
    public long QuicklistPackedThreshold
    {
        get => Storage.ListObject.PackedThreshold;
        set => Storage.ListObject.PackedThreshold = value;
    }

    /// <summary>Blocked clients waiting with a timeout (INFO clients_in_timeout_table); kept by the blocking subsystem.</summary>
    public long ClientsInTimeoutTable;

    private long[] _avgTtl = Array.Empty<long>();
    // Largest pending query and reply bytes seen per second, over the last 8 seconds (INFO clients).
    private readonly long[] _recentMaxInput = new long[8], _recentMaxOutput = new long[8];
    private long _recentSlotSecond = -1;

    /// <summary>Called once by the constructor: hooks CONFIG RESETSTAT and the cron.</summary>
    private void InitIntrospection()
    {
        PersistenceStatus.LastSaveUnix = StartTimeMs / 1000;
        Stats.AfterReset += ResetCommandStats;
        CronHooks.Add(IntrospectionCron);
    }

    /// <summary>Clears every command's calls, time, failures and latency histogram (CONFIG RESETSTAT).</summary>
    public void ResetCommandStats()
    {
        foreach (var cmd in Commands.AllCommands)
        {
            cmd.Calls = cmd.MicrosecondsTotal = cmd.RejectedCalls = cmd.FailedCalls = 0;
            cmd.Latency = null;
        }
    }

    private void IntrospectionCron()
    {
        SampleAverageTtl();
        SampleClientBuffers();
    }

    // ---- keyspace -----------------------------------------------------------

    /// <summary>
    /// Keeps a running estimate of each database's average TTL, as Redis's expire cycle does: the mean
    /// remaining TTL of a few sampled keys, folded in with weight 1/50.
    /// </summary>
    internal void SampleAverageTtl()
    {
        if (_avgTtl.Length != Databases.Length) _avgTtl = new long[Databases.Length];
        long now = NowMs;
        for (int d = 0; d < Databases.Length; d++)
        {
            var db = Databases[d];
            if (db.ExpiresCount == 0) { _avgTtl[d] = 0; continue; }
            long sum = 0;
            int n = 0;
            for (int i = 0; i < 20; i++)
            {
                int slot = db.Table.RandomSlot(Rng);
                if (slot < 0) break;
                long when = db.GetExpire(slot);
                if (when < 0) continue;
                long ttl = when - now;
                if (ttl > 0) { sum += ttl; n++; }
            }
            if (n == 0) continue;
            long avg = sum / n;
            _avgTtl[d] = _avgTtl[d] == 0 ? avg : _avgTtl[d] / 50 * 49 + avg / 50;
        }
    }

    public long AverageTtl(int db) => db < _avgTtl.Length ? _avgTtl[db] : 0;

    // ---- clients ------------------------------------------------------------

    private void SampleClientBuffers()
    {
        long second = NowMs / 1000;
        int slot = (int)(second % _recentMaxInput.Length);
        if (second != _recentSlotSecond)
        {
            _recentMaxInput[slot] = 0;
            _recentMaxOutput[slot] = 0;
            _recentSlotSecond = second;
        }
        foreach (var c in Clients.Values)
        {
            long input = c.QueryEnd - c.QueryStart;
            long output = c.Reply.Length;
            if (input > _recentMaxInput[slot]) _recentMaxInput[slot] = input;
            if (output > _recentMaxOutput[slot]) _recentMaxOutput[slot] = output;
        }
    }

    public long ClientRecentMaxInputBuffer => _recentMaxInput.Max();
    public long ClientRecentMaxOutputBuffer => _recentMaxOutput.Max();

    // ---- memory -------------------------------------------------------------
    // Used memory, its breakdown and client memory are in RedisServer.Memory.cs.

    /// <summary>Redis's bytesToHuman: 100B, 2.00K, 1.50M ...</summary>
    public static string BytesToHuman(long n)
    {
        static string F(double d, string unit) => d.ToString("F2", System.Globalization.CultureInfo.InvariantCulture) + unit;
        if (n < 1024) return n + "B";
        if (n < 1024L * 1024) return F(n / 1024.0, "K");
        if (n < 1024L * 1024 * 1024) return F(n / (1024.0 * 1024), "M");
        if (n < 1024L * 1024 * 1024 * 1024) return F(n / (1024.0 * 1024 * 1024), "G");
        if (n < 1024L * 1024 * 1024 * 1024 * 1024) return F(n / (1024.0 * 1024 * 1024 * 1024), "T");
        if (n < 1024L * 1024 * 1024 * 1024 * 1024 * 1024) return F(n / (1024.0 * 1024 * 1024 * 1024 * 1024), "P");
        return n + "B";
    }
}
