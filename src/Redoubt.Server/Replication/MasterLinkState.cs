namespace Redoubt.Server.Replication;

/// <summary>
/// Where a replica stands with its master (Redis's REPL_STATE_*). The handshake states are walked in
/// order by <see cref="MasterHandshake"/>; <see cref="Connected"/> means the command stream is applied.
/// </summary>
public enum MasterLinkState
{
    /// <summary>Not a replica.</summary>
    None,
    /// <summary>A replica that must (re)connect: the replication cron starts a handshake.</summary>
    Connect,
    /// <summary>The TCP connect is in progress.</summary>
    Connecting,
    ReceivePingReply,
    SendHandshake,
    ReceiveAuthReply,
    ReceivePortReply,
    ReceiveIpReply,
    ReceiveCapaReply,
    SendPsync,
    ReceivePsyncReply,
    /// <summary>Receiving the RDB of a full resync.</summary>
    Transfer,
    /// <summary>The master's stream is being applied.</summary>
    Connected,
}

public static class MasterLinkStates
{
    /// <summary>Handshake reads wait at most this long (Redis's repl-syncio-timeout).</summary>
    public const int SyncIoTimeoutMs = 5000;

    /// <summary>A replica acknowledges its processed offset this often.</summary>
    public const int AckPeriodMs = 1000;

    /// <summary>The state as ROLE names it.</summary>
    public static string RoleName(MasterLinkState s) => s switch
    {
        MasterLinkState.None => "none",
        MasterLinkState.Connect => "connect",
        MasterLinkState.Connecting => "connecting",
        MasterLinkState.Transfer => "sync",
        MasterLinkState.Connected => "connected",
        _ => "handshake",
    };

    public static bool InHandshake(MasterLinkState s) => s is >= MasterLinkState.ReceivePingReply and <= MasterLinkState.ReceivePsyncReply;
}
