using System.Diagnostics.Tracing;
using System.Collections.Concurrent;

namespace Redoubt.Server.Diagnostics;

/// <summary>
/// A measurement aid for allocation work on the hot paths, off unless the environment variable
/// REDOUBT_ALLOC_PROBE is set to a period in seconds. Every period it writes to stderr the bytes this
/// process allocated per command executed, the gen0/1/2 collections, and the types the runtime sampled
/// most (one sample per ~100 KB allocated), so that what still allocates under load can be named.
/// Nothing of it is visible to clients.
/// </summary>
public sealed class AllocationProbe : EventListener
{
    private readonly ConcurrentDictionary<string, long> _sampledBytes = new();

    public static void StartIfRequested(RedisServer server)
    {
        var v = Environment.GetEnvironmentVariable("REDOUBT_ALLOC_PROBE");
        if (string.IsNullOrEmpty(v) || !int.TryParse(v, out int seconds) || seconds <= 0) return;
        var probe = new AllocationProbe();
        var t = new Thread(() => probe.Loop(server, seconds)) { IsBackground = true, Name = "alloc-probe" };
        t.Start();
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        // GC keyword at verbose level carries GCAllocationTick with the sampled type's name.
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null) return;
        int ti = e.PayloadNames!.IndexOf("TypeName");
        int ai = e.PayloadNames.IndexOf("AllocationAmount64");
        if (ti < 0) return;
        string type = e.Payload[ti] as string ?? "?";
        long amount = ai >= 0 && e.Payload[ai] is ulong a ? (long)a : 100_000;
        _sampledBytes.AddOrUpdate(type, amount, (_, old) => old + amount);
    }

    private void Loop(RedisServer server, int seconds)
    {
        long lastBytes = GC.GetTotalAllocatedBytes(false);
        long lastCmds = Volatile.Read(ref server.Stats.TotalCommandsProcessed);
        int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
        while (true)
        {
            Thread.Sleep(seconds * 1000);
            long bytes = GC.GetTotalAllocatedBytes(false);
            long cmds = Volatile.Read(ref server.Stats.TotalCommandsProcessed);
            int n0 = GC.CollectionCount(0), n1 = GC.CollectionCount(1), n2 = GC.CollectionCount(2);
            long dc = cmds - lastCmds, db = bytes - lastBytes;
            var top = _sampledBytes.ToArray();
            _sampledBytes.Clear();
            Array.Sort(top, (x, y) => y.Value.CompareTo(x.Value));
            var sb = new System.Text.StringBuilder();
            sb.Append($"alloc-probe: {db} B / {dc} cmds = {(dc > 0 ? (double)db / dc : 0):F1} B/cmd; gc {n0 - g0}/{n1 - g1}/{n2 - g2}");
            for (int i = 0; i < Math.Min(8, top.Length); i++) sb.Append($"\n  {top[i].Value,12} {top[i].Key}");
            Console.Error.WriteLine(sb.ToString());
            lastBytes = bytes; lastCmds = cmds; g0 = n0; g1 = n1; g2 = n2;
        }
    }
}
