namespace Redoubt.Server;

public sealed partial class Client
{
    /// <summary>What the client waits for while <see cref="ClientFlags.Blocked"/> is set on keys; null otherwise.</summary>
    public Blocking.BlockedRequest? BlockedOn;

    /// <summary>
    /// Redis's CLIENT_DENY_BLOCKING: set while EXEC (or a script) runs commands for the client, which
    /// then answer as if their timeout had passed instead of blocking.
    /// </summary>
    public bool DenyBlocking;
}
