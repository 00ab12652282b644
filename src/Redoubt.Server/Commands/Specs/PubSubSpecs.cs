// Command metadata for the pubsub family (Redis 7.0 semantics).
namespace Redoubt.Server.Commands.Specs;

internal static class PubSubSpecs
{
    public static readonly CommandSpec[] All =
    [
        new("psubscribe", -2, CommandFlags.PubSub | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Sentinel, AclCategories.PubSub | AclCategories.Slow,
            [],
            "pubsub", "2.0.0", "Listen for messages published to channels matching the given patterns", "O(N) where N is the number of patterns the client is already subscribed to."),
        new("publish", 3, CommandFlags.PubSub | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.MayReplicate | CommandFlags.Sentinel, AclCategories.PubSub | AclCategories.Fast,
            [],
            "pubsub", "2.0.0", "Post a message to a channel", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client)."),
        new("pubsub", -2, CommandFlags.None, AclCategories.Slow,
            [],
            "pubsub", "2.8.0", "A container for Pub/Sub commands", "Depends on subcommand.",
            Subcommands:
            [
                new("pubsub|channels", -2, CommandFlags.PubSub | CommandFlags.Loading | CommandFlags.Stale, AclCategories.PubSub | AclCategories.Slow,
                    [],
                    "pubsub", "2.8.0", "List active channels", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)"),
                new("pubsub|help", 2, CommandFlags.Loading | CommandFlags.Stale, AclCategories.Slow,
                    [],
                    "pubsub", "6.2.0", "Show helpful text about the different subcommands", "O(1)"),
                new("pubsub|numpat", 2, CommandFlags.PubSub | CommandFlags.Loading | CommandFlags.Stale, AclCategories.PubSub | AclCategories.Slow,
                    [],
                    "pubsub", "2.8.0", "Get the count of unique patterns pattern subscriptions", "O(1)"),
                new("pubsub|numsub", -2, CommandFlags.PubSub | CommandFlags.Loading | CommandFlags.Stale, AclCategories.PubSub | AclCategories.Slow,
                    [],
                    "pubsub", "2.8.0", "Get the count of subscribers for channels", "O(N) for the NUMSUB subcommand, where N is the number of requested channels"),
                new("pubsub|shardchannels", -2, CommandFlags.PubSub | CommandFlags.Loading | CommandFlags.Stale, AclCategories.PubSub | AclCategories.Slow,
                    [],
                    "pubsub", "7.0.0", "List active shard channels", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels)."),
                new("pubsub|shardnumsub", -2, CommandFlags.PubSub | CommandFlags.Loading | CommandFlags.Stale, AclCategories.PubSub | AclCategories.Slow,
                    [],
                    "pubsub", "7.0.0", "Get the count of subscribers for shard channels", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels"),
            ]),
        new("punsubscribe", -1, CommandFlags.PubSub | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Sentinel, AclCategories.PubSub | AclCategories.Slow,
            [],
            "pubsub", "2.0.0", "Stop listening for messages posted to channels matching the given patterns", "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client)."),
        new("spublish", 3, CommandFlags.PubSub | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.MayReplicate, AclCategories.PubSub | AclCategories.Fast,
            [KeySpec.Range(KeySpecFlags.NotKey, 1)],
            "pubsub", "7.0.0", "Post a message to a shard channel", "O(N) where N is the number of clients subscribed to the receiving shard channel."),
        new("ssubscribe", -2, CommandFlags.PubSub | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale, AclCategories.PubSub | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.NotKey, 1, -1)],
            "pubsub", "7.0.0", "Listen for messages published to the given shard channels", "O(N) where N is the number of shard channels to subscribe to."),
        new("subscribe", -2, CommandFlags.PubSub | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Sentinel, AclCategories.PubSub | AclCategories.Slow,
            [],
            "pubsub", "2.0.0", "Listen for messages published to the given channels", "O(N) where N is the number of channels to subscribe to."),
        new("sunsubscribe", -1, CommandFlags.PubSub | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale, AclCategories.PubSub | AclCategories.Slow,
            [KeySpec.Range(KeySpecFlags.NotKey, 1, -1)],
            "pubsub", "7.0.0", "Stop listening for messages posted to the given shard channels", "O(N) where N is the number of clients already subscribed to a shard channel."),
        new("unsubscribe", -1, CommandFlags.PubSub | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Sentinel, AclCategories.PubSub | AclCategories.Slow,
            [],
            "pubsub", "2.0.0", "Stop listening for messages posted to the given channels", "O(N) where N is the number of clients already subscribed to a channel."),
    ];
}
