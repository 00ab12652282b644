using Redoubt.Server.Commands;
using Redoubt.Server.Replication;

namespace Redoubt.Server.Scripting;

/// <summary>
/// The checks a command called from a script passes before it runs (Redis's scriptCall): lookup,
/// arity, commands denied to scripts, stale replica, ACL, writes (read-only scripts, read-only
/// replica, disk errors, min-replicas) and OOM. Each returns Redis's message for scripts.
/// </summary>
internal static class ScriptCommandChecks
{
    public static Command? Lookup(RedisServer server, byte[][] argv)
    {
        var cmd = server.Commands.Lookup(argv[0]);
        if (cmd is { IsContainer: true } && argv.Length >= 2) cmd = CommandTable.LookupSub(cmd, argv[1]);
        return cmd;
    }

    /// <summary>Runs the script client's current command; null, or the error the script sees instead.</summary>
    public static string? Run(LuaEngine engine, ScriptRun run, Client c)
    {
        var server = engine.Server;
        Command? cmd;
        {
            var top = server.Commands.Lookup(c.Arg(0));
            cmd = top;
            if (top is { IsContainer: true } && c.Argc >= 2) cmd = CommandTable.LookupSub(top, c.Arg(1));
        }
        c.Cmd = c.LastCmd = cmd;
        if (cmd is null || (cmd.Handler is null && !cmd.IsContainer))
            return Reject(server, c, null, "Unknown Redis command called from script");
        if ((cmd.Arity > 0 && cmd.Arity != c.Argc) || c.Argc < -cmd.Arity || cmd.Handler is null)
            return Reject(server, c, cmd, "Wrong number of args calling Redis command from script");
        if (cmd.Has(CommandFlags.NoScript))
            return Reject(server, c, cmd, "This Redis command is not allowed from script");

        bool fromMaster = run.Caller.MustObey;
        if (server.Config.MasterHost != null && server.LinkStateNow != MasterLinkState.Connected &&
            !server.Config.ReplicaServeStaleData && !cmd.Has(CommandFlags.Stale))
            return Reject(server, c, cmd, "Can not execute the command on a stale replica");

        if (!fromMaster && server.Acl.CheckScriptCommand(c, cmd) is string aclError)
            return Reject(server, c, cmd, aclError);

        if (WriteError(server, run, cmd, fromMaster) is string writeError)
            return Reject(server, c, cmd, writeError);

        if (!run.Has(ScriptRunFlags.AllowOom) && server.Config.MaxMemory != 0 && !fromMaster &&
            !run.Has(ScriptRunFlags.WriteDirty) && server.PreCommandOomState && cmd.Has(CommandFlags.DenyOom))
            return Reject(server, c, cmd, RedisServer.OomError);

        if (cmd.Has(CommandFlags.Write)) run.Flags |= ScriptRunFlags.WriteDirty;
        ExecutionGate.Call(c, cmd);
        return null;
    }

    private static string? WriteError(RedisServer server, ScriptRun run, Command cmd, bool fromMaster)
    {
        // Scripts count may-replicate commands as writes (so read-only scripts run during CLIENT PAUSE WRITE).
        if (run.Has(ScriptRunFlags.ReadOnly) && cmd.Has(CommandFlags.Write | CommandFlags.MayReplicate))
            return "Write commands are not allowed from read-only scripts.";
        if (!cmd.Has(CommandFlags.Write)) return null;
        // Once the script wrote, failing it on a state change would leave it half done.
        if (run.Has(ScriptRunFlags.WriteDirty)) return null;
        if (server.Config.MasterHost != null && server.Config.ReplicaReadOnly && !fromMaster)
            return "-READONLY You can't write against a read only replica.";
        if (!fromMaster && server.DiskErrorForWrites() is string diskError) return diskError;
        if (!fromMaster && server.NoReplicasError(run.Caller, cmd) is string noReplicas) return noReplicas;
        return null;
    }

    /// <summary>A refused command counts as rejected and its error counts in errorstats, as Redis's afterErrorReply.</summary>
    private static string Reject(RedisServer server, Client c, Command? cmd, string error)
    {
        if (cmd != null) cmd.RejectedCalls++;
        string text = error.StartsWith('-') ? error[1..] : "ERR " + error;
        server.Stats.CountError(text);
        // As Redis's incrCommandStatsOnError: this error is accounted for; the script's own command
        // counts as failed only for errors after it.
        server.Stats.ErrorRepliesMark = server.Stats.TotalErrorReplies;
        return error;
    }
}
