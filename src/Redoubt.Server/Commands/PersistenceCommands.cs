namespace Redoubt.Server.Commands;

/// <summary>SAVE, BGSAVE and LASTSAVE (the machinery is in RedisServer.Persistence.cs and Persistence/Snapshot*.cs).</summary>
public static class PersistenceCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("save", Save);
        t.Bind("bgsave", BgSave);
        t.Bind("lastsave", c => c.Reply.Integer(c.Server.PersistenceStatus.LastSaveUnix));
    }

    /// <summary>SAVE: the whole snapshot written now, with every other client waiting.</summary>
    private static void Save(Client c)
    {
        var server = c.Server;
        if (server.ActiveSnapshot != null)
        {
            c.Reply.Error("Background save already in progress");
            return;
        }
        server.PersistenceStatus.RdbSaves++;
        if (server.SaveNow() is null) c.Reply.Ok();
        else c.Reply.Error("-ERR");
    }

    /// <summary>BGSAVE [SCHEDULE]</summary>
    private static void BgSave(Client c)
    {
        bool schedule = false;
        if (c.Argc > 1)
        {
            if (c.Argc == 2 && c.ArgIs(1, "schedule"u8)) schedule = true;
            else
            {
                c.SyntaxError();
                return;
            }
        }
        var server = c.Server;
        if (server.ActiveSnapshot != null)
        {
            c.Reply.Error("Background save already in progress");
        }
        else if (server.AofRewriteRunning?.Invoke() == true || c.InExec)
        {
            // Inside EXEC a save would see the transaction half done, as Redis avoids: it runs from the cron.
            if (schedule || c.InExec)
            {
                server.BgsaveScheduled = true;
                c.Reply.Simple("Background saving scheduled"u8);
            }
            else
            {
                c.Reply.Error("Another child process is active (AOF?): can't BGSAVE right now. " +
                    "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
            }
        }
        else if (server.BackgroundSave() is null)
        {
            c.Reply.Simple("Background saving started"u8);
        }
        else
        {
            c.Reply.Error("-ERR");
        }
    }
}
