namespace Redoubt.Server.Persistence;

/// <summary>A stream entry ID (milliseconds, sequence).</summary>
public readonly record struct RdbStreamId(ulong Ms, ulong Seq) : IComparable<RdbStreamId>
{
    public int CompareTo(RdbStreamId other) => Ms != other.Ms ? Ms.CompareTo(other.Ms) : Seq.CompareTo(other.Seq);
    public override string ToString() => $"{Ms}-{Seq}";
}

/// <summary>One live stream entry: its ID and its field/value pairs, flattened (field, value, field, value...).</summary>
public sealed record RdbStreamEntry(RdbStreamId Id, byte[][] FieldsAndValues);

/// <summary>A pending entry of a consumer group: delivered but not acknowledged.</summary>
public sealed record RdbStreamPending(RdbStreamId Id, long DeliveryTimeMs, ulong DeliveryCount);

/// <summary>A consumer: its name, when it was last seen, and the IDs of its pending entries (all in the group's PEL).</summary>
public sealed record RdbStreamConsumer(byte[] Name, long SeenTimeMs, List<RdbStreamId> Pending);

/// <summary>A consumer group. <see cref="EntriesRead"/> is -1 when unknown (files older than RDB 10).</summary>
public sealed record RdbStreamGroup(byte[] Name, RdbStreamId LastId, long EntriesRead, List<RdbStreamPending> Pending,
    List<RdbStreamConsumer> Consumers);

/// <summary>
/// A stream as an RDB file describes it, independent of how the server stores streams: the RDB layer
/// decodes STREAM_LISTPACKS payloads into this and encodes this into them, and the stream type converts
/// through <see cref="RedisServer.StreamFromRdb"/> / <see cref="RedisServer.StreamToRdb"/>.
/// </summary>
public sealed class RdbStreamData
{
    /// <summary>Live entries in ID order (deleted ones are not listed).</summary>
    public List<RdbStreamEntry> Entries = new();
    public ulong Length;
    public RdbStreamId LastId, FirstId, MaxDeletedId;
    public ulong EntriesAdded;
    /// <summary>Read from a pre-RDB-10 payload: the groups' read counters are unknown and get estimated.</summary>
    public bool Legacy;
    public List<RdbStreamGroup> Groups = new();
}
