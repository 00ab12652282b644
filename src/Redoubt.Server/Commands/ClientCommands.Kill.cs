using System.Text;
using Redoubt.Server.Config;
using Redoubt.Server.Protocol;
using Redoubt.Server.Security;

namespace Redoubt.Server.Commands;

public static partial class ClientCommands
{
    /// <summary>
    /// CLIENT KILL ip:port (old form: "No such client" or OK, and may kill the caller) or
    /// CLIENT KILL [ID id] [TYPE type] [USER name] [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no]
    /// (new form: the number killed; the caller is skipped unless SKIPME no). Other clients are
    /// disconnected at once; the caller is closed after its reply.
    /// </summary>
    private static void Kill(Client c)
    {
        string? addr = null, laddr = null;
        AclUser? user = null;
        ClientType? type = null;
        long id = 0;
        bool skipMe = true;
        if (c.Argc == 3)
        {
            addr = Encoding.Latin1.GetString(c.Arg(2));
            skipMe = false; // the old form can kill the caller
        }
        else
        {
            for (int i = 2; i < c.Argc; i += 2)
            {
                bool moreArgs = c.Argc > i + 1;
                if (c.ArgIs(i, "id"u8) && moreArgs)
                {
                    if (!NumberParser.TryParseInt64(c.Arg(i + 1), out id) || id < 1)
                    {
                        c.Reply.Error("client-id should be greater than 0");
                        return;
                    }
                }
                else if (c.ArgIs(i, "type"u8) && moreArgs)
                {
                    string name = Encoding.Latin1.GetString(c.Arg(i + 1));
                    type = ServerConfig.ParseClientType(name);
                    if (type is null)
                    {
                        c.Reply.Error($"Unknown client type '{name}'");
                        return;
                    }
                }
                else if (c.ArgIs(i, "addr"u8) && moreArgs) addr = Encoding.Latin1.GetString(c.Arg(i + 1));
                else if (c.ArgIs(i, "laddr"u8) && moreArgs) laddr = Encoding.Latin1.GetString(c.Arg(i + 1));
                else if (c.ArgIs(i, "user"u8) && moreArgs)
                {
                    string name = Encoding.Latin1.GetString(c.Arg(i + 1));
                    if (!c.Server.Acl.Users.TryGetValue(name, out user))
                    {
                        c.Reply.Error($"No such user '{name}'");
                        return;
                    }
                }
                else if (c.ArgIs(i, "skipme"u8) && moreArgs)
                {
                    if (c.ArgIs(i + 1, "yes"u8)) skipMe = true;
                    else if (c.ArgIs(i + 1, "no"u8)) skipMe = false;
                    else
                    {
                        c.SyntaxError();
                        return;
                    }
                }
                else
                {
                    c.SyntaxError();
                    return;
                }
            }
        }

        var server = c.Server;
        int killed = 0;
        bool closeSelf = false;
        var victims = new List<Client>();
        foreach (var cl in server.ClientsInOrder())
        {
            if (addr != null && cl.Address != addr) continue;
            if (laddr != null && cl.LocalAddress != laddr) continue;
            if (type != null && RedisServer.GetClientType(cl) != type) continue;
            if (id != 0 && cl.Id != id) continue;
            if (user != null && cl.User != user) continue;
            if (cl == c && skipMe) continue;
            if (cl == c) closeSelf = true;
            else victims.Add(cl);
            killed++;
        }
        foreach (var v in victims) server.KillClient(v);

        if (c.Argc == 3)
        {
            if (killed == 0) c.Reply.Error("No such client");
            else c.Reply.Ok();
        }
        else c.Reply.Integer(killed);
        // Flagged only after the reply is queued, so the caller still gets it.
        if (closeSelf) c.Flags |= ClientFlags.CloseAfterReply;
    }
}
