namespace Redoubt.Server.Storage;

/// <summary>Consumer groups of a stream: kept by name in byte order, as Redis's radix tree lists them.</summary>
public sealed partial class StreamObject
{
    private SortedDictionary<byte[], StreamGroup>? _groups;

    /// <summary>Groups in name order (null or empty when none).</summary>
    public IReadOnlyCollection<StreamGroup> Groups => (IReadOnlyCollection<StreamGroup>?)_groups?.Values ?? [];
    public int GroupCount => _groups?.Count ?? 0;

    public StreamGroup? FindGroup(ReadOnlySpan<byte> name)
    {
        if (_groups is null) return null;
        return _groups.TryGetValue(name.ToArray(), out var g) ? g : null;
    }

    /// <summary>Creates a group; null when one of that name exists.</summary>
    public StreamGroup? CreateGroup(ReadOnlySpan<byte> name, StreamId lastId, long entriesRead)
    {
        _groups ??= new SortedDictionary<byte[], StreamGroup>(ByteOrder.Instance);
        var key = name.ToArray();
        if (_groups.ContainsKey(key)) return null;
        var g = new StreamGroup(key) { LastId = lastId, EntriesRead = entriesRead };
        _groups[key] = g;
        return g;
    }

    public bool DestroyGroup(ReadOnlySpan<byte> name) => _groups != null && _groups.Remove(name.ToArray());

    private long GroupsMemory()
    {
        if (_groups is null) return 0;
        long total = 64;
        foreach (var g in _groups.Values) total += g.MemoryUsage;
        return total;
    }

    private void CloneGroupsInto(StreamObject s)
    {
        if (_groups is null) return;
        s._groups = new SortedDictionary<byte[], StreamGroup>(ByteOrder.Instance);
        foreach (var g in _groups.Values) s._groups[g.Name] = g.Clone();
    }
}

/// <summary>Byte-wise lexicographic order (memcmp, then the shorter first).</summary>
public sealed class ByteOrder : IComparer<byte[]>
{
    public static readonly ByteOrder Instance = new();
    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
}

/// <summary>A pending (delivered, not yet acknowledged) entry: Redis's streamNACK.</summary>
public sealed class PendingEntry
{
    public StreamId Id;
    /// <summary>Unix time in ms of the last delivery.</summary>
    public long DeliveryTime;
    public long DeliveryCount;
    public StreamConsumer Consumer = null!;

    public static readonly IComparer<PendingEntry> ById = Comparer<PendingEntry>.Create(static (a, b) => a.Id.CompareTo(b.Id));
}

/// <summary>A consumer of a group with its own pending entries.</summary>
public sealed class StreamConsumer
{
    public readonly byte[] Name;
    /// <summary>Unix time in ms the consumer was last active.</summary>
    public long SeenTime;
    public readonly SortedSet<PendingEntry> Pending = new(PendingEntry.ById);

    public StreamConsumer(byte[] name) => Name = name;
}

/// <summary>A consumer group: its last delivered ID, logical read counter, PEL and consumers.</summary>
public sealed class StreamGroup
{
    /// <summary>Redis's SCG_INVALID_ENTRIES_READ: the read counter is unknown.</summary>
    public const long InvalidEntriesRead = -1;

    public readonly byte[] Name;
    public StreamId LastId;
    public long EntriesRead;
    public readonly SortedSet<PendingEntry> Pending = new(PendingEntry.ById);
    private readonly SortedDictionary<byte[], StreamConsumer> _consumers = new(ByteOrder.Instance);
    private readonly PendingEntry _probe = new();

    public StreamGroup(byte[] name) => Name = name;

    public IReadOnlyCollection<StreamConsumer> Consumers => _consumers.Values;
    public int ConsumerCount => _consumers.Count;

    internal long MemoryUsage => 96 + Name.Length + Pending.Count * 112L + _consumers.Count * 120L;

    public StreamConsumer? FindConsumer(ReadOnlySpan<byte> name)
        => _consumers.TryGetValue(name.ToArray(), out var c) ? c : null;

    /// <summary>Creates a consumer; null when it exists.</summary>
    public StreamConsumer? CreateConsumer(ReadOnlySpan<byte> name, long nowMs)
    {
        var key = name.ToArray();
        if (_consumers.ContainsKey(key)) return null;
        var c = new StreamConsumer(key) { SeenTime = nowMs };
        _consumers[key] = c;
        return c;
    }

    /// <summary>Deletes a consumer and its pending entries from the group; returns how many it had.</summary>
    public long DeleteConsumer(StreamConsumer c)
    {
        long n = c.Pending.Count;
        foreach (var p in c.Pending) Pending.Remove(p);
        _consumers.Remove(c.Name);
        return n;
    }

    public PendingEntry? FindPending(StreamId id)
    {
        _probe.Id = id;
        return Pending.TryGetValue(_probe, out var p) ? p : null;
    }

    /// <summary>Pending entries with IDs in [start, end], in order.</summary>
    public IEnumerable<PendingEntry> PendingRange(SortedSet<PendingEntry> pel, StreamId start, StreamId end)
    {
        if (pel.Count == 0 || start > end) return [];
        var lo = new PendingEntry { Id = start };
        var hi = new PendingEntry { Id = end };
        return pel.GetViewBetween(lo, hi);
    }

    public void AddPending(PendingEntry p)
    {
        Pending.Add(p);
        p.Consumer.Pending.Add(p);
    }

    public void RemovePending(PendingEntry p)
    {
        Pending.Remove(p);
        p.Consumer.Pending.Remove(p);
    }

    internal StreamGroup Clone()
    {
        var g = new StreamGroup(Name) { LastId = LastId, EntriesRead = EntriesRead };
        foreach (var c in _consumers.Values)
        {
            var nc = new StreamConsumer(c.Name) { SeenTime = c.SeenTime };
            g._consumers[c.Name] = nc;
        }
        foreach (var p in Pending)
        {
            var np = new PendingEntry
            {
                Id = p.Id, DeliveryTime = p.DeliveryTime, DeliveryCount = p.DeliveryCount,
                Consumer = g._consumers[p.Consumer.Name],
            };
            g.AddPending(np);
        }
        return g;
    }
}
