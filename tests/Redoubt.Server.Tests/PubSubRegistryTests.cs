using System.Text;
using Redoubt.Server.Protocol;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Pub/sub state observed in process: per-client counters and the subscribed flag, CLIENT REPLY OFF
/// keeping pushes, RESET, ACL's view of subscriptions, shard channel removal, and the reply buffer's
/// push bookkeeping.
/// </summary>
public sealed class PubSubRegistryTests
{
    private readonly PubSubHarness _h = new();

    private static object?[] Items(object? reply) => Assert.IsType<object?[]>(reply);

    [Fact]
    public void CountersAndFlagFollowSubscriptions()
    {
        var c = _h.NewClient();
        Assert.Equal(2, _h.Run(c, "SUBSCRIBE", "a", "b").Count);
        _h.Run(c, "PSUBSCRIBE", "p*");
        _h.Run(c, "SSUBSCRIBE", "s1", "s2", "s3");
        Assert.Equal((2, 1, 3), (c.SubscribedChannels, c.SubscribedPatterns, c.SubscribedShardChannels));
        Assert.True((c.Flags & ClientFlags.PubSub) != 0);

        // The classic confirmations count channels and patterns; the shard ones count shard channels.
        Assert.Equal(new object?[] { "unsubscribe", "a", 2L }, Items(_h.Run(c, "UNSUBSCRIBE", "a")[0]));
        Assert.Equal(new object?[] { "sunsubscribe", "s1", 2L }, Items(_h.Run(c, "SUNSUBSCRIBE", "s1")[0]));

        _h.Run(c, "UNSUBSCRIBE");
        _h.Run(c, "PUNSUBSCRIBE");
        Assert.Equal((0, 0, 2), (c.SubscribedChannels, c.SubscribedPatterns, c.SubscribedShardChannels));
        // Shard subscriptions alone keep the client in the subscribed state.
        Assert.True((c.Flags & ClientFlags.PubSub) != 0);
        _h.Run(c, "SUNSUBSCRIBE");
        Assert.Equal(0, c.SubscribedShardChannels);
        Assert.True((c.Flags & ClientFlags.PubSub) == 0);
        Assert.Equal((0, 0, 0), (_h.Server.PubSub.ChannelCount, _h.Server.PubSub.PatternCount, _h.Server.PubSub.ShardChannelCount));
    }

    [Fact]
    public void ReplyOffSilencesRepliesButNotPushes()
    {
        var sub = _h.NewClient();
        var pub = _h.NewClient();
        sub.ReplyMode = ReplyMode.Off;
        // The confirmations are pushes: they still arrive.
        var got = _h.Run(sub, "SUBSCRIBE", "x");
        Assert.Equal(new object?[] { "subscribe", "x", 1L }, Items(Assert.Single(got)));
        Assert.Empty(_h.Run(sub, "PING"));
        Assert.Equal(new object?[] { "psubscribe", "x*", 2L }, Items(Assert.Single(_h.Run(sub, "PSUBSCRIBE", "x*"))));
        Assert.Equal([2L], _h.Run(pub, "PUBLISH", "x", "m").Cast<object>());
        var messages = _h.Drain(sub);
        Assert.Equal(2, messages.Count);
        Assert.Equal(new object?[] { "message", "x", "m" }, Items(messages[0]));
        Assert.Equal(new object?[] { "pmessage", "x*", "x", "m" }, Items(messages[1]));

        // A RESP3 client publishing to itself with replies off: its message stays, the count goes.
        var self = _h.NewClient();
        _h.Run(self, "HELLO", "3");
        _h.Run(self, "SUBSCRIBE", "me");
        self.ReplyMode = ReplyMode.Off;
        var own = _h.Run(self, "PUBLISH", "me", "hi");
        Assert.Equal(new object?[] { "message", "me", "hi" }, Assert.IsType<PubSubHarness.Push>(Assert.Single(own)).Items);
    }

    [Fact]
    public void ResetDropsSubscriptionsSilently()
    {
        var c = _h.NewClient();
        var pub = _h.NewClient();
        _h.Run(c, "SUBSCRIBE", "a");
        _h.Run(c, "PSUBSCRIBE", "a*");
        _h.Run(c, "SSUBSCRIBE", "s");
        Assert.Equal(["RESET"], _h.Run(c, "RESET").Cast<object>());
        Assert.Equal((0, 0, 0), (c.SubscribedChannels, c.SubscribedPatterns, c.SubscribedShardChannels));
        Assert.True((c.Flags & ClientFlags.PubSub) == 0);
        Assert.Equal([0L], _h.Run(pub, "PUBLISH", "a", "x").Cast<object>());
        Assert.Equal(0, _h.Server.PubSub.PatternCount);
    }

    [Fact]
    public void UnlinkedClientsLeaveTheRegistry()
    {
        var c = _h.NewClient();
        var other = _h.NewClient();
        lock (_h.Server.Sync)
        {
            _h.Server.Clients[c.Id] = c;
            _h.Server.Clients[other.Id] = other;
        }
        _h.Run(c, "SUBSCRIBE", "a", "b");
        _h.Run(other, "SUBSCRIBE", "b");
        _h.Run(c, "PSUBSCRIBE", "*");
        lock (_h.Server.Sync) _h.Server.UnlinkClient(c);
        Assert.Equal(1, _h.Server.PubSub.ChannelCount);
        Assert.Equal(0, _h.Server.PubSub.PatternCount);
        Assert.Equal(1, _h.Server.PubSub.SubscriberCount("b"u8, shard: false));
        Assert.Equal(0, _h.Server.PubSub.SubscriberCount("a"u8, shard: false));
    }

    [Fact]
    public void AclSeesChannelsShardChannelsAndPatterns()
    {
        var c = _h.NewClient();
        _h.Run(c, "SUBSCRIBE", "ch");
        _h.Run(c, "SSUBSCRIBE", "sh");
        _h.Run(c, "PSUBSCRIBE", "pa*");
        var held = _h.Server.Acl.ClientSubscriptions!(c)
            .Select(s => (Encoding.Latin1.GetString(s.Channel), s.IsPattern)).OrderBy(s => s.Item1).ToArray();
        Assert.Equal([("ch", false), ("pa*", true), ("sh", false)], held);
    }

    [Fact]
    public void RemovingAShardChannelTellsItsSubscribers()
    {
        var a = _h.NewClient();
        var b = _h.NewClient();
        _h.Run(a, "SSUBSCRIBE", "gone", "kept");
        _h.Run(b, "SSUBSCRIBE", "gone");
        lock (_h.Server.Sync) Assert.True(_h.Server.PubSub.RemoveShardChannel("gone"u8));
        Assert.Equal(new object?[] { "sunsubscribe", "gone", 1L }, Items(Assert.Single(_h.Drain(a))));
        Assert.Equal(new object?[] { "sunsubscribe", "gone", 0L }, Items(Assert.Single(_h.Drain(b))));
        Assert.True((a.Flags & ClientFlags.PubSub) != 0);
        Assert.True((b.Flags & ClientFlags.PubSub) == 0);
        Assert.Equal(0, b.SubscribedShardChannels);
        lock (_h.Server.Sync) Assert.False(_h.Server.PubSub.RemoveShardChannel("gone"u8));
        Assert.Equal(1, _h.Server.PubSub.ShardChannelCount);
    }

    [Fact]
    public void KeysAndPatternsAreBinarySafe()
    {
        var c = _h.NewClient();
        var pub = _h.NewClient();
        _h.Run(c, "PSUBSCRIBE", "a\\*b?");
        Assert.Equal([1L], _h.Run(pub, "PUBLISH", "a*bc", "x").Cast<object>());
        Assert.Equal([0L], _h.Run(pub, "PUBLISH", "aXbc", "x").Cast<object>());
        Assert.Equal(new object?[] { "pmessage", "a\\*b?", "a*bc", "x" }, Items(Assert.Single(_h.Drain(c))));
    }

    [Fact]
    public void TruncateKeepsPushesInOrder()
    {
        var w = new ReplyWriter(64);
        w.Raw("+before\r\n"u8);
        int mark = w.Length;
        w.Raw("+dropped1\r\n"u8);
        int p = w.BeginPush();
        w.Raw(">1\r\n+push1\r\n"u8);
        w.EndPush(p);
        w.Raw(":2\r\n"u8);
        p = w.BeginPush();
        w.Raw(">1\r\n+push2\r\n"u8);
        w.EndPush(p);
        p = w.BeginPush();
        w.Raw(">1\r\n+push3\r\n"u8);
        w.EndPush(p);
        w.Raw("+dropped3\r\n"u8);
        w.Truncate(mark);
        Assert.Equal("+before\r\n>1\r\n+push1\r\n>1\r\n+push2\r\n>1\r\n+push3\r\n", Encoding.ASCII.GetString(w.Written));

        // Truncating again at the same mark changes nothing: the kept pushes are recorded where they now are.
        w.Truncate(mark);
        Assert.Equal("+before\r\n>1\r\n+push1\r\n>1\r\n+push2\r\n>1\r\n+push3\r\n", Encoding.ASCII.GetString(w.Written));

        // After a partial send the positions shift with the data.
        w.Consume(9);
        w.Raw("+tail\r\n"u8);
        w.Truncate(0);
        Assert.Equal(">1\r\n+push1\r\n>1\r\n+push2\r\n>1\r\n+push3\r\n", Encoding.ASCII.GetString(w.Written));

        // A swap empties the bookkeeping along with the buffer.
        w.Swap(new byte[64], out _);
        w.Raw("+x\r\n"u8);
        w.Truncate(0);
        Assert.Equal(0, w.Length);
    }

    [Fact]
    public void DeferredHeadersMovePushesWithTheirAggregate()
    {
        var w = new ReplyWriter(64);
        int p = w.BeginPush();
        w.Raw(">1\r\n+early\r\n"u8);
        w.EndPush(p);
        int mark = w.BeginDeferred();
        w.Raw(":1\r\n"u8);
        p = w.BeginPush();
        w.Raw(">1\r\n+inside\r\n"u8);
        w.EndPush(p);
        w.EndDeferred(mark, 1);
        w.Truncate(mark);
        Assert.Equal(">1\r\n+early\r\n>1\r\n+inside\r\n", Encoding.ASCII.GetString(w.Written));
    }
}
