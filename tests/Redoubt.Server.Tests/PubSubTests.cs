using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>SUBSCRIBE/PSUBSCRIBE/SSUBSCRIBE, PUBLISH/SPUBLISH and PUBSUB against a running server.</summary>
public sealed class PubSubTests : IClassFixture<SharedServer>
{
    private readonly ServerProcess _server;
    public PubSubTests(SharedServer shared) => _server = shared.Server;

    private const string ContextError =
        "ERR Can't execute '{0}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

    private static string Err(object? reply) => Assert.IsType<RespError>(reply).Message;

    private static object?[] Arr(object? reply) => Assert.IsType<object?[]>(reply);

    /// <summary>Sends a (un)subscribe command and reads one confirmation per expected channel.</summary>
    private static List<object?[]> SendAndRead(RespClient c, int replies, params object[] cmd)
    {
        c.SendRaw(RespClient.Encode(cmd));
        var list = new List<object?[]>();
        for (int i = 0; i < replies; i++) list.Add(Arr(c.Read()));
        return list;
    }

    private static void AssertMessage(object? reply, params object?[] expected) => Assert.Equal(expected, Arr(reply));

    /// <summary>Polls until the condition holds (the server learns of a disconnection asynchronously).</summary>
    private static void WaitFor(Func<bool> condition)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.ElapsedMilliseconds > 5000) Assert.Fail("condition not reached in 5 s");
            Thread.Sleep(10);
        }
    }

    [Fact]
    public void SubscribePublishAndUnsubscribe()
    {
        using var sub = _server.Connect();
        using var pub = _server.Connect();
        var confirmations = SendAndRead(sub, 2, "SUBSCRIBE", "ps:chan1", "ps:chan2");
        Assert.Equal(new object?[] { "subscribe", "ps:chan1", 1L }, confirmations[0]);
        Assert.Equal(new object?[] { "subscribe", "ps:chan2", 2L }, confirmations[1]);

        Assert.Equal(1L, pub.Call("PUBLISH", "ps:chan1", "hello"));
        Assert.Equal(1L, pub.Call("PUBLISH", "ps:chan2", "world"));
        AssertMessage(sub.Read(), "message", "ps:chan1", "hello");
        AssertMessage(sub.Read(), "message", "ps:chan2", "world");

        Assert.Equal(new object?[] { "unsubscribe", "ps:chan1", 1L }, SendAndRead(sub, 1, "UNSUBSCRIBE", "ps:chan1")[0]);
        Assert.Equal(0L, pub.Call("PUBLISH", "ps:chan1", "hello"));
        Assert.Equal(1L, pub.Call("PUBLISH", "ps:chan2", "again"));
        AssertMessage(sub.Read(), "message", "ps:chan2", "again");

        Assert.Equal(new object?[] { "unsubscribe", "ps:chan2", 0L }, SendAndRead(sub, 1, "UNSUBSCRIBE", "ps:chan2")[0]);
        Assert.Equal(0L, pub.Call("PUBLISH", "ps:chan2", "nobody"));
        // Out of the subscribed context: ordinary commands work again.
        Assert.Equal("PONG", sub.Call("PING"));
    }

    [Fact]
    public void SubscribingTwiceCountsOnceAndUnknownChannelsUnsubscribeWithZero()
    {
        using var sub = _server.Connect();
        using var pub = _server.Connect();
        var replies = SendAndRead(sub, 3, "SUBSCRIBE", "ps:dup", "ps:dup", "ps:dup");
        Assert.All(replies, r => Assert.Equal(new object?[] { "subscribe", "ps:dup", 1L }, r));
        Assert.Equal(1L, pub.Call("PUBLISH", "ps:dup", "once"));
        AssertMessage(sub.Read(), "message", "ps:dup", "once");

        using var other = _server.Connect();
        var zeros = SendAndRead(other, 3, "UNSUBSCRIBE", "foo", "bar", "quux");
        Assert.Equal(new object?[] { "unsubscribe", "foo", 0L }, zeros[0]);
        Assert.Equal(new object?[] { "unsubscribe", "quux", 0L }, zeros[2]);
        var pzeros = SendAndRead(other, 2, "PUNSUBSCRIBE", "foo.*", "bar.*");
        Assert.Equal(new object?[] { "punsubscribe", "bar.*", 0L }, pzeros[1]);
        // Never subscribed: not in the subscribed context.
        Assert.Null(other.Call("GET", "ps:nokey"));
    }

    [Fact]
    public void UnsubscribeAllWithArgumentsOmitted()
    {
        using var sub = _server.Connect();
        using var pub = _server.Connect();
        SendAndRead(sub, 3, "SUBSCRIBE", "ps:all1", "ps:all2", "ps:all3");
        var replies = SendAndRead(sub, 3, "UNSUBSCRIBE");
        Assert.Equal(["ps:all1", "ps:all2", "ps:all3"], replies.Select(r => (string)r[1]!).Order().ToArray());
        Assert.Equal([2L, 1L, 0L], replies.Select(r => (long)r[2]!).ToArray());
        Assert.Equal(0L, pub.Call("PUBLISH", "ps:all1", "x"));

        // With nothing subscribed every form still answers, with a null name and a zero count.
        Assert.Equal(new object?[] { "unsubscribe", null, 0L }, Arr(sub.Call("UNSUBSCRIBE")));
        Assert.Equal(new object?[] { "punsubscribe", null, 0L }, Arr(sub.Call("PUNSUBSCRIBE")));
        Assert.Equal(new object?[] { "sunsubscribe", null, 0L }, Arr(sub.Call("SUNSUBSCRIBE")));

        SendAndRead(sub, 3, "PSUBSCRIBE", "ps:p1.*", "ps:p2.*", "ps:p3.*");
        var preplies = SendAndRead(sub, 3, "PUNSUBSCRIBE");
        // Patterns are left in the order they were subscribed.
        Assert.Equal(["ps:p1.*", "ps:p2.*", "ps:p3.*"], preplies.Select(r => (string)r[1]!).ToArray());
        Assert.Equal(0L, pub.Call("PUBLISH", "ps:p1.x", "x"));
    }

    [Fact]
    public void PatternSubscriptions()
    {
        using var sub = _server.Connect();
        using var sub2 = _server.Connect();
        using var pub = _server.Connect();
        var replies = SendAndRead(sub, 2, "PSUBSCRIBE", "ps:foo.*", "ps:bar.*");
        Assert.Equal(new object?[] { "psubscribe", "ps:bar.*", 2L }, replies[1]);
        Assert.Equal(1L, pub.Call("PUBLISH", "ps:foo.1", "hello"));
        Assert.Equal(1L, pub.Call("PUBLISH", "ps:bar.1", "hello"));
        Assert.Equal(0L, pub.Call("PUBLISH", "ps:foo1", "hello"));
        Assert.Equal(0L, pub.Call("PUBLISH", "ps:barfoo.1", "hello"));
        AssertMessage(sub.Read(), "pmessage", "ps:foo.*", "ps:foo.1", "hello");
        AssertMessage(sub.Read(), "pmessage", "ps:bar.*", "ps:bar.1", "hello");

        // A channel and a pattern both matching: one delivery each, both counted.
        SendAndRead(sub2, 1, "SUBSCRIBE", "ps:foo.bar");
        Assert.Equal(new object?[] { "psubscribe", "ps:foo.*", 2L }, SendAndRead(sub2, 1, "PSUBSCRIBE", "ps:foo.*")[0]);
        Assert.Equal(3L, pub.Call("PUBLISH", "ps:foo.bar", "both"));
        AssertMessage(sub2.Read(), "message", "ps:foo.bar", "both");
        AssertMessage(sub2.Read(), "pmessage", "ps:foo.*", "ps:foo.bar", "both");
        AssertMessage(sub.Read(), "pmessage", "ps:foo.*", "ps:foo.bar", "both");

        Assert.Equal(new object?[] { "punsubscribe", "ps:foo.*", 1L }, SendAndRead(sub, 1, "PUNSUBSCRIBE", "ps:foo.*")[0]);
        Assert.Equal(2L, pub.Call("PUBLISH", "ps:foo.bar", "x"));
    }

    [Fact]
    public void NumpatCountsUniquePatterns()
    {
        using var server = new ServerProcess();
        using var a = server.Connect();
        using var b = server.Connect();
        using var q = server.Connect();
        SendAndRead(a, 2, "PSUBSCRIBE", "foo*", "bar*");
        SendAndRead(b, 2, "PSUBSCRIBE", "foo*", "baz*");
        Assert.Equal(3L, q.Call("PUBSUB", "NUMPAT"));
        SendAndRead(a, 2, "PUNSUBSCRIBE");
        Assert.Equal(2L, q.Call("PUBSUB", "NUMPAT"));
    }

    [Fact]
    public void Resp2SubscribedContextAllowsOnlyPubSubPingQuitReset()
    {
        using var sub = _server.Connect();
        SendAndRead(sub, 1, "SUBSCRIBE", "ps:ctx");
        Assert.Equal(string.Format(ContextError, "get"), Err(sub.Call("GET", "k")));
        Assert.Equal(string.Format(ContextError, "set"), Err(sub.Call("SET", "k", "v")));
        Assert.Equal(string.Format(ContextError, "pubsub|channels"), Err(sub.Call("PUBSUB", "CHANNELS")));
        // PING answers with the pub/sub shape.
        Assert.Equal(new object?[] { "pong", "" }, Arr(sub.Call("PING")));
        Assert.Equal(new object?[] { "pong", "foo" }, Arr(sub.Call("PING", "foo")));
        // Still subscribed to a pattern after leaving the channel: still in the context.
        Assert.Equal(new object?[] { "psubscribe", "ps:p*", 2L }, Arr(sub.Call("PSUBSCRIBE", "ps:p*")));
        Assert.Equal(new object?[] { "unsubscribe", "ps:ctx", 1L }, Arr(sub.Call("UNSUBSCRIBE", "ps:ctx")));
        Assert.Equal(string.Format(ContextError, "get"), Err(sub.Call("GET", "k")));
        Assert.Equal(new object?[] { "punsubscribe", "ps:p*", 0L }, Arr(sub.Call("PUNSUBSCRIBE", "ps:p*")));
        Assert.Equal("PONG", sub.Call("PING"));
        Assert.Null(sub.Call("GET", "ps:nokey"));

        SendAndRead(sub, 1, "SUBSCRIBE", "ps:ctx");
        Assert.Equal("OK", sub.Call("QUIT"));
        Assert.True(sub.IsClosedByServer());
    }

    [Fact]
    public void ResetLeavesEverySubscription()
    {
        using var sub = _server.Connect();
        using var pub = _server.Connect();
        SendAndRead(sub, 1, "SUBSCRIBE", "ps:reset");
        SendAndRead(sub, 1, "PSUBSCRIBE", "ps:reset*");
        SendAndRead(sub, 1, "SSUBSCRIBE", "ps:resetshard");
        Assert.Equal("RESET", sub.Call("RESET"));
        Assert.Equal(0L, pub.Call("PUBLISH", "ps:reset", "x"));
        Assert.Equal(0L, pub.Call("SPUBLISH", "ps:resetshard", "x"));
        Assert.Equal(new object?[] { "ps:reset", 0L }, Arr(pub.Call("PUBSUB", "NUMSUB", "ps:reset")));
        Assert.Null(sub.Call("GET", "ps:nokey"));
    }

    [Fact]
    public void Resp3DeliversPushesAndAllowsEveryCommand()
    {
        using var sub = new RawResp(_server.Port);
        using var pub = _server.Connect();
        sub.Send("HELLO", "3");
        Assert.Equal('%', sub.ReadRaw().Type);

        sub.Send("SUBSCRIBE", "ps:r3");
        var (type, value) = sub.ReadRaw();
        Assert.Equal('>', type);
        Assert.Equal(new object?[] { "subscribe", "ps:r3", 1L }, value);

        // No subscribed context in RESP3.
        sub.Send("SET", "ps:r3key", "v");
        Assert.Equal(('+', (object?)"OK"), sub.ReadRaw());
        sub.Send("PING");
        Assert.Equal(('+', (object?)"PONG"), sub.ReadRaw());

        Assert.Equal(1L, pub.Call("PUBLISH", "ps:r3", "payload"));
        (type, value) = sub.ReadRaw();
        Assert.Equal('>', type);
        Assert.Equal(new object?[] { "message", "ps:r3", "payload" }, value);

        sub.Send("PSUBSCRIBE", "ps:r*");
        (type, value) = sub.ReadRaw();
        Assert.Equal('>', type);
        Assert.Equal(new object?[] { "psubscribe", "ps:r*", 2L }, value);
        Assert.Equal(2L, pub.Call("PUBLISH", "ps:r3", "two"));
        Assert.Equal(new object?[] { "message", "ps:r3", "two" }, sub.ReadRaw().Value);
        (type, value) = sub.ReadRaw();
        Assert.Equal('>', type);
        Assert.Equal(new object?[] { "pmessage", "ps:r*", "ps:r3", "two" }, value);

        sub.Send("UNSUBSCRIBE");
        Assert.Equal(new object?[] { "unsubscribe", "ps:r3", 1L }, sub.ReadRaw().Value);
        sub.Send("PUNSUBSCRIBE");
        Assert.Equal(new object?[] { "punsubscribe", "ps:r*", 0L }, sub.ReadRaw().Value);
        // The null name is RESP3's null.
        sub.Send("UNSUBSCRIBE");
        Assert.Equal(">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n", sub.ReadRawText(3));
    }

    [Fact]
    public void ShardChannels()
    {
        using var sub = _server.Connect();
        using var psub = _server.Connect();
        using var pub = _server.Connect();
        var replies = SendAndRead(sub, 2, "SSUBSCRIBE", "ps:s1", "ps:s2");
        Assert.Equal(new object?[] { "ssubscribe", "ps:s2", 2L }, replies[1]);
        SendAndRead(psub, 1, "PSUBSCRIBE", "ps:s*");

        // Shard messages reach shard subscribers only: patterns and plain channels are another namespace.
        Assert.Equal(1L, pub.Call("SPUBLISH", "ps:s1", "hello"));
        AssertMessage(sub.Read(), "smessage", "ps:s1", "hello");
        Assert.Equal(1L, pub.Call("PUBLISH", "ps:s1", "plain"));
        AssertMessage(psub.Read(), "pmessage", "ps:s*", "ps:s1", "plain");

        Assert.Contains("ps:s1", Arr(pub.Call("PUBSUB", "SHARDCHANNELS")));
        Assert.Equal(new object?[] { "ps:s1", "ps:s2" }, Arr(pub.Call("PUBSUB", "SHARDCHANNELS", "ps:s[12]")).Order().ToArray());
        Assert.Equal(new object?[] { "ps:s1", 1L, "ps:none", 0L }, Arr(pub.Call("PUBSUB", "SHARDNUMSUB", "ps:s1", "ps:none")));
        Assert.Equal(new object?[] { "ps:s1", 0L }, Arr(pub.Call("PUBSUB", "NUMSUB", "ps:s1")));

        // UNSUBSCRIBE does not touch shard channels; the counts are separate.
        Assert.Equal(new object?[] { "unsubscribe", null, 0L }, Arr(sub.Call("UNSUBSCRIBE")));
        Assert.Equal(string.Format(ContextError, "get"), Err(sub.Call("GET", "k")));
        Assert.Equal(new object?[] { "sunsubscribe", "ps:s1", 1L }, SendAndRead(sub, 1, "SUNSUBSCRIBE", "ps:s1")[0]);
        Assert.Equal(0L, pub.Call("SPUBLISH", "ps:s1", "gone"));
        Assert.Equal(new object?[] { "sunsubscribe", "ps:s2", 0L }, SendAndRead(sub, 1, "SUNSUBSCRIBE")[0]);
        Assert.Null(sub.Call("GET", "ps:nokey"));
    }

    [Fact]
    public void PubsubIntrospection()
    {
        using var server = new ServerProcess();
        using var a = server.Connect();
        using var b = server.Connect();
        using var q = server.Connect();
        Assert.Empty(Arr(q.Call("PUBSUB", "CHANNELS")));
        SendAndRead(a, 3, "SUBSCRIBE", "news.tech", "news.art", "weather");
        SendAndRead(b, 1, "SUBSCRIBE", "news.tech");
        SendAndRead(b, 1, "PSUBSCRIBE", "news.*");
        Assert.Equal(["news.art", "news.tech", "weather"], Arr(q.Call("PUBSUB", "CHANNELS")).Select(x => (string)x!).Order().ToArray());
        Assert.Equal(["news.art", "news.tech"], Arr(q.Call("pubsub", "channels", "news.*")).Select(x => (string)x!).Order().ToArray());
        Assert.Empty(Arr(q.Call("PUBSUB", "CHANNELS", "nomatch*")));
        // Pattern subscriptions are not counted by NUMSUB.
        Assert.Equal(new object?[] { "news.tech", 2L, "news.art", 1L, "abc", 0L }, Arr(q.Call("PUBSUB", "NUMSUB", "news.tech", "news.art", "abc")));
        Assert.Empty(Arr(q.Call("PUBSUB", "NUMSUB")));
        Assert.Equal(1L, q.Call("PUBSUB", "NUMPAT"));

        Assert.Equal("ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP.", Err(q.Call("PUBSUB", "channels", "a", "b")));
        Assert.Equal("ERR unknown subcommand or wrong number of arguments for 'SHARDchannels'. Try PUBSUB HELP.", Err(q.Call("pubsub", "SHARDchannels", "a", "b")));
        Assert.Equal("ERR wrong number of arguments for 'pubsub|numpat' command", Err(q.Call("PUBSUB", "NUMPAT", "x")));
        Assert.Equal("ERR unknown subcommand 'foo'. Try PUBSUB HELP.", Err(q.Call("PUBSUB", "foo")));
        Assert.Equal("ERR wrong number of arguments for 'pubsub' command", Err(q.Call("PUBSUB")));
        Assert.Equal("ERR wrong number of arguments for 'publish' command", Err(q.Call("PUBLISH", "x")));
        Assert.Equal("ERR wrong number of arguments for 'subscribe' command", Err(q.Call("SUBSCRIBE")));

        var help = Arr(q.Call("PUBSUB", "HELP")).Select(x => (string)x!).ToArray();
        Assert.Equal(14, help.Length);
        Assert.Equal("PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", help[0]);
        Assert.Equal("SHARDNUMSUB [<shardchannel> ...]", help[10]);
        Assert.Equal("    Prints this help.", help[^1]);
    }

    [Fact]
    public void BinaryChannelsAndPayloads()
    {
        using var sub = _server.Connect();
        using var pub = _server.Connect();
        var channel = new byte[] { (byte)'p', 0, 13, 10, 0xff };
        var payload = new byte[] { 0, 1, 2, 13, 10, 0xfe, (byte)'*' };
        sub.SendRaw(RespClient.Encode("SUBSCRIBE", channel));
        Assert.Equal(Encoding.Latin1.GetString(channel), Arr(sub.Read())[1]);
        Assert.Equal(1L, pub.Call("PUBLISH", channel, payload));
        AssertMessage(sub.Read(), "message", Encoding.Latin1.GetString(channel), Encoding.Latin1.GetString(payload));
    }

    [Fact]
    public void MessagesReachManySubscribersInOrder()
    {
        using var server = new ServerProcess();
        var subs = new List<RespClient>();
        try
        {
            for (int i = 0; i < 40; i++)
            {
                var s = server.Connect();
                subs.Add(s);
                Assert.Equal(new object?[] { "subscribe", "fanout", 1L }, Arr(s.Call("SUBSCRIBE", "fanout")));
            }
            using var pub = server.Connect();
            Assert.Equal(new object?[] { "fanout", 40L }, Arr(pub.Call("PUBSUB", "NUMSUB", "fanout")));
            // Pipelined publishes: each subscriber gets all of them, in order.
            var batch = new MemoryStream();
            for (int m = 0; m < 100; m++) batch.Write(RespClient.Encode("PUBLISH", "fanout", "m" + m));
            pub.SendRaw(batch.ToArray());
            for (int m = 0; m < 100; m++) Assert.Equal(40L, pub.Read());
            foreach (var s in subs)
                for (int m = 0; m < 100; m++) AssertMessage(s.Read(), "message", "fanout", "m" + m);
        }
        finally
        {
            foreach (var s in subs) s.Dispose();
        }
    }

    [Fact]
    public void DisconnectedSubscribersAreRemoved()
    {
        using var server = new ServerProcess();
        using var q = server.Connect();
        var a = server.Connect();
        using var b = server.Connect();
        SendAndRead(a, 2, "SUBSCRIBE", "gone", "shared");
        SendAndRead(a, 1, "PSUBSCRIBE", "gone*");
        SendAndRead(a, 1, "SSUBSCRIBE", "goneshard");
        SendAndRead(b, 1, "SUBSCRIBE", "shared");
        Assert.Equal(1L, q.Call("PUBSUB", "NUMPAT"));
        a.Dispose();
        WaitFor(() => q.Call("PUBSUB", "NUMPAT") is 0L);
        WaitFor(() => Arr(q.Call("PUBSUB", "NUMSUB", "shared"))[1] is 1L);
        Assert.Equal(["shared"], Arr(q.Call("PUBSUB", "CHANNELS")).Select(x => (string)x!).ToArray());
        Assert.Empty(Arr(q.Call("PUBSUB", "SHARDCHANNELS")));
        Assert.Equal(0L, q.Call("PUBLISH", "gone", "x"));
        Assert.Equal(1L, q.Call("PUBLISH", "shared", "x"));
        AssertMessage(b.Read(), "message", "shared", "x");
    }

    [Fact]
    public void SubscribeInsideTransaction()
    {
        using var c = _server.Connect();
        Assert.Equal("OK", c.Call("MULTI"));
        Assert.Equal("QUEUED", c.Call("SUBSCRIBE", "ps:tx"));
        Assert.Equal("QUEUED", c.Call("SSUBSCRIBE", "ps:txshard"));
        Assert.Equal("QUEUED", c.Call("PSUBSCRIBE", "ps:tx*"));
        var exec = Arr(c.Call("EXEC"));
        Assert.Equal(new object?[] { "subscribe", "ps:tx", 1L }, exec[0]);
        Assert.Equal("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client", Err(exec[1]));
        Assert.Equal(new object?[] { "psubscribe", "ps:tx*", 2L }, exec[2]);
        // Subscribed by the transaction: now in the subscribed context.
        Assert.Equal(string.Format(ContextError, "multi"), Err(c.Call("MULTI")));
        // Outside EXEC, SSUBSCRIBE is fine.
        Assert.Equal(new object?[] { "ssubscribe", "ps:txshard", 1L }, Arr(c.Call("SSUBSCRIBE", "ps:txshard")));
    }

    [Fact]
    public void ChannelPermissions()
    {
        using var server = new ServerProcess();
        using var admin = server.Connect();
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "psuser", "on", "nopass", "+@all", "~*", "resetchannels", "&news.*", "&lit*"));
        using var c = server.Connect();
        Assert.Equal("OK", c.Call("AUTH", "psuser", "x"));
        const string denied = "NOPERM this user has no permissions to access one of the channels used as arguments";
        Assert.Equal(denied, Err(c.Call("PUBLISH", "sports", "x")));
        Assert.Equal(0L, c.Call("PUBLISH", "news.tech", "x"));
        Assert.Equal(denied, Err(c.Call("SUBSCRIBE", "news.tech", "sports")));
        Assert.Equal(denied, Err(c.Call("SSUBSCRIBE", "sports")));
        // A pattern subscription needs that exact pattern to be granted.
        Assert.Equal(denied, Err(c.Call("PSUBSCRIBE", "news.t*")));
        Assert.Equal(new object?[] { "psubscribe", "lit*", 1L }, Arr(c.Call("PSUBSCRIBE", "lit*")));
        Assert.Equal(new object?[] { "subscribe", "news.tech", 2L }, Arr(c.Call("SUBSCRIBE", "news.tech")));

        // Keeping the granted patterns leaves the subscriber alone.
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "psuser", "&other"));
        Assert.Equal(new object?[] { "pong", "" }, Arr(c.Call("PING")));
        // Revoking what it holds disconnects it.
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "psuser", "resetchannels", "&news.*"));
        Assert.True(c.IsClosedByServer());
        WaitFor(() => admin.Call("PUBSUB", "NUMPAT") is 0L);
        Assert.Equal(new object?[] { "news.tech", 0L }, Arr(admin.Call("PUBSUB", "NUMSUB", "news.tech")));
    }

    [Fact]
    public void AclChangesKillOnlySubscribersTheyNoLongerAllow()
    {
        using var server = new ServerProcess();
        using var admin = server.Connect();
        admin.Call("ACL", "SETUSER", "psu", "on", ">pw", "+@all", "resetchannels", "&foo:1", "&bar:*", "&orders");
        using var kept = server.Connect();
        Assert.Equal("OK", kept.Call("AUTH", "psu", "pw"));
        kept.Call("SUBSCRIBE", "foo:1");
        kept.Call("SSUBSCRIBE", "orders");
        kept.Call("PSUBSCRIBE", "bar:*");
        // More patterns, then every channel: nothing held is revoked.
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "psu", "resetchannels", "&foo:1", "&bar:*", "&orders", "&baz:qaz"));
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "psu", "allchannels"));
        Assert.Equal(new object?[] { "pong", "" }, Arr(kept.Call("PING")));

        // Taking "every channel" away again kills a subscriber of a shard channel too.
        using var shard = server.Connect();
        Assert.Equal("OK", shard.Call("AUTH", "psu", "pw"));
        shard.Call("SSUBSCRIBE", "anything");
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "psu", "resetchannels", "&foo:1", "&bar:*", "&orders"));
        Assert.True(shard.IsClosedByServer());
        Assert.Equal(new object?[] { "pong", "" }, Arr(kept.Call("PING")));
        Assert.Equal("OK", admin.Call("ACL", "SETUSER", "psu", "resetchannels"));
        Assert.True(kept.IsClosedByServer());
    }

    [Fact]
    public void PythonRedisClientPubSub()
    {
        string? python = FindPythonWithRedis();
        Assert.True(python != null, "python3 with the redis package is required (scripts/test installs python3-redis)");
        const string script = """
import sys, time, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
p = r.pubsub()
p.subscribe("py:news")
p.psubscribe("py:*")
got = []
deadline = time.time() + 5
while len(got) < 2 and time.time() < deadline:
    m = p.get_message(timeout=0.2)
    if m: got.append((m["type"], m["channel"], m["data"]))
assert got == [("subscribe", b"py:news", 1), ("psubscribe", b"py:*", 2)], got
assert r.publish("py:news", "hello") == 2
assert r.pubsub_numsub("py:news") == [(b"py:news", 1)]
assert r.pubsub_numpat() == 1
msgs = []
deadline = time.time() + 5
while len(msgs) < 2 and time.time() < deadline:
    m = p.get_message(timeout=0.2)
    if m: msgs.append((m["type"], m.get("pattern"), m["channel"], m["data"]))
assert msgs == [("message", None, b"py:news", b"hello"), ("pmessage", b"py:*", b"py:news", b"hello")], msgs
p.unsubscribe()
p.punsubscribe()
p.close()
# The unsubscribes travel on another connection than PUBLISH: nothing orders the two, so wait.
deadline = time.time() + 5
while r.publish("py:news", "x") != 0:
    assert time.time() < deadline, "still subscribed after unsubscribe and close"
    time.sleep(0.02)
print("ok")
""";
        var psi = new ProcessStartInfo(python!) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(_server.Port.ToString());
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(30000));
        Assert.True(p.ExitCode == 0, stderr);
        Assert.Equal("ok", stdout.Trim());
    }

    private static string? FindPythonWithRedis()
    {
        foreach (var candidate in new[] { "python3", "/usr/bin/python3" })
        {
            try
            {
                var psi = new ProcessStartInfo(candidate) { RedirectStandardOutput = true, RedirectStandardError = true };
                psi.ArgumentList.Add("-c");
                psi.ArgumentList.Add("import redis");
                using var p = Process.Start(psi)!;
                p.WaitForExit(10000);
                if (p.ExitCode == 0) return candidate;
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }
        return null;
    }

    /// <summary>A RESP reader that reports each reply's type byte, to tell RESP3 pushes from arrays.</summary>
    private sealed class RawResp : IDisposable
    {
        private readonly TcpClient _tcp;
        private readonly BufferedStream _in;

        public RawResp(int port)
        {
            _tcp = new TcpClient("127.0.0.1", port) { NoDelay = true, ReceiveTimeout = 10000 };
            _in = new BufferedStream(_tcp.GetStream());
        }

        public void Send(params object[] args) => _tcp.GetStream().Write(RespClient.Encode(args));

        public (char Type, object? Value) ReadRaw()
        {
            char type = (char)_in.ReadByte();
            string line = Line();
            switch (type)
            {
                case '+': case '-': return (type, line);
                case ':': return (type, long.Parse(line));
                case '_': return (type, null);
                case '$':
                {
                    int len = int.Parse(line);
                    if (len < 0) return (type, null);
                    var buf = new byte[len];
                    _in.ReadExactly(buf);
                    Line();
                    return (type, Encoding.Latin1.GetString(buf));
                }
                case '*': case '>': case '~': case '%':
                {
                    int n = int.Parse(line) * (type == '%' ? 2 : 1);
                    var items = new object?[n];
                    for (int i = 0; i < n; i++) items[i] = ReadRaw().Value;
                    return (type, items);
                }
                default: throw new InvalidDataException($"unexpected type '{type}'");
            }
        }

        /// <summary>The exact bytes of the next reply, which must be <paramref name="elements"/> single-line or short bulk items.</summary>
        public string ReadRawText(int elements)
        {
            var sb = new StringBuilder(Line() + "\r\n");
            for (int i = 0; i < elements; i++)
            {
                string l = Line();
                sb.Append(l).Append("\r\n");
                if (l[0] == '$' && l != "$-1") sb.Append(Line()).Append("\r\n");
            }
            return sb.ToString();
        }

        private string Line()
        {
            var sb = new StringBuilder();
            while (true)
            {
                int b = _in.ReadByte();
                if (b < 0) throw new EndOfStreamException();
                if (b == '\r') { _in.ReadByte(); return sb.ToString(); }
                sb.Append((char)b);
            }
        }

        public void Dispose() => _tcp.Dispose();
    }
}
