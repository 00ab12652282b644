namespace Redoubt.Server;

public sealed partial class Client
{
    /// <summary>What the client waits for while <see cref="ClientFlags.Blocked"/> is set on keys; null otherwise.</summary>
    public Blocking.BlockedRequest? BlockedOn;
}
