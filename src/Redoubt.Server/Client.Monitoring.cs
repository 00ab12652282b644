using Redoubt.Server.Commands;

namespace Redoubt.Server;

/// <summary>Per-client state of client management and monitoring: redactions, pause bookkeeping, output buffer limits.</summary>
public sealed partial class Client
{
    // Arguments of the current command that MONITOR and SLOWLOG must show as "(redacted)": a bit per
    // argument for the first 64, a set beyond that (ACL SETUSER can redact many).
    private ulong _redactedLow;
    private HashSet<int>? _redactedHigh;

    /// <summary>Hides argument <paramref name="i"/> of the current command from MONITOR and SLOWLOG (passwords).</summary>
    public void RedactArg(int i)
    {
        if (i < 64) _redactedLow |= 1UL << i;
        else (_redactedHigh ??= new()).Add(i);
    }

    public bool IsArgRedacted(int i)
        => i < 64 ? (_redactedLow & (1UL << i)) != 0 : _redactedHigh != null && _redactedHigh.Contains(i);

    internal bool HasRedactions => _redactedLow != 0 || _redactedHigh is { Count: > 0 };

    internal void ClearRedactions()
    {
        _redactedLow = 0;
        _redactedHigh?.Clear();
    }

    /// <summary>Union of the flags of the commands queued since MULTI (CLIENT PAUSE WRITE pauses EXEC of writes).</summary>
    public CommandFlags MultiCommandFlags;

    /// <summary>Unix seconds when the output buffer first went over its soft limit; 0 when under it.</summary>
    public long OutputSoftLimitReachedAt;

    /// <summary>Largest batch of replies written to the output buffer at once (CLIENT LIST rbp).</summary>
    public long ReplyPeak;
    internal long ReplyPeakResetMs;

    /// <summary>True while a command runs inside EXEC (blocking commands and MONITOR are refused there).</summary>
    public bool InExec => LastCmd is { Name: "exec" } && Cmd != LastCmd;

    /// <summary>A client that expects one reply per command and so cannot block or enter MONITOR (scripts, EXEC).</summary>
    public bool DenyBlocking => Connection is null || InExec;
}
