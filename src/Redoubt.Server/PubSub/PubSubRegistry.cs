using System.Text;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.PubSub;

/// <summary>
/// Channels, shard channels and patterns with their subscribers, and message delivery. Everything runs
/// under the server lock. A client's <see cref="ClientFlags.PubSub"/> flag is set while it holds any
/// subscription: it selects the RESP2 subscribed context in the gate and the "pubsub" class for output
/// buffer limits.
///
/// Delivery writes each message as a push into the subscriber's reply buffer, then schedules one flush
/// for after the running command: flushing there and then could swap out the buffer of the client that
/// is executing (a RESP3 client subscribed to its own keyspace events) while its reply is half written.
/// Nothing done during delivery closes or unsubscribes anyone, so the subscriber arrays are walked as is.
/// </summary>
public sealed class PubSubRegistry
{
    /// <summary>Subscribers of one channel or pattern, in subscription order (the order messages go out).</summary>
    private sealed class Subscribers(byte[] name)
    {
        public readonly byte[] Name = name;
        public Client[] Items = new Client[2];
        public int Count;

        public void Add(Client c)
        {
            if (Count == Items.Length) Array.Resize(ref Items, Count * 2);
            Items[Count++] = c;
        }

        public void Remove(Client c)
        {
            int i = Array.IndexOf(Items, c, 0, Count);
            if (i < 0) return;
            Array.Copy(Items, i + 1, Items, i, Count - i - 1);
            Items[--Count] = null!;
        }
    }

    private readonly RedisServer? _server;
    private readonly Dictionary<byte[], Subscribers> _channels = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], Subscribers> _shardChannels = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], Subscribers> _patterns = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], Subscribers>.AlternateLookup<ReadOnlySpan<byte>> _channelLookup, _shardLookup, _patternLookup;

    // Clients with messages written since the last scheduled flush.
    private readonly List<Client> _flushQueue = new();
    private bool _flushScheduled;

    public PubSubRegistry(RedisServer? server)
    {
        _server = server;
        _channelLookup = _channels.GetAlternateLookup<ReadOnlySpan<byte>>();
        _shardLookup = _shardChannels.GetAlternateLookup<ReadOnlySpan<byte>>();
        _patternLookup = _patterns.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>Channels with at least one subscriber (INFO pubsub_channels).</summary>
    public int ChannelCount => _channels.Count;
    /// <summary>Distinct patterns with at least one subscriber (PUBSUB NUMPAT, INFO pubsub_patterns).</summary>
    public int PatternCount => _patterns.Count;
    /// <summary>Shard channels with at least one subscriber (INFO pubsubshard_channels).</summary>
    public int ShardChannelCount => _shardChannels.Count;

    public IEnumerable<byte[]> ChannelNames => _channels.Keys;
    public IEnumerable<byte[]> ShardChannelNames => _shardChannels.Keys;

    public int SubscriberCount(ReadOnlySpan<byte> channel, bool shard)
        => (shard ? _shardLookup : _channelLookup).TryGetValue(channel, out var s) ? s.Count : 0;

    // ---- subscribing ----------------------------------------------------------------------------

    /// <summary>SUBSCRIBE / SSUBSCRIBE of one channel, confirmed to the client. False when already subscribed.</summary>
    public bool Subscribe(Client c, ReadOnlySpan<byte> channel, bool shard)
    {
        var subs = c.Subscriptions ??= new ClientSubscriptions();
        var mine = shard ? subs.ShardChannels : subs.Channels;
        bool added = false;
        if (!mine.GetAlternateLookup<ReadOnlySpan<byte>>().Contains(channel))
        {
            var lookup = shard ? _shardLookup : _channelLookup;
            if (!lookup.TryGetValue(channel, out var list))
            {
                list = new Subscribers(channel.ToArray());
                (shard ? _shardChannels : _channels)[list.Name] = list;
            }
            mine.Add(list.Name);
            list.Add(c);
            added = true;
        }
        c.Flags |= ClientFlags.PubSub;
        UpdateCounters(c);
        Confirm(c, shard ? "ssubscribe"u8 : "subscribe"u8, channel, false, shard ? subs.ShardChannels.Count : subs.ClassicCount);
        return added;
    }

    /// <summary>PSUBSCRIBE of one pattern, confirmed to the client. False when already subscribed.</summary>
    public bool SubscribePattern(Client c, ReadOnlySpan<byte> pattern)
    {
        var subs = c.Subscriptions ??= new ClientSubscriptions();
        bool added = false;
        if (!subs.PatternSet.GetAlternateLookup<ReadOnlySpan<byte>>().Contains(pattern))
        {
            if (!_patternLookup.TryGetValue(pattern, out var list))
            {
                list = new Subscribers(pattern.ToArray());
                _patterns[list.Name] = list;
            }
            subs.Patterns.Add(list.Name);
            subs.PatternSet.Add(list.Name);
            list.Add(c);
            added = true;
        }
        c.Flags |= ClientFlags.PubSub;
        UpdateCounters(c);
        Confirm(c, "psubscribe"u8, pattern, false, subs.ClassicCount);
        return added;
    }

    /// <summary>UNSUBSCRIBE / SUNSUBSCRIBE of one channel, confirmed when <paramref name="notify"/>. False when not subscribed.</summary>
    public bool Unsubscribe(Client c, ReadOnlySpan<byte> channel, bool shard, bool notify)
    {
        var subs = c.Subscriptions;
        bool removed = false;
        if (subs != null && (shard ? subs.ShardChannels : subs.Channels).GetAlternateLookup<ReadOnlySpan<byte>>().Remove(channel))
        {
            removed = true;
            var table = shard ? _shardChannels : _channels;
            if ((shard ? _shardLookup : _channelLookup).TryGetValue(channel, out var list))
            {
                list.Remove(c);
                // An empty channel is forgotten, so that churning through names costs no memory.
                if (list.Count == 0) table.Remove(list.Name);
            }
            UpdateCounters(c);
        }
        if (notify)
            Confirm(c, shard ? "sunsubscribe"u8 : "unsubscribe"u8, channel, false,
                subs is null ? 0 : shard ? subs.ShardChannels.Count : subs.ClassicCount);
        return removed;
    }

    /// <summary>PUNSUBSCRIBE of one pattern, confirmed when <paramref name="notify"/>. False when not subscribed.</summary>
    public bool UnsubscribePattern(Client c, ReadOnlySpan<byte> pattern, bool notify)
    {
        var subs = c.Subscriptions;
        bool removed = false;
        if (subs != null && subs.PatternSet.GetAlternateLookup<ReadOnlySpan<byte>>().Remove(pattern))
        {
            removed = true;
            for (int i = 0; i < subs.Patterns.Count; i++)
            {
                if (subs.Patterns[i].AsSpan().SequenceEqual(pattern))
                {
                    subs.Patterns.RemoveAt(i);
                    break;
                }
            }
            if (_patternLookup.TryGetValue(pattern, out var list))
            {
                list.Remove(c);
                if (list.Count == 0) _patterns.Remove(list.Name);
            }
            UpdateCounters(c);
        }
        if (notify) Confirm(c, "punsubscribe"u8, pattern, false, subs?.ClassicCount ?? 0);
        return removed;
    }

    /// <summary>
    /// UNSUBSCRIBE / SUNSUBSCRIBE without arguments: every channel, each confirmed when
    /// <paramref name="notify"/>; with nothing to leave, one confirmation with a null channel.
    /// </summary>
    public int UnsubscribeAll(Client c, bool shard, bool notify)
    {
        int count = 0;
        var subs = c.Subscriptions;
        if (subs != null)
        {
            var mine = shard ? subs.ShardChannels : subs.Channels;
            if (mine.Count > 0)
            {
                foreach (var channel in mine.ToArray())
                    if (Unsubscribe(c, channel, shard, notify)) count++;
            }
        }
        if (notify && count == 0) Confirm(c, shard ? "sunsubscribe"u8 : "unsubscribe"u8, default, true, 0);
        return count;
    }

    /// <summary>PUNSUBSCRIBE without arguments: every pattern in subscription order (see <see cref="UnsubscribeAll"/>).</summary>
    public int UnsubscribeAllPatterns(Client c, bool notify)
    {
        int count = 0;
        var subs = c.Subscriptions;
        if (subs != null && subs.Patterns.Count > 0)
        {
            foreach (var pattern in subs.Patterns.ToArray())
                if (UnsubscribePattern(c, pattern, notify)) count++;
        }
        if (notify && count == 0) Confirm(c, "punsubscribe"u8, default, true, 0);
        return count;
    }

    /// <summary>Leaves the subscribed state when nothing is left (after the unsubscribe commands).</summary>
    public static void ClearFlagIfIdle(Client c)
    {
        if (c.Subscriptions is null || c.Subscriptions.Total == 0) c.Flags &= ~ClientFlags.PubSub;
    }

    /// <summary>Drops every subscription silently: RESET and disconnection.</summary>
    public void RemoveAll(Client c)
    {
        if (c.Subscriptions is { Total: > 0 })
        {
            UnsubscribeAll(c, shard: false, notify: false);
            UnsubscribeAll(c, shard: true, notify: false);
            UnsubscribeAllPatterns(c, notify: false);
        }
        c.Subscriptions = null;
        UpdateCounters(c);
        c.Flags &= ~ClientFlags.PubSub;
    }

    /// <summary>
    /// Removes a shard channel altogether, telling each subscriber with an sunsubscribe push (what
    /// happens when the channel's slot leaves this node in cluster mode). False when nobody had it.
    /// </summary>
    public bool RemoveShardChannel(ReadOnlySpan<byte> channel)
    {
        if (!_shardLookup.TryGetValue(channel, out var list)) return false;
        _shardChannels.Remove(list.Name);
        for (int i = 0; i < list.Count; i++)
        {
            var c = list.Items[i];
            var subs = c.Subscriptions!;
            subs.ShardChannels.Remove(list.Name);
            UpdateCounters(c);
            Confirm(c, "sunsubscribe"u8, list.Name, false, subs.ShardChannels.Count);
            ClearFlagIfIdle(c);
            ScheduleFlush(c);
        }
        return true;
    }

    /// <summary>What the client holds, for ACL: channels and shard channels (false), patterns (true).</summary>
    public static IEnumerable<(byte[] Channel, bool IsPattern)> SubscriptionsOf(Client c)
    {
        var subs = c.Subscriptions;
        if (subs is null) yield break;
        foreach (var ch in subs.Channels) yield return (ch, false);
        foreach (var ch in subs.ShardChannels) yield return (ch, false);
        foreach (var p in subs.Patterns) yield return (p, true);
    }

    private static void UpdateCounters(Client c)
    {
        var subs = c.Subscriptions;
        c.SubscribedChannels = subs?.Channels.Count ?? 0;
        c.SubscribedPatterns = subs?.Patterns.Count ?? 0;
        c.SubscribedShardChannels = subs?.ShardChannels.Count ?? 0;
    }

    /// <summary>A subscribe/unsubscribe confirmation: [kind, name or null, count], as a push in RESP3.</summary>
    private static void Confirm(Client c, ReadOnlySpan<byte> kind, ReadOnlySpan<byte> name, bool nullName, long count)
    {
        var r = c.Reply;
        int start = r.BeginPush();
        r.PushHeader(3);
        r.Bulk(kind);
        if (nullName) r.Null();
        else r.Bulk(name);
        r.Integer(count);
        r.EndPush(start);
    }

    // ---- publishing -----------------------------------------------------------------------------

    /// <summary>
    /// PUBLISH / SPUBLISH: delivers to the channel's subscribers, then (not for shard channels) to every
    /// matching pattern's subscribers. Returns how many deliveries were made.
    /// </summary>
    public int Publish(ReadOnlySpan<byte> channel, ReadOnlySpan<byte> message, bool shard)
    {
        int receivers = 0;
        if ((shard ? _shardLookup : _channelLookup).TryGetValue(channel, out var list))
        {
            var items = list.Items;
            for (int i = 0, n = list.Count; i < n; i++)
            {
                Deliver(items[i], shard ? "smessage"u8 : "message"u8, default, false, channel, message);
                receivers++;
            }
        }
        if (shard || _patterns.Count == 0) return receivers;
        foreach (var pat in _patterns.Values)
        {
            if (!GlobMatcher.Match(pat.Name, channel)) continue;
            var items = pat.Items;
            for (int i = 0, n = pat.Count; i < n; i++)
            {
                Deliver(items[i], "pmessage"u8, pat.Name, true, channel, message);
                receivers++;
            }
        }
        return receivers;
    }

    /// <summary>The keyspace notification hook: publishes on a regular channel.</summary>
    public void PublishNotification(string channel, byte[] message)
        => Publish(Encoding.Latin1.GetBytes(channel), message, shard: false);

    private void Deliver(Client c, ReadOnlySpan<byte> kind, ReadOnlySpan<byte> pattern, bool withPattern,
        ReadOnlySpan<byte> channel, ReadOnlySpan<byte> message)
    {
        // A client on its way out gets nothing more, but it still counts as a receiver.
        if ((c.Flags & (ClientFlags.CloseAsap | ClientFlags.CloseAfterReply)) != 0) return;
        var r = c.Reply;
        int start = r.BeginPush();
        r.PushHeader(withPattern ? 4 : 3);
        r.Bulk(kind);
        if (withPattern) r.Bulk(pattern);
        r.Bulk(channel);
        r.Bulk(message);
        r.EndPush(start);
        ScheduleFlush(c);
    }

    /// <summary>Queues a send of <paramref name="c"/>'s pending output for when the current command has released the lock.</summary>
    internal void ScheduleFlush(Client c)
    {
        if (c.Connection is null || c.PubSubFlushPending || _server is null) return;
        c.PubSubFlushPending = true;
        _flushQueue.Add(c);
        if (_flushScheduled) return;
        _flushScheduled = true;
        // A reused work item: queuing a delegate with state allocated a wrapper per published batch.
        ThreadPool.UnsafeQueueUserWorkItem(_flushWork ??= new FlushWork(this), preferLocal: false);
    }

    private FlushWork? _flushWork;

    /// <summary>The queued <see cref="FlushQueued"/>; one at a time, as <c>_flushScheduled</c> guards.</summary>
    private sealed class FlushWork(PubSubRegistry registry) : IThreadPoolWorkItem
    {
        public void Execute() => registry.FlushQueued();
    }

    /// <summary>Runs once the current command has released the lock: starts the sends of every client written to.</summary>
    private void FlushQueued()
    {
        lock (_server!.Sync)
        {
            _flushScheduled = false;
            foreach (var c in _flushQueue)
            {
                c.PubSubFlushPending = false;
                c.Connection?.RequestFlush();
            }
            _flushQueue.Clear();
        }
    }
}
