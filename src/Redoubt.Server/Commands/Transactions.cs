namespace Redoubt.Server.Commands;

/// <summary>MULTI/EXEC/DISCARD: commands are queued after the gate's checks and run back to back under the server lock.</summary>
public static class Transactions
{
    public static void Bind(CommandTable t)
    {
        t.Bind("multi", Multi);
        t.Bind("exec", Exec);
        t.Bind("discard", Discard);
    }

    internal static void Queue(Client c, Command cmd)
    {
        (c.MultiQueue ??= new()).Add((cmd, c.CopyArgs()));
        c.Reply.Queued();
    }

    private static void Multi(Client c)
    {
        if (c.InMulti)
        {
            c.Reply.Error("MULTI calls can not be nested");
            return;
        }
        c.Flags |= ClientFlags.Multi;
        c.MultiQueue?.Clear();
        c.Reply.Ok();
    }

    public static void Reset(Client c)
    {
        c.MultiQueue?.Clear();
        c.Flags &= ~(ClientFlags.Multi | ClientFlags.DirtyExec | ClientFlags.DirtyCas);
        c.Server.Watches.UnwatchAll(c);
    }

    private static void Discard(Client c)
    {
        if (!c.InMulti)
        {
            c.Reply.Error("DISCARD without MULTI");
            return;
        }
        Reset(c);
        c.Reply.Ok();
    }

    private static void Exec(Client c)
    {
        if (!c.InMulti)
        {
            c.Reply.Error("EXEC without MULTI");
            return;
        }
        if ((c.Flags & ClientFlags.DirtyExec) != 0)
        {
            Reset(c);
            c.Reply.Error("-EXECABORT Transaction discarded because of previous errors.");
            return;
        }
        if ((c.Flags & ClientFlags.DirtyCas) != 0 || c.Server.Watches.IsDirty(c))
        {
            Reset(c);
            c.Reply.NullArray();
            return;
        }
        var queue = c.MultiQueue ?? new();
        c.MultiQueue = null;
        c.Flags &= ~ClientFlags.Multi;
        c.Server.Watches.UnwatchAll(c);
        c.Reply.ArrayHeader(queue.Count);
        int savedArgc = c.Argc;
        // Blocking commands inside the transaction answer as on timeout instead of blocking.
        bool denied = c.DenyBlocking;
        c.DenyBlocking = true;
        foreach (var (cmd, argv) in queue)
        {
            c.SetArgs(argv);
            ExecutionGate.Call(c, cmd);
        }
        c.DenyBlocking = denied;
        c.Argc = savedArgc;
    }
}
