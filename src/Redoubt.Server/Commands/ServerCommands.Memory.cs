using System.Text;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>MEMORY subcommands, ROLE and LASTSAVE for a standalone master.</summary>
public static partial class ServerCommands
{
    private static void BindMemory(CommandTable t)
    {
        t.Bind("memory|usage", MemoryUsage);
        t.Bind("memory|stats", MemoryStats);
        t.Bind("memory|doctor", c => c.Reply.Verbatim(MemoryDoctorReport(c.Server)));
        t.Bind("memory|malloc-stats", c => c.Reply.Bulk("Stats not supported for the current allocator"u8));
        t.Bind("memory|purge", MemoryPurge);
        t.Bind("memory|help", c => ReplyHelp(c, MemoryHelpLines));
        t.Bind("role", Role);
    }

    private static readonly string[] MemoryHelpLines =
    [
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
    ];

    /// <summary>Size of a managed byte array: 24 bytes of header and length, data rounded up to 8.</summary>
    public static long ByteArraySize(int length) => 24 + ((length + 7) & ~7L);

    /// <summary>
    /// Memory held for one key: its stored object as the key table counts it (the packed key/value
    /// record for strings; key array plus the value's own estimate otherwise), its key table entry and
    /// bucket, and its expire index cell (two arrays of 4 + 8 bytes, kept at most 3/4 full).
    /// </summary>
    public static long KeyMemoryUsage(Database db, int slot)
    {
        long usage = KeyTable.SizeOf(db.ObjectAt(slot)) + 16 + 4;
        if (db.GetExpire(slot) >= 0) usage += 16;
        return usage;
    }

    private static void MemoryUsage(Client c)
    {
        for (int j = 3; j < c.Argc; j++)
        {
            if (c.ArgIs(j, "samples"u8) && j + 1 < c.Argc)
            {
                if (!c.TryGetLong(j + 1, out long samples)) return;
                if (samples < 0)
                {
                    c.SyntaxError();
                    return;
                }
                j++;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        // Like Redis, no expiry check: the key's memory is there until it is actually deleted.
        int slot = c.Db.Table.Find(c.Arg(2));
        if (slot < 0)
        {
            c.Reply.Null();
            return;
        }
        c.Reply.Integer(KeyMemoryUsage(c.Db, slot));
    }

    private static void MemoryStats(Client c)
    {
        var m = c.Server.MeasureMemory();
        var r = c.Reply;
        r.MapHeader(27 + m.Dbs.Count);
        void Int(string name, long v) { r.Bulk(name); r.Integer(v); }
        void Dbl(string name, double v) { r.Bulk(name); r.Double(v); }
        Int("peak.allocated", m.Peak);
        Int("total.allocated", m.Used);
        Int("startup.allocated", m.Startup);
        Int("replication.backlog", m.ReplBacklog);
        Int("clients.slaves", m.ClientsReplicas);
        Int("clients.normal", m.ClientsNormal);
        Int("cluster.links", 0);
        Int("aof.buffer", m.AofBuffer);
        Int("lua.caches", m.LuaCaches);
        Int("functions.caches", m.FunctionsCaches);
        foreach (var (db, main, expires) in m.Dbs)
        {
            r.Bulk("db." + db);
            r.MapHeader(3);
            Int("overhead.hashtable.main", main);
            Int("overhead.hashtable.expires", expires);
            Int("overhead.hashtable.slot-to-keys", 0);
        }
        Int("overhead.total", m.Overhead);
        Int("keys.count", m.TotalKeys);
        Int("keys.bytes-per-key", m.BytesPerKey);
        Int("dataset.bytes", m.Dataset);
        Dbl("dataset.percentage", (float)m.DatasetPerc);
        Dbl("peak.percentage", (float)m.PeakPerc);
        Int("allocator.allocated", m.AllocatorAllocated);
        Int("allocator.active", m.AllocatorActive);
        Int("allocator.resident", m.AllocatorResident);
        Dbl("allocator-fragmentation.ratio", (float)m.AllocatorFragRatio);
        Int("allocator-fragmentation.bytes", m.AllocatorFragBytes);
        Dbl("allocator-rss.ratio", (float)m.AllocatorRssRatio);
        Int("allocator-rss.bytes", m.AllocatorRssBytes);
        Dbl("rss-overhead.ratio", (float)m.RssOverheadRatio);
        Int("rss-overhead.bytes", m.RssOverheadBytes);
        Dbl("fragmentation", (float)m.FragmentationRatio);
        Int("fragmentation.bytes", m.FragmentationBytes);
    }

    /// <summary>MEMORY PURGE: the allocator here is the GC; a compacting full collection returns what it can.</summary>
    private static void MemoryPurge(Client c)
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        c.Reply.Ok();
    }

    /// <summary>Redis's MEMORY DOCTOR analysis, over this server's measurements.</summary>
    public static string MemoryDoctorReport(RedisServer server)
    {
        var m = server.MeasureMemory();
        bool empty = false, bigPeak = false, highFrag = false, highAllocFrag = false, highAllocRss = false;
        bool highProcRss = false, bigClientBuf = false, bigReplicaBuf = false, manyScripts = false;
        int reports = 0;
        if (m.Used < 5L * 1024 * 1024)
        {
            empty = true;
            reports++;
        }
        else
        {
            if ((double)m.Peak / m.Used > 1.5) { bigPeak = true; reports++; }
            if (m.FragmentationRatio > 1.4 && m.FragmentationBytes > 10 << 20) { highFrag = true; reports++; }
            if (m.AllocatorFragRatio > 1.1 && m.AllocatorFragBytes > 10 << 20) { highAllocFrag = true; reports++; }
            if (m.AllocatorRssRatio > 1.1 && m.AllocatorRssBytes > 10 << 20) { highAllocRss = true; reports++; }
            if (m.RssOverheadRatio > 1.1 && m.RssOverheadBytes > 10 << 20) { highProcRss = true; reports++; }
            long replicas = server.Clients.Values.Count(c => (c.Flags & ClientFlags.Replica) != 0);
            long normal = server.Clients.Count - replicas;
            if (normal > 0 && m.ClientsNormal / normal > 1024 * 200) { bigClientBuf = true; reports++; }
            if (replicas > 0 && m.ClientsReplicas > 1024 * 1024 * 10) { bigReplicaBuf = true; reports++; }
            if (server.ScriptingStatus.NumberOfCachedScripts > 1000) { manyScripts = true; reports++; }
        }

        if (reports == 0)
            return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";
        if (empty)
            return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. " +
                   "Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";
        var s = new StringBuilder("Sam, I detected a few issues in this Redis instance memory implants:\n\n");
        if (bigPeak)
            s.Append(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
        if (highFrag)
            s.Append(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n");
        if (highAllocFrag)
            s.Append(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n");
        if (highAllocRss)
            s.Append(" * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n");
        if (highProcRss)
            s.Append(" * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n");
        if (bigReplicaBuf)
            s.Append(" * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the master output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n");
        if (bigClientBuf)
            s.Append(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n");
        if (manyScripts)
            s.Append(" * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n");
        s.Append("I'm here to keep you safe, Sam. I want to help you.\n");
        return s.ToString();
    }

    /// <summary>ROLE for a standalone master: role, replication offset, and the (empty) replica list.</summary>
    private static void Role(Client c)
    {
        var server = c.Server;
        if (server.Config.MasterHost is { } host)
        {
            c.Reply.ArrayHeader(5);
            c.Reply.Bulk("slave"u8);
            c.Reply.Bulk(host);
            c.Reply.Integer(server.Config.MasterPort);
            c.Reply.Bulk(Replication.MasterLinkStates.RoleName(server.LinkStateNow));
            c.Reply.Integer(server.RoleReplicaOffset);
            return;
        }
        c.Reply.ArrayHeader(3);
        c.Reply.Bulk("master"u8);
        c.Reply.Integer(c.Server.ReplicationStatus.MasterReplOffset);
        // Online replicas only, each as ip, port and acknowledged offset (all bulk strings).
        var online = c.Server.Replicas.Where(l => l.State == Replication.ReplicaState.Online).ToList();
        c.Reply.ArrayHeader(online.Count);
        foreach (var l in online)
        {
            c.Reply.ArrayHeader(3);
            c.Reply.Bulk(l.Ip);
            c.Reply.Bulk(l.ListeningPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
            c.Reply.Bulk(l.AckOffset.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
