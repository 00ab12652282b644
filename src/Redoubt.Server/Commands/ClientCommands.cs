using System.Text;
using Redoubt.Server.Config;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Commands;

/// <summary>
/// CLIENT subcommands (connection management). Killing is in ClientCommands.Kill.cs, client-side
/// caching (TRACKING, CACHING, GETREDIR, TRACKINGINFO) in ClientCommands.Tracking.cs.
/// </summary>
public static partial class ClientCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("client|help", Help);
        t.Bind("client|id", c => c.Reply.Integer(c.Id));
        t.Bind("client|info", Info);
        t.Bind("client|list", List);
        t.Bind("client|kill", Kill);
        t.Bind("client|setname", SetName);
        t.Bind("client|getname", GetName);
        t.Bind("client|pause", Pause);
        t.Bind("client|unpause", Unpause);
        t.Bind("client|reply", SetReplyMode);
        t.Bind("client|no-evict", NoEvict);
        t.Bind("client|unblock", Unblock);
        BindTracking(t);
    }

    private static readonly string[] HelpLines =
    [
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
    ];

    private static void Help(Client c) => WriteHelp(c, HelpLines);

    /// <summary>Redis's help reply: a header naming the command, the lines, and the HELP entry, all as status replies.</summary>
    public static void WriteHelp(Client c, string[] lines)
    {
        var r = c.Reply;
        r.ArrayHeader(lines.Length + 3);
        r.Simple($"{Encoding.Latin1.GetString(c.Arg(0)).ToUpperInvariant()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        foreach (var line in lines) r.Simple(line);
        r.Simple("HELP"u8);
        r.Simple("    Prints this help."u8);
    }

    /// <summary>The error for a known subcommand called with the wrong arguments.</summary>
    public static void SubcommandSyntaxError(Client c)
    {
        string sub = Encoding.Latin1.GetString(c.Arg(1));
        if (sub.Length > 128) sub = sub[..128];
        c.Reply.Error($"unknown subcommand or wrong number of arguments for '{sub}'. Try {Encoding.Latin1.GetString(c.Arg(0)).ToUpperInvariant()} HELP.");
    }

    private static void Info(Client c)
    {
        var sb = ClientInfo.Append(new StringBuilder(256), c.Server, c).Append('\n');
        c.Reply.Verbatim(sb.ToString());
    }

    /// <summary>CLIENT LIST [TYPE type] | [ID id ...].</summary>
    private static void List(Client c)
    {
        var server = c.Server;
        var sb = new StringBuilder();
        if (c.Argc == 4 && c.ArgIs(2, "type"u8))
        {
            var type = ServerConfig.ParseClientType(Encoding.Latin1.GetString(c.Arg(3)));
            if (type is null)
            {
                c.Reply.Error($"Unknown client type '{Encoding.Latin1.GetString(c.Arg(3))}'");
                return;
            }
            foreach (var cl in server.ClientsInOrder())
                if (RedisServer.GetClientType(cl) == type) ClientInfo.Append(sb, server, cl).Append('\n');
        }
        else if (c.Argc > 3 && c.ArgIs(2, "id"u8))
        {
            for (int j = 3; j < c.Argc; j++)
            {
                if (!NumberParser.TryParseInt64(c.Arg(j), out long id))
                {
                    c.Reply.Error("Invalid client ID");
                    return;
                }
                if (server.LookupClient(id) is { } cl) ClientInfo.Append(sb, server, cl).Append('\n');
            }
        }
        else if (c.Argc != 2)
        {
            c.SyntaxError();
            return;
        }
        else
        {
            foreach (var cl in server.ClientsInOrder()) ClientInfo.Append(sb, server, cl).Append('\n');
        }
        c.Reply.Verbatim(sb.ToString());
    }

    private static void SetName(Client c)
    {
        var name = c.Arg(2);
        if (name.Length == 0)
        {
            c.Name = null;
            c.Reply.Ok();
            return;
        }
        if (ServerCommandsClient.ValidateName(Encoding.Latin1.GetString(name)) is string err)
        {
            c.Reply.Error(err);
            return;
        }
        c.Name = Encoding.Latin1.GetString(name);
        c.Reply.Ok();
    }

    private static void GetName(Client c)
    {
        if (c.Name is null) c.Reply.Null();
        else c.Reply.Bulk(Encoding.Latin1.GetBytes(c.Name));
    }

    /// <summary>CLIENT PAUSE timeout [WRITE|ALL]: timeout in milliseconds from now.</summary>
    private static void Pause(Client c)
    {
        if (c.Argc != 3 && c.Argc != 4)
        {
            SubcommandSyntaxError(c);
            return;
        }
        var type = PauseType.All;
        if (c.Argc == 4)
        {
            if (c.ArgIs(3, "write"u8)) type = PauseType.Write;
            else if (c.ArgIs(3, "all"u8)) type = PauseType.All;
            else
            {
                c.Reply.Error("CLIENT PAUSE mode must be WRITE or ALL");
                return;
            }
        }
        if (!TryGetTimeoutMs(c, 2, out long end)) return;
        c.Server.PauseClients(PausePurpose.ClientCommand, end, type);
        c.Reply.Ok();
    }

    /// <summary>A millisecond timeout turned into an absolute unix time (0 stays 0), with Redis's errors.</summary>
    internal static bool TryGetTimeoutMs(Client c, int arg, out long end)
    {
        end = 0;
        if (!c.TryGetLong(arg, out long ms, "timeout is not an integer or out of range")) return false;
        if (ms < 0)
        {
            c.Reply.Error("timeout is negative");
            return false;
        }
        // As in Redis, a huge timeout wraps around and so ends at once.
        if (ms > 0) ms = unchecked(ms + c.Server.NowMs);
        end = ms;
        return true;
    }

    private static void Unpause(Client c)
    {
        c.Server.UnpauseClients(PausePurpose.ClientCommand);
        c.Reply.Ok();
    }

    /// <summary>
    /// CLIENT REPLY ON|OFF|SKIP. OFF and SKIP take effect through the gate, which drops the replies of
    /// a command run while the mode is OFF or SKIP; SKIP applies to the next command only.
    /// </summary>
    private static void SetReplyMode(Client c)
    {
        if (c.ArgIs(2, "on"u8))
        {
            c.ReplyMode = Redoubt.Server.ReplyMode.On;
            c.Reply.Ok();
        }
        else if (c.ArgIs(2, "off"u8))
        {
            c.ReplyMode = Redoubt.Server.ReplyMode.Off;
        }
        else if (c.ArgIs(2, "skip"u8))
        {
            if (c.ReplyMode != Redoubt.Server.ReplyMode.Off) c.ReplyMode = Redoubt.Server.ReplyMode.SkipNext;
        }
        else c.SyntaxError();
    }

    private static void NoEvict(Client c)
    {
        if (c.ArgIs(2, "on"u8)) c.Flags |= ClientFlags.NoEvict;
        else if (c.ArgIs(2, "off"u8)) c.Flags &= ~ClientFlags.NoEvict;
        else
        {
            c.SyntaxError();
            return;
        }
        c.Reply.Ok();
    }

    /// <summary>
    /// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when the client was blocked and has been released (by the
    /// blocking subsystem's handler), 0 otherwise.
    /// </summary>
    private static void Unblock(Client c)
    {
        if (c.Argc != 3 && c.Argc != 4)
        {
            SubcommandSyntaxError(c);
            return;
        }
        bool error = false;
        if (c.Argc == 4)
        {
            if (c.ArgIs(3, "timeout"u8)) error = false;
            else if (c.ArgIs(3, "error"u8)) error = true;
            else
            {
                c.Reply.Error("CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                return;
            }
        }
        if (!c.TryGetLong(2, out long id)) return;
        var server = c.Server;
        var target = server.LookupClient(id);
        bool unblocked = target != null && (target.Flags & ClientFlags.Blocked) != 0
            && server.ClientUnblockHandler is { } handler && handler(target, error);
        c.Reply.Integer(unblocked ? 1 : 0);
    }
}
