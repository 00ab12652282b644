namespace Redoubt.Server.Commands;

/// <summary>WATCH / UNWATCH (multi.c): optimistic locking for MULTI/EXEC, backed by <see cref="WatchRegistry"/>.</summary>
public static partial class KeyspaceCommands
{
    private static void BindWatch(CommandTable t)
    {
        t.Bind("watch", Watch);
        t.Bind("unwatch", Unwatch);
    }

    private static void Watch(Client c)
    {
        if (c.InMulti)
        {
            c.Reply.Error("WATCH inside MULTI is not allowed");
            return;
        }
        // Already doomed: EXEC will fail whatever else is watched.
        if ((c.Flags & ClientFlags.DirtyCas) == 0)
            for (int i = 1; i < c.Argc; i++) c.Server.Watches.Watch(c, c.Db, c.Arg(i));
        c.Reply.Ok();
    }

    private static void Unwatch(Client c)
    {
        c.Server.Watches.UnwatchAll(c);
        c.Flags &= ~ClientFlags.DirtyCas;
        c.Reply.Ok();
    }
}
