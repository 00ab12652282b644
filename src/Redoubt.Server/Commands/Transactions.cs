namespace Redoubt.Server.Commands;

/// <summary>MULTI/EXEC/DISCARD: commands are queued after the gate's checks and run back to back under the server lock.</summary>
public static class Transactions
{
    public static void Bind(CommandTable t)
    {
        t.Bind("multi", Multi);
        t.Bind("exec", ExecHandler);
        t.Bind("discard", Discard);
    }

    /// <summary>EXEC's handler: propagation recognizes it (EXEC is never propagated itself).</summary>
    internal static readonly CommandHandler ExecHandler = Exec;

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
        // EXEC's own arguments are needed again afterwards (MONITOR shows "exec", SLOWLOG, replication).
        var execArgs = c.CopyArgs();
        // Queued commands must each give one reply now: nothing may block.
        bool denied = (c.Flags & ClientFlags.DenyBlocking) != 0;
        c.Flags |= ClientFlags.DenyBlocking;
        foreach (var (cmd, argv) in queue)
        {
            c.SetArgs(argv);
            c.Cmd = cmd;
            // The user's rules may have changed since the command was queued.
            if (c.Server.Acl.CheckQueuedCommand(c, cmd) is string aclError)
            {
                c.Reply.Error(aclError);
                continue;
            }
            ExecutionGate.Call(c, cmd);
        }
        if (!denied) c.Flags &= ~ClientFlags.DenyBlocking;
        c.SetArgs(execArgs);
    }
}
