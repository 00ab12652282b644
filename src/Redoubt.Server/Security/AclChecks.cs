using System.Text;
using Redoubt.Server.Commands;

namespace Redoubt.Server.Security;

/// <summary>The permission checks: commands (with their keys and channels), single keys, single channels.</summary>
public sealed partial class AclRegistry
{
    /// <summary>
    /// The gate's check (processCommand): null when the client's user may run this command with these
    /// arguments, otherwise the NOPERM error; denials are logged to ACL LOG.
    /// </summary>
    public string? CheckCommand(Client c, Command cmd)
    {
        var u = c.User;
        if (u.Unrestricted) return null;
        var result = CheckPermissions(u, cmd, new AclArgs(c, 0, c.Argc), out int pos);
        if (result == AclResult.Ok) return null;
        AddLogEntry(c, result, c.InMulti ? AclLogContext.Multi : AclLogContext.TopLevel, pos, null, null);
        return result switch
        {
            AclResult.DeniedCommand => $"-NOPERM this user has no permissions to run the '{cmd.FullName}' command",
            AclResult.DeniedKey => "-NOPERM this user has no permissions to access one of the keys used as arguments",
            AclResult.DeniedChannel => "-NOPERM this user has no permissions to access one of the channels used as arguments",
            _ => "no permission",
        };
    }

    /// <summary>
    /// A command called from a script (scriptVerifyACL): null when the script's user may run it,
    /// otherwise the message the script sees; denials are logged with the "lua" context.
    /// </summary>
    public string? CheckScriptCommand(Client c, Command cmd)
    {
        var u = c.User;
        if (u.Unrestricted) return null;
        var result = CheckPermissions(u, cmd, new AclArgs(c, 0, c.Argc), out int pos);
        if (result == AclResult.Ok) return null;
        AddLogEntry(c, result, AclLogContext.Lua, pos, null, null);
        return "The user executing the script " + result switch
        {
            AclResult.DeniedCommand => "can't run this command or subcommand",
            AclResult.DeniedKey => "can't access at least one of the keys mentioned in the command",
            AclResult.DeniedChannel => "can't publish to the channel mentioned in the command",
            _ => "no permission",
        };
    }

    /// <summary>redis.acl_check_cmd: whether <paramref name="u"/> may run this command line (nothing is logged).</summary>
    public bool MayRun(AclUser u, Command cmd, byte[][] argv)
    {
        if (u.Unrestricted) return true;
        var probe = new Client(-1, _server!) { Name = null };
        probe.SetArgs(argv);
        return CheckPermissions(u, cmd, new AclArgs(probe, 0, probe.Argc), out _) == AclResult.Ok;
    }

    /// <summary>
    /// EXEC re-checks each queued command, since the rules may have changed after it was queued. Null
    /// when allowed, otherwise the error to reply in place of that command's result (logged as "multi").
    /// </summary>
    public string? CheckQueuedCommand(Client c, Command cmd)
    {
        var u = c.User;
        if (u.Unrestricted) return null;
        var result = CheckPermissions(u, cmd, new AclArgs(c, 0, c.Argc), out int pos);
        if (result == AclResult.Ok) return null;
        // The log's client line names the command the client sent: EXEC.
        _shownCommand = Index.Lookup("exec");
        AddLogEntry(c, result, AclLogContext.Multi, pos, null, null);
        _shownCommand = null;
        string reason = result switch
        {
            AclResult.DeniedCommand => "no permission to execute the command or subcommand",
            AclResult.DeniedKey => "no permission to touch the specified keys",
            AclResult.DeniedChannel => "no permission to access one of the channels used as arguments",
            _ => "no permission",
        };
        return "-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. " +
               "This command is no longer allowed for the following reason: " + reason;
    }

    /// <summary>
    /// Whether <paramref name="u"/> may run <paramref name="cmd"/> with <paramref name="args"/> (argv[0] is the
    /// command name). When no selector allows it, the error reported is "command" if no selector allowed the
    /// command itself, otherwise the key or channel denied furthest along the arguments.
    /// </summary>
    public AclResult CheckPermissions(AclUser u, Command cmd, in AclArgs args, out int errPos)
    {
        errPos = 0;
        var relevant = AclResult.DeniedCommand;
        int lastPos = 0;
        _keyCache.Reset();
        foreach (var s in u.Selectors)
        {
            var r = s.CheckCommand(cmd, args, _keyCache, out int pos);
            if (r == AclResult.Ok) return AclResult.Ok;
            if (r > relevant || (r == relevant && pos > lastPos))
            {
                relevant = r;
                lastPos = pos;
            }
        }
        errPos = lastPos;
        return relevant;
    }

    /// <summary>Pub/sub's check for one channel (isPattern: a PSUBSCRIBE pattern, matched literally).</summary>
    public bool CheckChannel(AclUser user, ReadOnlySpan<byte> channel, bool isPattern)
    {
        foreach (var s in user.Selectors)
        {
            if (s.AllChannels) return true;
            if (s.CheckChannel(channel, isPattern)) return true;
        }
        return false;
    }

    /// <summary>Whether any selector of the user reaches this key with the access the flags describe (scripts, modules).</summary>
    public bool CheckKey(AclUser user, ReadOnlySpan<byte> key, KeySpecFlags flags)
    {
        foreach (var s in user.Selectors)
            if (s.CheckKey(key, flags)) return true;
        return false;
    }

    /// <summary>
    /// SORT's BY/GET check: some selector must allow the command and reach every key with the given
    /// access (for instance "%R~*"), since the keys it will read are only known while sorting.
    /// </summary>
    public bool CheckCommandWithUnrestrictedKeyAccess(Client c, Command cmd, KeySpecFlags flags)
    {
        var u = c.User;
        var args = new AclArgs(c, 0, c.Argc);
        _keyCache.Reset();
        foreach (var s in u.Selectors)
        {
            if (s.CheckCommand(cmd, args, _keyCache, out _) == AclResult.Ok && s.HasUnrestrictedKeyAccess(flags)) return true;
        }
        return false;
    }

    // ---- ACL LOG --------------------------------------------------------------------

    /// <summary>
    /// Records a denial. The object is the command's full name, the denied key or channel (argument
    /// <paramref name="argPos"/>), or for authentication the command name as typed; unless given, the
    /// user is the client's.
    /// </summary>
    public void AddLogEntry(Client c, AclResult reason, AclLogContext context, int argPos, string? username, string? obj)
    {
        var stats = _server?.Stats;
        if (stats != null)
        {
            switch (reason)
            {
                case AclResult.DeniedAuth: stats.AclAccessDeniedAuth++; break;
                case AclResult.DeniedCommand: stats.AclAccessDeniedCmd++; break;
                case AclResult.DeniedKey: stats.AclAccessDeniedKey++; break;
                case AclResult.DeniedChannel: stats.AclAccessDeniedChannel++; break;
            }
        }
        obj ??= reason switch
        {
            AclResult.DeniedCommand => c.Cmd?.FullName ?? "",
            AclResult.DeniedKey or AclResult.DeniedChannel => Encoding.Latin1.GetString(c.Arg(argPos)),
            AclResult.DeniedAuth => Encoding.Latin1.GetString(c.Arg(0)),
            _ => "",
        };
        var entry = new AclLogEntry
        {
            Reason = reason,
            Context = context,
            Object = obj,
            Username = username ?? c.User.Name,
            CreatedMs = Storage.Database.NowMs(),
            // A script's command is logged with its caller's client line, as Redis logs the current client.
            ClientInfo = ClientInfoFor((c.Flags & ClientFlags.Script) != 0 && _server?.CurrentClient is { } caller ? caller : c),
        };
        SecurityLog.Add(entry, _server?.Config.AclLogMaxLen ?? 128);
    }

    private Command? _shownCommand;

    /// <summary>The client's CLIENT LIST line, showing the command being refused as its current one.</summary>
    private string ClientInfoFor(Client c)
    {
        if (_server is null) return "";
        var saved = c.LastCmd;
        var shown = _shownCommand ?? c.Cmd;
        if (shown != null) c.LastCmd = shown;
        string info = _server.ClientInfoString(c);
        c.LastCmd = saved;
        return info;
    }
}
