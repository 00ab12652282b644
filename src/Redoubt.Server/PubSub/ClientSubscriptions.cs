namespace Redoubt.Server.PubSub;

/// <summary>What one client is subscribed to: channels, shard channels and patterns.</summary>
public sealed class ClientSubscriptions
{
    public readonly HashSet<byte[]> Channels = new(ByteKeyComparer.Instance);
    public readonly HashSet<byte[]> ShardChannels = new(ByteKeyComparer.Instance);
    /// <summary>Patterns in subscription order: PUNSUBSCRIBE without arguments confirms them in this order.</summary>
    public readonly List<byte[]> Patterns = new();
    public readonly HashSet<byte[]> PatternSet = new(ByteKeyComparer.Instance);

    /// <summary>The count that SUBSCRIBE/PSUBSCRIBE and their unsubscribes confirm: channels plus patterns.</summary>
    public int ClassicCount => Channels.Count + Patterns.Count;

    public int Total => Channels.Count + Patterns.Count + ShardChannels.Count;
}
