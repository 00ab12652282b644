using System.Security.Cryptography;
using System.Text;
using Redoubt.Server.Security;

namespace Redoubt.Server.Commands;

/// <summary>ACL SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS, LOG, SAVE, LOAD, DRYRUN, HELP.</summary>
public static class AclCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("acl|setuser", SetUser);
        t.Bind("acl|deluser", DelUser);
        t.Bind("acl|getuser", GetUser);
        t.Bind("acl|list", List);
        t.Bind("acl|users", Users);
        t.Bind("acl|whoami", WhoAmI);
        t.Bind("acl|load", Load);
        t.Bind("acl|save", Save);
        t.Bind("acl|cat", Cat);
        t.Bind("acl|genpass", GenPass);
        t.Bind("acl|log", Log);
        t.Bind("acl|dryrun", DryRun);
        t.Bind("acl|help", Help);
    }

    /// <summary>Names, rules and patterns are byte strings: Latin-1 keeps every byte.</summary>
    private static string Latin1Arg(Client c, int i) => Encoding.Latin1.GetString(c.Arg(i));

    private static void BulkLatin1(Client c, string s) => c.Reply.Bulk(Encoding.Latin1.GetBytes(s));

    private static void SubcommandSyntaxError(Client c)
    {
        string sub = c.ArgString(1);
        if (sub.Length > 128) sub = sub[..128];
        c.Reply.Error($"unknown subcommand or wrong number of arguments for '{sub}'. Try {c.ArgString(0).ToUpperInvariant()} HELP.");
    }

    private static void SetUser(Client c)
    {
        string name = Latin1Arg(c, 2);
        if (AclSelector.HasSpaces(name))
        {
            c.Reply.Error("Usernames can't contain spaces or null characters");
            return;
        }
        var ops = new string[c.Argc - 3];
        for (int i = 3; i < c.Argc; i++) ops[i - 3] = Latin1Arg(c, i);
        if (c.Server.Acl.SetUser(name, ops) is string err) c.Reply.Error(err);
        else c.Reply.Ok();
    }

    private static void DelUser(Client c)
    {
        for (int i = 2; i < c.Argc; i++)
        {
            if (c.Arg(i).SequenceEqual("default"u8))
            {
                c.Reply.Error("The 'default' user cannot be removed");
                return;
            }
        }
        int deleted = 0;
        for (int i = 2; i < c.Argc; i++)
            if (c.Server.Acl.DeleteUser(Latin1Arg(c, i), c)) deleted++;
        c.Reply.Integer(deleted);
    }

    private static void GetUser(Client c)
    {
        var u = c.Server.Acl.GetUser(Latin1Arg(c, 2));
        if (u is null)
        {
            c.Reply.Null();
            return;
        }
        var r = c.Reply;
        r.MapHeader(6);
        r.Bulk("flags"u8);
        var flags = u.FlagList().ToList();
        r.SetHeader(flags.Count);
        foreach (var f in flags) r.Bulk(f);
        r.Bulk("passwords"u8);
        r.ArrayHeader(u.Passwords.Count);
        foreach (var p in u.Passwords) r.Bulk(p);
        // The root selector is shown at the top level too, as before selectors existed.
        DescribeSelector(c, u.Root);
        r.Bulk("selectors"u8);
        r.ArrayHeader(u.Selectors.Count - 1);
        for (int i = 1; i < u.Selectors.Count; i++)
        {
            r.MapHeader(3);
            DescribeSelector(c, u.Selectors[i]);
        }
    }

    private static void DescribeSelector(Client c, AclSelector s)
    {
        c.Reply.Bulk("commands"u8);
        BulkLatin1(c, s.DescribeCommandRules());
        c.Reply.Bulk("keys"u8);
        BulkLatin1(c, s.DescribeKeys());
        c.Reply.Bulk("channels"u8);
        BulkLatin1(c, s.DescribeChannels());
    }

    private static void List(Client c)
    {
        var users = c.Server.Acl.Users;
        c.Reply.ArrayHeader(users.Count);
        foreach (var u in users.Values) BulkLatin1(c, "user " + u.Name + " " + u.Describe());
    }

    private static void Users(Client c)
    {
        var users = c.Server.Acl.Users;
        c.Reply.ArrayHeader(users.Count);
        foreach (var u in users.Values) BulkLatin1(c, u.Name);
    }

    private static void WhoAmI(Client c) => BulkLatin1(c, c.User.Name);

    private static bool RequireAclFile(Client c)
    {
        if (c.Server.Config.AclFile.Length > 0) return true;
        c.Reply.Error("This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.");
        return false;
    }

    private static void Load(Client c)
    {
        if (!RequireAclFile(c)) return;
        if (c.Server.Acl.LoadFromFile(c.Server.Config.AclFile, c) is string errors) c.Reply.Error(errors);
        else c.Reply.Ok();
    }

    private static void Save(Client c)
    {
        if (!RequireAclFile(c)) return;
        if (c.Server.Acl.SaveToFile(c.Server.Config.AclFile)) c.Reply.Ok();
        else c.Reply.Error("There was an error trying to save the ACLs. Please check the server logs for more information");
    }

    private static void Cat(Client c)
    {
        if (c.Argc == 2)
        {
            c.Reply.ArrayHeader(AclCommandIndex.CategoryNames.Length);
            foreach (var name in AclCommandIndex.CategoryNames) c.Reply.Bulk(name);
            return;
        }
        if (c.Argc != 3)
        {
            SubcommandSyntaxError(c);
            return;
        }
        string category = Latin1Arg(c, 2);
        var flag = AclCommandIndex.CategoryByName(category);
        if (flag == AclCategories.None)
        {
            c.Reply.Error($"Unknown category '{(category.Length > 128 ? category[..128] : category)}'");
            return;
        }
        int mark = c.Reply.BeginDeferred();
        int n = 0;
        foreach (var cmd in c.Server.Acl.Index.All())
        {
            if ((cmd.Spec.Acl & flag) == 0) continue;
            c.Reply.Bulk(cmd.NameBytes);
            n++;
        }
        c.Reply.EndDeferred(mark, n);
    }

    private const int GenPassMaxBits = 4096;

    private static void GenPass(Client c)
    {
        if (c.Argc > 3)
        {
            SubcommandSyntaxError(c);
            return;
        }
        long bits = 256;
        if (c.Argc == 3 && !c.TryGetLong(2, out bits)) return;
        if (bits <= 0 || bits > GenPassMaxBits)
        {
            c.Reply.Error($"ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GenPassMaxBits}");
            return;
        }
        int chars = (int)((bits + 3) / 4);
        var random = RandomNumberGenerator.GetBytes((chars + 1) / 2);
        c.Reply.Bulk(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(random)[..chars]));
    }

    private static void Log(Client c)
    {
        if (c.Argc > 3)
        {
            SubcommandSyntaxError(c);
            return;
        }
        var log = c.Server.Acl.SecurityLog;
        long count = 10;
        if (c.Argc == 3)
        {
            if (c.ArgIs(2, "reset"u8))
            {
                log.Reset();
                c.Reply.Ok();
                return;
            }
            if (!c.TryGetLong(2, out count)) return;
            if (count < 0) count = 0;
        }
        if (count > log.Count) count = log.Count;
        var r = c.Reply;
        r.ArrayHeader(count);
        long now = Storage.Database.NowMs();
        for (int i = 0; i < count; i++)
        {
            var e = log.Entries[i];
            r.MapHeader(7);
            r.Bulk("count"u8); r.Integer(e.Count);
            r.Bulk("reason"u8); r.Bulk(e.ReasonName);
            r.Bulk("context"u8); r.Bulk(e.ContextName);
            r.Bulk("object"u8); BulkLatin1(c, e.Object);
            r.Bulk("username"u8); BulkLatin1(c, e.Username);
            r.Bulk("age-seconds"u8); r.Double((now - e.CreatedMs) / 1000.0);
            r.Bulk("client-info"u8); BulkLatin1(c, e.ClientInfo);
        }
    }

    /// <summary>ACL DRYRUN user command [arg...]: whether the user could run it, without running it.</summary>
    private static void DryRun(Client c)
    {
        var acl = c.Server.Acl;
        var u = acl.GetUser(Latin1Arg(c, 2));
        if (u is null)
        {
            c.Reply.Error($"User '{Latin1Arg(c, 2)}' not found");
            return;
        }
        int argc = c.Argc - 3;
        var cmd = c.Server.Commands.Lookup(c.Arg(3));
        if (cmd != null && cmd.IsContainer && argc >= 2) cmd = CommandTable.LookupSub(cmd, c.Arg(4));
        if (cmd is null || !cmd.IsImplemented)
        {
            c.Reply.Error($"Command '{Latin1Arg(c, 3)}' not found");
            return;
        }
        if ((cmd.Arity > 0 && cmd.Arity != argc) || argc < -cmd.Arity)
        {
            c.Reply.Error($"wrong number of arguments for '{cmd.FullName}' command");
            return;
        }
        var result = acl.CheckPermissions(u, cmd, new AclArgs(c, 3, argc), out int pos);
        switch (result)
        {
            case AclResult.Ok:
                c.Reply.Ok();
                break;
            case AclResult.DeniedCommand:
                BulkLatin1(c, $"This user has no permissions to run the '{cmd.FullName}' command");
                break;
            case AclResult.DeniedKey:
                BulkLatin1(c, $"This user has no permissions to access the '{Latin1Arg(c, pos + 3)}' key");
                break;
            default:
                BulkLatin1(c, $"This user has no permissions to access the '{Latin1Arg(c, pos + 3)}' channel");
                break;
        }
    }

    private static readonly string[] HelpLines =
    [
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
    ];

    private static void Help(Client c)
    {
        c.Reply.ArrayHeader(HelpLines.Length + 3);
        c.Reply.Simple($"{c.ArgString(0).ToUpperInvariant()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        foreach (var line in HelpLines) c.Reply.Simple(line);
        c.Reply.Simple("HELP");
        c.Reply.Simple("    Prints this help.");
    }
}
