namespace Redoubt.Server;

/// <summary>CLIENT PAUSE state: while active, clients' commands wait (all, or only writes in WRITE mode).</summary>
public sealed class ClientPause
{
    public bool Active;
    public bool WritesOnly;
    public long EndMs;

    /// <summary>True when this client's next command must wait (checked before parsing it).</summary>
    public bool ShouldPause(Client c)
    {
        if (!Active) return false;
        if ((c.Flags & (ClientFlags.Replica | ClientFlags.Master)) != 0) return false;
        if (WritesOnly) return false; // decided per command in the gate once the command is known
        return true;
    }
}
