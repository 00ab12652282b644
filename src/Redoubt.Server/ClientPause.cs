using Redoubt.Server.Commands;

namespace Redoubt.Server;

/// <summary>What a pause holds back: nothing, commands that may write or replicate, or every command.</summary>
public enum PauseType { Off = 0, Write = 1, All = 2 }

/// <summary>Who asked for a pause; each purpose has its own end time and type, and the strictest wins.</summary>
public enum PausePurpose { ClientCommand = 0, Shutdown = 1, Failover = 2 }

/// <summary>
/// CLIENT PAUSE state. A command is held back in the gate, once it is known, when the pause covers it
/// (ALL: every command; WRITE: commands that may write or replicate, including EVAL without a
/// no-writes shebang, PUBLISH, PFCOUNT, and EXEC of a transaction holding such commands). The client
/// keeps the command in its query buffer and waits in <see cref="Postponed"/>; when the pause ends
/// or becomes less strict, waiting clients run again in the order they were held back.
/// </summary>
public sealed class ClientPause
{
    private readonly (PauseType Type, long EndMs)?[] _perPurpose = new (PauseType, long)?[3];

    /// <summary>The strictest type in force.</summary>
    public PauseType Type { get; private set; }
    /// <summary>The furthest end time (unix ms) among the purposes of the strictest type.</summary>
    public long EndMs { get; private set; }

    public bool Active => Type != PauseType.Off;
    public bool WritesOnly => Type == PauseType.Write;

    /// <summary>Clients holding a postponed command, in the order they were held back.</summary>
    public readonly List<Client> Postponed = new();

    /// <summary>Counted by INFO blocked_clients, as Redis counts postponed clients as blocked.</summary>
    public int PostponedCount => Postponed.Count;

    /// <summary>
    /// The flags that decide whether a command may write. The scripting subsystem replaces this to
    /// report what a script's shebang declares (no-writes scripts are not paused by WRITE).
    /// </summary>
    public Func<Client, Command, CommandFlags> FlagsOf = static (_, cmd) => cmd.Flags;

    /// <summary>True when this client is already waiting for the pause to end.</summary>
    public bool ShouldPause(Client c) => (c.Flags & ClientFlags.Paused) != 0;

    /// <summary>Starts or extends a pause; the type and end only ever grow for a purpose.</summary>
    public void Pause(PausePurpose purpose, long endMs, PauseType type, long nowMs)
    {
        ref var p = ref _perPurpose[(int)purpose];
        p = p is { } old ? (type > old.Type ? type : old.Type, Math.Max(endMs, old.EndMs)) : (type, endMs);
        Update(nowMs);
    }

    /// <summary>Ends one purpose's pause; returns true when waiting clients may now run.</summary>
    public bool Unpause(PausePurpose purpose, long nowMs)
    {
        if (_perPurpose[(int)purpose] is null) return false;
        _perPurpose[(int)purpose] = null;
        return Update(nowMs);
    }

    /// <summary>Drops expired purposes when the end time has passed; returns true when waiting clients may now run.</summary>
    public bool ExpireIfDue(long nowMs) => Active && EndMs < nowMs && Update(nowMs);

    /// <summary>Recomputes the strictest type and its end; true when it became less strict.</summary>
    private bool Update(long nowMs)
    {
        var old = Type;
        var type = PauseType.Off;
        for (int i = 0; i < _perPurpose.Length; i++)
        {
            if (_perPurpose[i] is not { } p) continue;
            if (p.EndMs < nowMs) _perPurpose[i] = null;
            else if (p.Type > type) type = p.Type;
        }
        long end = 0;
        foreach (var p in _perPurpose)
            if (p is { } q && q.Type == type && q.EndMs > end) end = q.EndMs;
        Type = type;
        EndMs = end;
        return type < old;
    }

    /// <summary>Whether the gate must hold this command back (replicas and monitors are never paused).</summary>
    public bool MustPostpone(Client c, Command cmd)
    {
        if ((c.Flags & (ClientFlags.Replica | ClientFlags.Monitor)) != 0) return false;
        if (Type == PauseType.All) return true;
        var flags = FlagsOf(c, cmd);
        if (cmd.Name == "exec" && c.MultiQueue is { Count: > 0 }) flags |= c.MultiCommandFlags;
        return (flags & (CommandFlags.Write | CommandFlags.MayReplicate)) != 0;
    }
}
