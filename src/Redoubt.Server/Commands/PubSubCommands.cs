using System.Text;
using Redoubt.Server.PubSub;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their unsubscribes, PUBLISH, SPUBLISH and PUBSUB. Channel
/// permissions are checked by the gate's ACL check (the channel arguments of these commands).
/// </summary>
public static class PubSubCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("subscribe", Subscribe);
        t.Bind("unsubscribe", Unsubscribe);
        t.Bind("psubscribe", PSubscribe);
        t.Bind("punsubscribe", PUnsubscribe);
        t.Bind("ssubscribe", SSubscribe);
        t.Bind("sunsubscribe", SUnsubscribe);
        t.Bind("publish", Publish);
        t.Bind("spublish", SPublish);
        t.Bind("pubsub|channels", Channels);
        t.Bind("pubsub|shardchannels", ShardChannels);
        t.Bind("pubsub|numsub", NumSub);
        t.Bind("pubsub|shardnumsub", ShardNumSub);
        t.Bind("pubsub|numpat", c => c.Reply.Integer(c.Server.PubSub.PatternCount));
        t.Bind("pubsub|help", Help);
    }

    // SUBSCRIBE and PSUBSCRIBE are refused to deny-blocking clients except inside a transaction; they
    // cannot run in scripts, so EXEC is the only such context here and they are always allowed.
    private static void Subscribe(Client c)
    {
        var registry = c.Server.PubSub;
        for (int i = 1; i < c.Argc; i++) registry.Subscribe(c, c.Arg(i), shard: false);
    }

    private static void PSubscribe(Client c)
    {
        var registry = c.Server.PubSub;
        for (int i = 1; i < c.Argc; i++) registry.SubscribePattern(c, c.Arg(i));
    }

    private static void SSubscribe(Client c)
    {
        if ((c.Flags & ClientFlags.DenyBlocking) != 0)
        {
            c.Reply.Error("SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
            return;
        }
        var registry = c.Server.PubSub;
        for (int i = 1; i < c.Argc; i++) registry.Subscribe(c, c.Arg(i), shard: true);
    }

    private static void Unsubscribe(Client c) => UnsubscribeChannels(c, shard: false);

    private static void SUnsubscribe(Client c) => UnsubscribeChannels(c, shard: true);

    private static void UnsubscribeChannels(Client c, bool shard)
    {
        var registry = c.Server.PubSub;
        if (c.Argc == 1) registry.UnsubscribeAll(c, shard, notify: true);
        else
            for (int i = 1; i < c.Argc; i++) registry.Unsubscribe(c, c.Arg(i), shard, notify: true);
        PubSubRegistry.ClearFlagIfIdle(c);
    }

    private static void PUnsubscribe(Client c)
    {
        var registry = c.Server.PubSub;
        if (c.Argc == 1) registry.UnsubscribeAllPatterns(c, notify: true);
        else
            for (int i = 1; i < c.Argc; i++) registry.UnsubscribePattern(c, c.Arg(i), notify: true);
        PubSubRegistry.ClearFlagIfIdle(c);
    }

    /// <summary>PUBLISH reaches replicas (their subscribers hear it too), never the AOF.</summary>
    private static void Publish(Client c)
    {
        c.Reply.Integer(c.Server.PubSub.Publish(c.Arg(1), c.Arg(2), shard: false));
        c.ForcePropagation(Propagation.PropagationTarget.Replication);
    }

    private static void SPublish(Client c)
    {
        c.Reply.Integer(c.Server.PubSub.Publish(c.Arg(1), c.Arg(2), shard: true));
        c.ForcePropagation(Propagation.PropagationTarget.Replication);
    }

    private static void Channels(Client c) => ListChannels(c, c.Server.PubSub.ChannelNames);

    private static void ShardChannels(Client c) => ListChannels(c, c.Server.PubSub.ShardChannelNames);

    /// <summary>PUBSUB CHANNELS / SHARDCHANNELS [pattern]: the active channels matching the pattern.</summary>
    private static void ListChannels(Client c, IEnumerable<byte[]> names)
    {
        if (c.Argc > 3)
        {
            SubcommandSyntaxError(c);
            return;
        }
        var r = c.Reply;
        int mark = r.BeginDeferred();
        long n = 0;
        foreach (var name in names)
        {
            if (c.Argc == 3 && !GlobMatcher.Match(c.Arg(2), name)) continue;
            r.Bulk(name);
            n++;
        }
        r.EndDeferred(mark, n);
    }

    private static void NumSub(Client c) => CountSubscribers(c, shard: false);

    private static void ShardNumSub(Client c) => CountSubscribers(c, shard: true);

    /// <summary>PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: a flat array of channel, count (patterns not counted).</summary>
    private static void CountSubscribers(Client c, bool shard)
    {
        var registry = c.Server.PubSub;
        c.Reply.ArrayHeader((c.Argc - 2) * 2L);
        for (int i = 2; i < c.Argc; i++)
        {
            c.Reply.Bulk(c.Arg(i));
            c.Reply.Integer(registry.SubscriberCount(c.Arg(i), shard));
        }
    }

    private static void SubcommandSyntaxError(Client c)
    {
        string sub = Encoding.Latin1.GetString(c.Arg(1));
        if (sub.Length > 128) sub = sub[..128];
        c.Reply.Error($"unknown subcommand or wrong number of arguments for '{sub}'. Try {Encoding.Latin1.GetString(c.Arg(0)).ToUpperInvariant()} HELP.");
    }

    private static readonly string[] HelpLines =
    [
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
    ];

    private static void Help(Client c)
    {
        c.Reply.ArrayHeader(HelpLines.Length + 3);
        c.Reply.Simple($"{Encoding.Latin1.GetString(c.Arg(0)).ToUpperInvariant()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        foreach (var line in HelpLines) c.Reply.Simple(line);
        c.Reply.Simple("HELP");
        c.Reply.Simple("    Prints this help.");
    }
}
