namespace Redoubt.Server.Commands;

/// <summary>SLOWLOG GET [count] / LEN / RESET / HELP.</summary>
public static class SlowlogCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("slowlog|get", Get);
        t.Bind("slowlog|len", c => c.Reply.Integer(c.Server.SlowLog.Count));
        t.Bind("slowlog|reset", Reset);
        t.Bind("slowlog|help", c => ClientCommands.WriteHelp(c, HelpLines));
    }

    private static readonly string[] HelpLines =
    [
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
    ];

    private static void Reset(Client c)
    {
        c.Server.SlowLog.Reset();
        c.Reply.Ok();
    }

    /// <summary>Newest entries first: id, unix time, microseconds, arguments, client address, client name.</summary>
    private static void Get(Client c)
    {
        if (c.Argc > 3)
        {
            ClientCommands.SubcommandSyntaxError(c);
            return;
        }
        var log = c.Server.SlowLog;
        long count = 10;
        if (c.Argc == 3)
        {
            if (!Protocol.NumberParser.TryParseInt64(c.Arg(2), out count) || count < -1)
            {
                c.Reply.Error("count should be greater than or equal to -1");
                return;
            }
            if (count == -1) count = log.Count;
        }
        var r = c.Reply;
        r.ArrayHeader(Math.Min(count, log.Count));
        foreach (var e in log.Entries)
        {
            if (count-- <= 0) break;
            r.ArrayHeader(6);
            r.Integer(e.Id);
            r.Integer(e.UnixSeconds);
            r.Integer(e.DurationMicros);
            r.ArrayHeader(e.Args.Length);
            foreach (var a in e.Args) r.Bulk(a);
            r.Bulk(System.Text.Encoding.Latin1.GetBytes(e.PeerId));
            r.Bulk(System.Text.Encoding.Latin1.GetBytes(e.ClientName));
        }
    }
}
