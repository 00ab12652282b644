using System.Globalization;
using System.Text;

namespace Redoubt.Server.Commands;

public static partial class LatencyCommands
{
    /// <summary>
    /// LATENCY DOCTOR: a line of statistics per event, then advice chosen by which events were seen
    /// and how the server is configured. The wording is Redis's, since tools and people know it.
    /// </summary>
    public static string CreateReport(RedisServer server)
    {
        var mon = server.Latency;
        var config = server.Config;
        var sb = new StringBuilder();
        if (mon.Count == 0 && config.LatencyMonitorThreshold == 0)
        {
            sb.Append("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n");
            return sb.ToString();
        }

        bool slowlogEnabled = false, slowlogTuning = false, slowlogInspect = false;
        bool diskContention = false, scheduler = false, dataWriteback = false, noAppendfsync = false;
        bool localDisk = false, ssd = false, writeLoadInfo = false, hz = false, largeObjects = false;
        bool massEviction = false, relaxFsync = false, disableThp = false;
        int advices = 0, eventnum = 0;

        foreach (var (evt, ts) in mon.Events)
        {
            eventnum++;
            if (eventnum == 1)
                sb.Append("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
            var ls = mon.Analyze(evt);
            sb.Append(CultureInfo.InvariantCulture,
                $"{eventnum}. {evt}: {ls.Samples} latency spikes (average {ls.Avg}ms, mean deviation {ls.Mad}ms, period {(double)ls.Period / ls.Samples:F2} sec). Worst all time event {ts.Max}ms.");

            string e = evt.ToLowerInvariant();
            if (e == "command")
            {
                if (config.SlowlogLogSlowerThan < 0) { slowlogEnabled = true; advices++; }
                else if (config.SlowlogLogSlowerThan / 1000 > config.LatencyMonitorThreshold) { slowlogTuning = true; advices++; }
                slowlogInspect = true;
                largeObjects = true;
                advices += 2;
            }
            if (e == "fast-command") { scheduler = true; advices++; }
            if (e == "aof-write-pending-fsync") { localDisk = diskContention = ssd = dataWriteback = true; advices += 4; }
            if (e == "aof-write-active-child") { noAppendfsync = dataWriteback = ssd = true; advices += 3; }
            if (e == "aof-write-alone") { localDisk = dataWriteback = ssd = true; advices += 3; }
            if (e == "aof-fsync-always") { relaxFsync = true; advices++; }
            if (e is "aof-fstat" or "rdb-unlink-temp-file") { diskContention = localDisk = true; advices += 2; }
            if (e is "aof-rewrite-diff-write" or "aof-rename") { writeLoadInfo = dataWriteback = ssd = localDisk = true; advices += 4; }
            if (e == "expire-cycle") { hz = largeObjects = true; advices += 2; }
            if (e == "eviction-del") { largeObjects = true; advices++; }
            if (e == "eviction-cycle") { massEviction = true; advices++; }
            sb.Append('\n');
        }

        if (AnonHugePagesBytes() > 0) { disableThp = true; advices++; }

        if (eventnum == 0 && advices == 0)
        {
            sb.Append("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
            return sb.ToString();
        }
        if (eventnum > 0 && advices == 0)
        {
            sb.Append("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
            return sb.ToString();
        }

        long thresholdMicros = config.LatencyMonitorThreshold * 1000;
        sb.Append("\nI have a few advices for you:\n\n");
        if (slowlogEnabled)
            sb.Append(CultureInfo.InvariantCulture, $"- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {thresholdMicros}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n");
        if (slowlogTuning)
            sb.Append(CultureInfo.InvariantCulture, $"- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {thresholdMicros}'.\n");
        if (slowlogInspect)
            sb.Append("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        if (scheduler)
            sb.Append("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n"
                + "  1) Lower the system load.\n"
                + "  2) Use a computer / VM just for Redis if you are running other software in the same system.\n"
                + "  3) Check if you have a \"noisy neighbour\" problem.\n"
                + "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n"
                + "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
        if (localDisk)
            sb.Append("- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n");
        if (ssd)
            sb.Append("- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n");
        if (dataWriteback)
            sb.Append("- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n");
        if (diskContention)
            sb.Append("- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n");
        if (noAppendfsync)
            sb.Append("- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n");
        if (relaxFsync && config.Find("appendfsync")?.Get() == "always")
            sb.Append("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
        if (writeLoadInfo)
            sb.Append("- Latency during the AOF atomic rename operation or when the final difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by very high write load, causing the AOF buffer to get very large. If possible try to send less commands to accomplish the same work, or use Lua scripts to group multiple operations into a single EVALSHA call.\n");
        if (hz && config.Hz < 100)
            sb.Append("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
        if (largeObjects)
            sb.Append("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
        if (massEviction)
            sb.Append("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
        if (disableThp)
            sb.Append("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n");
        return sb.ToString();
    }

    /// <summary>Anonymous transparent huge pages mapped by this process (bytes), 0 when unknown.</summary>
    private static long AnonHugePagesBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/smaps_rollup"))
            {
                if (!line.StartsWith("AnonHugePages:", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return parts.Length >= 2 && long.TryParse(parts[1], out long kb) ? kb * 1024 : 0;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }
}
