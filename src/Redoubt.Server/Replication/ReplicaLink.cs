namespace Redoubt.Server.Replication;

/// <summary>Where a replica attached to us stands (Redis's SLAVE_STATE_*).</summary>
public enum ReplicaState
{
    /// <summary>Waiting for the snapshot that will carry its full resync.</summary>
    WaitBgsave,
    /// <summary>The RDB is being sent.</summary>
    SendBulk,
    /// <summary>Diskless RDB sent; the stream waits for its first REPLCONF ACK.</summary>
    WaitAck,
    /// <summary>Receiving the command stream.</summary>
    Online,
}

/// <summary>The master's record of one replica connection.</summary>
public sealed class ReplicaLink
{
    public required Client Client;
    public ReplicaState State;
    public int ListeningPort;
    public string? AnnouncedIp;
    public bool CapaEof, CapaPsync2;
    /// <summary>Legacy SYNC: no ACKs expected, never timed out.</summary>
    public bool LegacySync;
    public long AckOffset;
    public long AckTimeMs;
    /// <summary>Stream bytes produced after its snapshot point, held until the RDB is sent.</summary>
    public MemoryStream? Pending;
    /// <summary>When it started to wait for a full resync (keepalive newlines while waiting).</summary>
    public long WaitSinceMs;

    public string StateName => State switch
    {
        ReplicaState.WaitBgsave => "wait_bgsave",
        ReplicaState.SendBulk or ReplicaState.WaitAck => "send_bulk",
        _ => "online",
    };

    public string Ip => AnnouncedIp ?? HostOf(Client.Address);

    private static string HostOf(string addr)
    {
        int i = addr.LastIndexOf(':');
        return i > 0 ? addr[..i] : addr;
    }
}
