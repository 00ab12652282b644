using Redoubt.Server.PubSub;

namespace Redoubt.Server;

public sealed partial class RedisServer
{
    /// <summary>Channels, patterns and shard channels with their subscribers.</summary>
    public PubSubRegistry PubSub { get; private set; } = null!;

    /// <summary>
    /// Creates the registry and wires it into the server: keyspace notifications publish through it,
    /// RESET and disconnection drop a client's subscriptions, and ACL changes can see what a client holds.
    /// </summary>
    internal void AttachPubSub()
    {
        var registry = new PubSubRegistry(this);
        PubSub = registry;
        PublishHook = registry.PublishNotification;
        ClientUnlinkedHooks += registry.RemoveAll;
        ResetClientHooks += registry.RemoveAll;
        Acl.ClientSubscriptions = PubSubRegistry.SubscriptionsOf;
    }

    /// <summary>Keyspace hook: a key was created (the "new" event, class 'n', outside 'A').</summary>
    public void OnKeyAdded(Storage.Database db, ReadOnlySpan<byte> key)
    {
        if ((NotifyFlags & KeyspaceEventClass.New) != 0) Notify(KeyspaceEventClass.New, "new", key, db.Id);
    }
}
