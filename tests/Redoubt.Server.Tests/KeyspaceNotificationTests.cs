using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Keyspace notifications delivered to real subscribers through the pub/sub registry, in process, with
/// the classes set directly on the server (the notify-keyspace-events directive belongs to the config
/// area; these tests do not depend on it).
/// </summary>
public sealed class KeyspaceNotificationDeliveryTests
{
    private readonly PubSubHarness _h = new();
    private readonly Client _sub;
    private readonly Client _c;

    public KeyspaceNotificationDeliveryTests()
    {
        _sub = _h.NewClient();
        _c = _h.NewClient();
        Assert.Single(_h.Run(_sub, "PSUBSCRIBE", "*"));
    }

    private void Flags(string letters)
    {
        var f = RedisServer.ParseNotifyFlags(letters, out bool ok);
        Assert.True(ok);
        _h.Server.NotifyFlags = f;
    }

    /// <summary>The (channel, message) pairs the pattern subscriber received, in order.</summary>
    private List<(string Channel, string Message)> Received()
        => _h.Drain(_sub).Select(m =>
        {
            var items = Assert.IsType<object?[]>(m);
            Assert.Equal("pmessage", items[0]);
            Assert.Equal("*", items[1]);
            return ((string)items[2]!, (string)items[3]!);
        }).ToList();

    [Fact]
    public void KeyspaceChannelCarriesTheEvent()
    {
        Flags("KA");
        _h.Run(_c, "SET", "foo", "bar");
        Assert.Equal([("__keyspace@0__:foo", "set")], Received());
    }

    [Fact]
    public void KeyeventChannelCarriesTheKey()
    {
        Flags("EA");
        _h.Run(_c, "SET", "foo", "bar");
        Assert.Equal([("__keyevent@0__:set", "foo")], Received());
    }

    [Fact]
    public void BothKindsKeyspaceFirst()
    {
        Flags("KEA");
        _h.Run(_c, "SELECT", "9");
        _h.Run(_c, "SET", "foo", "bar");
        Assert.Equal([("__keyspace@9__:foo", "set"), ("__keyevent@9__:set", "foo")], Received());
    }

    [Fact]
    public void ClassesMaskEvents()
    {
        // Generic events only: SET is a string event and stays silent.
        Flags("KEg");
        _h.Run(_c, "SET", "foo", "bar");
        _h.Run(_c, "EXPIRE", "foo", "100");
        _h.Run(_c, "DEL", "foo");
        Assert.Equal(
        [
            ("__keyspace@0__:foo", "expire"), ("__keyevent@0__:expire", "foo"),
            ("__keyspace@0__:foo", "del"), ("__keyevent@0__:del", "foo"),
        ], Received());

        // Neither K nor E: nothing is published whatever the classes.
        Flags("A");
        _h.Run(_c, "SET", "foo", "bar");
        Assert.Empty(Received());
    }

    [Fact]
    public void ExpiredEventOnLazyExpiry()
    {
        Flags("Ex");
        _h.Run(_c, "SET", "foo", "1", "PX", "1");
        Thread.Sleep(20);
        Assert.Equal([0L], _h.Run(_c, "EXISTS", "foo").Cast<object>());
        Assert.Equal([("__keyevent@0__:expired", "foo")], Received());
    }

    [Fact]
    public void NewKeyEventOnlyForCreation()
    {
        Flags("En");
        _h.Run(_c, "SET", "foo", "bar");
        _h.Run(_c, "SET", "foo", "baz");
        _h.Run(_c, "SET", "bar", "bar");
        _h.Run(_c, "RENAME", "bar", "moved");
        _h.Run(_c, "COPY", "foo", "copied");
        Assert.Equal(
        [
            ("__keyevent@0__:new", "foo"), ("__keyevent@0__:new", "bar"),
            ("__keyevent@0__:new", "moved"), ("__keyevent@0__:new", "copied"),
        ], Received());
    }

    [Fact]
    public void KeymissEvent()
    {
        Flags("Em");
        _h.Run(_c, "GET", "nokey");
        Assert.Equal([("__keyevent@0__:keymiss", "nokey")], Received());
    }

    [Fact]
    public void ChannelSubscribersGetNotificationsToo()
    {
        Flags("E$");
        var ch = _h.NewClient();
        _h.Run(ch, "SUBSCRIBE", "__keyevent@0__:set");
        _h.Run(_c, "SET", "k", "v");
        Assert.Equal(new object?[] { "message", "__keyevent@0__:set", "k" }, Assert.IsType<object?[]>(Assert.Single(_h.Drain(ch))));
        Assert.Single(Received());
    }

    [Fact]
    public void Resp3ClientSeesItsOwnEventsBeforeTheReply()
    {
        Flags("K$");
        var self = _h.NewClient();
        _h.Run(self, "HELLO", "3");
        _h.Run(self, "SUBSCRIBE", "__keyspace@0__:mine");
        var got = _h.Run(self, "SET", "mine", "v");
        Assert.Equal(2, got.Count);
        Assert.Equal(new object?[] { "message", "__keyspace@0__:mine", "set" }, Assert.IsType<PubSubHarness.Push>(got[0]).Items);
        Assert.Equal("OK", got[1]);
        Received();
    }

    [Fact]
    public void FlagsRoundTripAsConfigGetPrintsThem()
    {
        Assert.Equal("gKE", RedisServer.NotifyFlagsToString(RedisServer.ParseNotifyFlags("gKE", out _)));
        Assert.Equal("$lshzxeKE", RedisServer.NotifyFlagsToString(RedisServer.ParseNotifyFlags("$lshzxeKE", out _)));
        Assert.Equal("AK", RedisServer.NotifyFlagsToString(RedisServer.ParseNotifyFlags("KA", out _)));
        Assert.Equal("AE", RedisServer.NotifyFlagsToString(RedisServer.ParseNotifyFlags("EA", out _)));
        RedisServer.ParseNotifyFlags("Kq", out bool ok);
        Assert.False(ok);
    }
}
