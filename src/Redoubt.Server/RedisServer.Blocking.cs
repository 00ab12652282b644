using Redoubt.Server.Blocking;

namespace Redoubt.Server;

/// <summary>The server side of blocking commands: the registry of clients blocked on keys.</summary>
public sealed partial class RedisServer
{
    private BlockingRegistry? _blocking;

    /// <summary>Clients blocked on keys; created on first use, so servers that never block pay nothing.</summary>
    public BlockingRegistry Blocking => _blocking ??= new BlockingRegistry(this);

    /// <summary>Wires the blocking machinery into CLIENT UNBLOCK and SWAPDB (called once when commands are bound).</summary>
    internal void AttachBlocking()
    {
        ClientUnblockHandler = (c, withError) => _blocking != null && _blocking.Unblock(c, withError);
        // Redis's SWAPDB rescans both databases: a key now present may serve clients waiting on it.
        DbSwappedHooks += (a, b) =>
        {
            if (_blocking is not { BlockedClients: > 0 } registry) return;
            registry.ScanDatabaseForReadyKeys(Databases[a]);
            registry.ScanDatabaseForReadyKeys(Databases[b]);
        };
    }

    /// <summary>After a command (a whole MULTI/EXEC): serves clients blocked on keys that became ready.</summary>
    internal void HandleClientsBlockedOnKeys()
    {
        if (_blocking is { HasReadyKeys: true } b) b.HandleReadyKeys();
    }

    /// <summary>After a client's batch of commands: runs the pending input of clients released meanwhile.</summary>
    public void ProcessUnblockedClients() => _blocking?.ProcessUnblockedClients();
}
