namespace Redoubt.Server.Commands;

/// <summary>Server administration commands: SHUTDOWN, TIME, and the families in ServerCommands.*.cs.</summary>
public static partial class ServerCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("shutdown", Shutdown);
        t.Bind("time", Time);
        BindMore(t);
    }

    static partial void BindMore(CommandTable t);

    private static void Time(Client c)
    {
        long us = DateTimeOffset.UtcNow.Ticks / 10 - DateTimeOffset.UnixEpoch.Ticks / 10;
        c.Reply.ArrayHeader(2);
        c.Reply.BulkInteger(us / 1_000_000);
        c.Reply.BulkInteger(us % 1_000_000);
    }

    /// <summary>SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT].</summary>
    private static void Shutdown(Client c)
    {
        bool noSave = false, save = false, now = false, force = false, abort = false;
        for (int i = 1; i < c.Argc; i++)
        {
            if (c.ArgIs(i, "nosave"u8)) noSave = true;
            else if (c.ArgIs(i, "save"u8)) save = true;
            else if (c.ArgIs(i, "now"u8)) now = true;
            else if (c.ArgIs(i, "force"u8)) force = true;
            else if (c.ArgIs(i, "abort"u8)) abort = true;
            else
            {
                c.SyntaxError();
                return;
            }
        }
        if ((abort && (noSave || save || now || force)) || (noSave && save))
        {
            c.SyntaxError();
            return;
        }
        if (abort)
        {
            if (c.Server.AbortShutdown()) c.Reply.Ok();
            else c.Reply.Error("No shutdown in progress.");
            return;
        }
        if (!now && c.DenyBlocking)
        {
            c.Reply.Error("SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client");
            return;
        }
        // A script past its time limit: only SHUTDOWN NOSAVE may stop the server.
        if (!noSave && c.Server.ScriptTimedOut)
        {
            c.Reply.Error(c.Server.BusyError);
            return;
        }
        // Like Redis, a successful SHUTDOWN closes the connection without a reply.
        if (c.Server.ShutdownFromCommand(c, noSave, save, now, force) == ShutdownOutcome.Done)
            c.Flags |= ClientFlags.CloseAsap;
    }
}
