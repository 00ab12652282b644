namespace Redoubt.Server.Commands;

/// <summary>MONITOR: the client then receives every command the server executes (see RedisServer.FeedMonitors).</summary>
public static class MonitorCommands
{
    public static void Bind(CommandTable t) => t.Bind("monitor", Monitor);

    private static void Monitor(Client c)
    {
        // A client that expects exactly one reply per command (inside EXEC, a script) cannot stream.
        if (c.DenyBlocking)
        {
            c.Reply.Error("MONITOR isn't allowed for DENY BLOCKING client");
            return;
        }
        // Already a monitor or a replica: nothing to do, and no reply.
        if ((c.Flags & (ClientFlags.Monitor | ClientFlags.Replica)) != 0) return;
        c.Flags |= ClientFlags.Monitor;
        c.Server.Monitors.Add(c);
        c.Reply.Ok();
    }
}
