using System.Diagnostics;
using Redoubt.Server.Propagation;

namespace Redoubt.Server.Scripting;

/// <summary>Flags a script declares on its shebang line (<c>#!lua flags=...</c>) or a function on registration.</summary>
[Flags]
public enum ScriptFlags
{
    None = 0,
    NoWrites = 1 << 0,
    AllowOom = 1 << 1,
    AllowStale = 1 << 2,
    NoCluster = 1 << 3,
    /// <summary>An EVAL script without a shebang: the pre-7.0 rules (writes and OOM checked per command).</summary>
    EvalCompatMode = 1 << 4,
    AllowCrossSlotKeys = 1 << 5,
}

/// <summary>What a script or function run may do and has done (Redis's scriptRunCtx flags).</summary>
[Flags]
public enum ScriptRunFlags
{
    None = 0,
    /// <summary>EVAL_RO/FCALL_RO, or a script declared no-writes: write commands are refused.</summary>
    ReadOnly = 1 << 0,
    /// <summary>A write command already ran: later checks on server state no longer refuse writes.</summary>
    WriteDirty = 1 << 1,
    AllowOom = 1 << 2,
    /// <summary>EVAL/EVALSHA (as opposed to FCALL): chooses SCRIPT KILL over FUNCTION KILL and the log lines.</summary>
    EvalMode = 1 << 3,
    /// <summary>Ran past busy-reply-threshold: other clients get -BUSY.</summary>
    TimedOut = 1 << 4,
    Killed = 1 << 5,
}

/// <summary>One running script or function: its caller, name, flags and replication target.</summary>
public sealed class ScriptRun
{
    public Client Caller = null!;
    /// <summary>The SHA1 of an EVAL script, or the function's name.</summary>
    public string Name = "";
    public ScriptRunFlags Flags;
    /// <summary>Set by SCRIPT KILL / FUNCTION KILL from another thread; read by the script's hook.</summary>
    public volatile bool KillRequested;
    public PropagationTarget ReplTarget = PropagationTarget.All;
    public long StartTimestamp;

    /// <summary>Makes this (reused) object describe a new run.</summary>
    public ScriptRun Reset(Client caller, string name, ScriptRunFlags flags)
    {
        Caller = caller;
        Name = name;
        Flags = flags;
        KillRequested = false;
        ReplTarget = PropagationTarget.All;
        StartTimestamp = Stopwatch.GetTimestamp();
        return this;
    }

    public bool Has(ScriptRunFlags f) => (Flags & f) != 0;

    public long ElapsedMs => (long)Stopwatch.GetElapsedTime(StartTimestamp).TotalMilliseconds;

    public static readonly (ScriptFlags Flag, string Name)[] FlagNames =
    [
        (ScriptFlags.NoWrites, "no-writes"),
        (ScriptFlags.AllowOom, "allow-oom"),
        (ScriptFlags.AllowStale, "allow-stale"),
        (ScriptFlags.NoCluster, "no-cluster"),
        (ScriptFlags.AllowCrossSlotKeys, "allow-cross-slot-keys"),
    ];

    public static ScriptFlags? ParseFlag(string name)
    {
        foreach (var (flag, n) in FlagNames) if (n == name) return flag;
        return null;
    }
}
