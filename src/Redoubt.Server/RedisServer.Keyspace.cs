using System.Diagnostics;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>
/// Keyspace state of the server: active expiry (Redis's activeExpireCycle, slow cycle), the databases'
/// cron maintenance, flush/swap notifications for other subsystems, and read-only views of settings
/// owned by other areas.
/// </summary>
public sealed partial class RedisServer
{
    /// <summary>Run after FLUSHDB (db id) or FLUSHALL (-1) empties data: client tracking, blocked stream readers.</summary>
    public event Action<int>? DbFlushedHooks;

    /// <summary>Run after SWAPDB exchanged two databases: blocked clients may now be served.</summary>
    public event Action<int, int>? DbSwappedHooks;

    /// <summary>Keyspace hook: a read lookup missed (the "keymiss" event, class 'm').</summary>
    public void OnKeyMiss(Database db, ReadOnlySpan<byte> key) => Notify(KeyspaceEventClass.KeyMiss, "keymiss", key, db.Id);

    internal void RaiseDbFlushed(int dbId) => DbFlushedHooks?.Invoke(dbId);
    internal void RaiseDbSwapped(int a, int b) => DbSwappedHooks?.Invoke(a, b);

    /// <summary>Reused by SCAN and KEYS under the lock, so a call allocates no list.</summary>
    internal readonly List<object> ScanScratch = new();

    /// <summary>Estimated share (0..1) of keys with a TTL that are logically expired but not yet reclaimed.</summary>
    public double ExpiredStalePerc;

    /// <summary>Active expiry cycles that stopped at their time limit (INFO expired_time_cap_reached_count).</summary>
    public long ExpiredTimeCapReachedCount;

    /// <summary>Microseconds spent in active expiry (INFO expire_cycle_cpu_milliseconds is this / 1000).</summary>
    public long ExpireCycleMicros;

    /// <summary>
    /// active-expire-effort, 1..10 (default 1). Declared by the config/memory area; read through the
    /// registry so the default applies until it exists.
    /// </summary>
    public int ActiveExpireEffort
    {
        get
        {
            var text = Config.Find("active-expire-effort")?.Get();
            return text != null && int.TryParse(text, out int v) ? Math.Clamp(v, 1, 10) : 1;
        }
    }

    private const int ActiveExpireKeysPerLoop = 20;
    private const int ActiveExpireSlowTimePerc = 25;
    private const int ActiveExpireAcceptableStale = 10;
    private const int CronDbsPerCall = 16;

    private int _expireNextDb;
    private bool _expireTimeLimitExit;

    /// <summary>Redis's databasesCron: active expiry on a master, then table maintenance.</summary>
    private void DatabasesCron()
    {
        if (ActiveExpireEnabled && !IsReplica && !Pause.Active) ActiveExpire();
        else if (IsReplica) ExpireOwnReplicaKeys();
        foreach (var db in Databases) db.Maintain();
    }

    /// <summary>
    /// Redis's slow active-expiry cycle. Each database's expire index is swept from where the last pass
    /// stopped, 20 keys a pass (more with a higher effort), repeating while more than 10% of the checked
    /// keys were expired (less with a higher effort), within 25% of the cron period (more with effort).
    /// Because it sweeps rather than samples, every key with a TTL is looked at within a bounded number
    /// of cycles, so expired keys are reclaimed even if never accessed.
    /// </summary>
    private void ActiveExpire()
    {
        int effort = ActiveExpireEffort - 1;
        int keysPerLoop = ActiveExpireKeysPerLoop + ActiveExpireKeysPerLoop / 4 * effort;
        int slowTimePerc = ActiveExpireSlowTimePerc + 2 * effort;
        int acceptableStale = ActiveExpireAcceptableStale - effort;
        long hz = Math.Clamp(Config.Hz, 1, 500);
        long timeLimitTicks = Math.Max(1, Stopwatch.Frequency * slowTimePerc / hz / 100);

        int dbCount = Databases.Length;
        int dbsPerCall = CronDbsPerCall;
        if (dbsPerCall > dbCount || _expireTimeLimitExit) dbsPerCall = dbCount;
        _expireTimeLimitExit = false;

        long start = Stopwatch.GetTimestamp();
        long totalSampled = 0, totalExpired = 0;
        int iteration = 0;
        for (int j = 0; j < dbsPerCall && !_expireTimeLimitExit; j++)
        {
            var db = Databases[_expireNextDb % dbCount];
            // Advance first, so a pass cut short by the time limit resumes with the next database.
            _expireNextDb = (_expireNextDb + 1) % dbCount;
            int sampled, expired;
            do
            {
                iteration++;
                if (db.ExpiresCount == 0)
                {
                    db.AvgTtl = 0;
                    break;
                }
                long ttlSum = 0;
                int ttlSamples = 0;
                (sampled, expired) = db.ActiveExpirePass(keysPerLoop, NowMs, ref ttlSum, ref ttlSamples);
                totalSampled += sampled;
                totalExpired += expired;
                if (ttlSamples > 0)
                {
                    long avg = ttlSum / ttlSamples;
                    // Running average: the new sample weighs 2%.
                    if (db.AvgTtl == 0) db.AvgTtl = avg;
                    db.AvgTtl = db.AvgTtl / 50 * 49 + avg / 50;
                }
                if ((iteration & 0xf) == 0 && Stopwatch.GetTimestamp() - start > timeLimitTicks)
                {
                    _expireTimeLimitExit = true;
                    ExpiredTimeCapReachedCount++;
                    break;
                }
            } while (sampled > 0 && expired * 100 / sampled > acceptableStale);
        }

        long elapsedMicros = (Stopwatch.GetTimestamp() - start) * 1_000_000 / Stopwatch.Frequency;
        ExpireCycleMicros += elapsedMicros;
        AddLatencySample("expire-cycle", elapsedMicros / 1000);
        Stats.ExpireCycleCpuMilliseconds = ExpireCycleMicros / 1000;
        double current = totalSampled > 0 ? (double)totalExpired / totalSampled : 0;
        // Running estimate of the stale share; this cycle weighs 5%.
        ExpiredStalePerc = current * 0.05 + ExpiredStalePerc * 0.95;
        Stats.ExpiredStalePercentage = (long)Math.Round(ExpiredStalePerc * 100);
    }
}
