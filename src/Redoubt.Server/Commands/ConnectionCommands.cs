using System.Text;

namespace Redoubt.Server.Commands;

/// <summary>PING, ECHO, SELECT, QUIT, AUTH, HELLO, RESET.</summary>
public static class ConnectionCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("ping", Ping);
        t.Bind("echo", c => c.Reply.Bulk(c.Arg(1)));
        t.Bind("select", Select);
        t.Bind("quit", Quit);
        t.Bind("auth", Auth);
        t.Bind("hello", Hello);
        t.Bind("reset", Reset);
    }

    private static void Ping(Client c)
    {
        if (c.Argc > 2)
        {
            c.Reply.Error("wrong number of arguments for 'ping' command");
            return;
        }
        if ((c.Flags & ClientFlags.PubSub) != 0 && c.Reply.Protocol == 2)
        {
            c.Reply.ArrayHeader(2);
            c.Reply.Bulk("pong"u8);
            c.Reply.Bulk(c.Argc == 1 ? ReadOnlySpan<byte>.Empty : c.Arg(1));
            return;
        }
        if (c.Argc == 1) c.Reply.Raw("+PONG\r\n"u8);
        else c.Reply.Bulk(c.Arg(1));
    }

    private static void Select(Client c)
    {
        if (!c.TryGetLong(1, out long id)) return;
        if (c.Server.ClusterEnabled && id != 0)
        {
            c.Reply.Error("SELECT is not allowed in cluster mode");
            return;
        }
        if (!c.Select(id))
        {
            c.Reply.Error("DB index is out of range");
            return;
        }
        c.Reply.Ok();
    }

    private static void Quit(Client c)
    {
        c.Reply.Ok();
        c.Flags |= ClientFlags.CloseAfterReply;
    }

    /// <summary>AUTH [username] password; the one-argument form authenticates the default user.</summary>
    private static void Auth(Client c)
    {
        if (c.Argc > 3)
        {
            c.SyntaxError();
            return;
        }
        // Passwords (and the user name) never show in MONITOR or SLOWLOG.
        c.RedactArg(1);
        if (c.Argc == 3) c.RedactArg(2);
        ReadOnlySpan<byte> user, pass;
        if (c.Argc == 2)
        {
            if (c.Server.Acl.DefaultUser.NoPass)
            {
                c.Reply.Error("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
                return;
            }
            user = "default"u8;
            pass = c.Arg(1);
        }
        else
        {
            user = c.Arg(1);
            pass = c.Arg(2);
        }
        if (TryAuthenticate(c, user, pass)) c.Reply.Ok();
        else c.Reply.Error(WrongPass);
    }

    private const string WrongPass = "-WRONGPASS invalid username-password pair or user is disabled.";

    /// <summary>Authenticates the client as <paramref name="user"/>; failures are counted and logged in ACL LOG.</summary>
    public static bool TryAuthenticate(Client c, ReadOnlySpan<byte> user, ReadOnlySpan<byte> pass)
    {
        var acl = c.Server.Acl;
        var u = acl.Authenticate(user, pass);
        if (u is null)
        {
            acl.LogAuthFailure(c, Encoding.Latin1.GetString(user));
            return false;
        }
        c.User = u;
        c.Authenticated = true;
        return true;
    }

    public static bool TryAuthenticate(Client c, string user, string pass)
        => TryAuthenticate(c, Encoding.Latin1.GetBytes(user), Encoding.Latin1.GetBytes(pass));

    /// <summary>HELLO [protover [AUTH username password] [SETNAME clientname]]: options apply in order as they are read.</summary>
    private static void Hello(Client c)
    {
        long ver = 0;
        int next = 1;
        if (c.Argc >= 2)
        {
            if (!Protocol.NumberParser.TryParseInt64(c.Arg(1), out ver))
            {
                c.Reply.Error("Protocol version is not an integer or out of range");
                return;
            }
            next = 2;
            if (ver < 2 || ver > 3)
            {
                c.Reply.Error("-NOPROTO unsupported protocol version");
                return;
            }
        }
        for (int j = next; j < c.Argc; j++)
        {
            int moreargs = c.Argc - 1 - j;
            if (c.ArgIs(j, "auth"u8) && moreargs >= 2)
            {
                c.RedactArg(j + 1);
                c.RedactArg(j + 2);
                if (!TryAuthenticate(c, c.Arg(j + 1), c.Arg(j + 2)))
                {
                    c.Reply.Error(WrongPass);
                    return;
                }
                j += 2;
            }
            else if (c.ArgIs(j, "setname"u8) && moreargs >= 1)
            {
                string name = c.ArgString(j + 1);
                if (ServerCommandsClient.ValidateName(name) is string err)
                {
                    c.Reply.Error(err);
                    return;
                }
                c.Name = name.Length == 0 ? null : name;
                j++;
            }
            else
            {
                c.Reply.Error($"Syntax error in HELLO option '{c.ArgString(j)}'");
                return;
            }
        }
        if (!c.Authenticated)
        {
            c.Reply.Error("-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
            return;
        }
        if (ver != 0) c.Reply.Protocol = (int)ver;
        var r = c.Reply;
        r.MapHeader(7);
        r.Bulk("server"u8); r.Bulk("redis"u8);
        r.Bulk("version"u8); r.Bulk(Encoding.ASCII.GetBytes(RedisServer.Version));
        r.Bulk("proto"u8); r.Integer(r.Protocol);
        r.Bulk("id"u8); r.Integer(c.Id);
        r.Bulk("mode"u8); r.Bulk(c.Server.ClusterEnabled ? "cluster"u8 : "standalone"u8);
        r.Bulk("role"u8); r.Bulk(c.Server.IsReplica ? "replica"u8 : "master"u8);
        r.Bulk("modules"u8); r.EmptyArray();
    }

    private static void Reset(Client c)
    {
        Transactions.Reset(c);
        c.Server.ResetClientHooks?.Invoke(c);
        c.Select(0);
        c.Reply.Protocol = 2;
        c.Name = null;
        c.ReplyMode = ReplyMode.On;
        c.Flags &= ~(ClientFlags.NoEvict | ClientFlags.NoTouch | ClientFlags.ReadOnly);
        c.User = c.Server.Acl.DefaultUser;
        c.Authenticated = c.User.NoPass && c.User.Enabled;
        c.Reply.Raw("+RESET\r\n"u8);
    }
}
