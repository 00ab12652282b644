using Redoubt.Server.PubSub;

namespace Redoubt.Server;

public sealed partial class Client
{
    /// <summary>This client's subscriptions; null until it first subscribes to something.</summary>
    public ClientSubscriptions? Subscriptions;

    /// <summary>Messages were written to this client and a flush is already scheduled for it.</summary>
    internal bool PubSubFlushPending;
}
