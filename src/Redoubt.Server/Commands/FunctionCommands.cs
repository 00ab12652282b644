using System.Text;
using Redoubt.Server.Persistence;
using Redoubt.Server.Protocol;
using Redoubt.Server.Scripting;

namespace Redoubt.Server.Commands;

/// <summary>FCALL, FCALL_RO and the FUNCTION family (Redis 7 functions).</summary>
public static class FunctionCommands
{
    internal static readonly CommandHandler FcallHandler = c => Fcall(c, readOnly: false);
    internal static readonly CommandHandler FcallRoHandler = c => Fcall(c, readOnly: true);

    public static void Bind(CommandTable t)
    {
        t.Bind("fcall", FcallHandler);
        t.Bind("fcall_ro", FcallRoHandler);
        t.Bind("function|load", Load);
        t.Bind("function|delete", Delete);
        t.Bind("function|flush", Flush);
        t.Bind("function|list", List);
        t.Bind("function|dump", Dump);
        t.Bind("function|restore", Restore);
        t.Bind("function|stats", Stats);
        t.Bind("function|kill", c => c.Server.KillScript(c, eval: false));
        t.Bind("function|help", Help);
    }

    private static void Fcall(Client c, bool readOnly)
    {
        var server = c.Server;
        if (server.Monitors.Count > 0) server.FeedMonitors(c);
        var fn = server.FindFunction(c.Arg(1));
        if (fn is null)
        {
            c.Reply.Error("Function not found");
            return;
        }
        if (!ScriptingCommands.TryGetNumKeys(c, "Bad number of keys provided", out int numKeys)) return;
        if (server.ScriptPrepareError(c, fn.Flags, readOnly) is string prepareError)
        {
            c.Reply.Error(prepareError);
            return;
        }
        var engine = server.FunctionEngine(out _)!;
        var run = engine.NewRun(c, fn.Name, ScriptRunFlags.None);
        if (readOnly || (fn.Flags & ScriptFlags.NoWrites) != 0) run.Flags |= ScriptRunFlags.ReadOnly;
        if ((fn.Flags & ScriptFlags.AllowOom) != 0) run.Flags |= ScriptRunFlags.AllowOom;
        c.PreventPropagation();
        server.RunScript(engine, run, fn.Ref, 3, numKeys, asGlobals: false);
    }

    private static void Load(Client c)
    {
        bool replace = false;
        int pos = 2;
        while (pos < c.Argc - 1)
        {
            if (c.ArgIs(pos, "replace"u8))
            {
                replace = true;
                pos++;
                continue;
            }
            c.Reply.Error("Unknown option given: " + c.ArgString(pos));
            return;
        }
        if (pos >= c.Argc)
        {
            c.Reply.Error("Function code is missing");
            return;
        }
        // The master's (and the AOF's) libraries load without a time limit.
        int timeout = (c.Flags & ClientFlags.Master) != 0 || c.Connection is null ? 0 : LuaEngine.LoadTimeoutMs;
        var name = c.Server.LoadFunctionLibrary(c.ArgBytes(pos), replace, timeout, out string? error);
        if (name is null)
        {
            c.Reply.Error(error!);
            return;
        }
        c.Server.Stats.Dirty++;
        c.Reply.Bulk(name);
    }

    private static void Delete(Client c)
    {
        if (!c.Server.DeleteFunctionLibrary(c.ArgString(2)))
        {
            c.Reply.Error("Library not found");
            return;
        }
        c.Server.Stats.Dirty++;
        c.Reply.Ok();
    }

    private static void Flush(Client c)
    {
        if (c.Argc > 3)
        {
            ServerCommands.SubcommandSyntaxError(c);
            return;
        }
        if (c.Argc == 3 && !c.ArgIs(2, "sync"u8) && !c.ArgIs(2, "async"u8))
        {
            c.Reply.Error("FUNCTION FLUSH only supports SYNC|ASYNC option");
            return;
        }
        c.Server.FlushFunctions();
        c.Server.Stats.Dirty++;
        c.Reply.Ok();
    }

    private static void List(Client c)
    {
        bool withCode = false;
        string? pattern = null;
        for (int i = 2; i < c.Argc; i++)
        {
            if (c.ArgIs(i, "withcode"u8) && !withCode)
            {
                withCode = true;
                continue;
            }
            if (c.ArgIs(i, "libraryname"u8) && pattern is null)
            {
                if (i + 1 >= c.Argc)
                {
                    c.Reply.Error("library name argument was not given");
                    return;
                }
                pattern = c.ArgString(++i);
                continue;
            }
            c.Reply.Error("Unknown argument " + c.ArgString(i));
            return;
        }
        var w = c.Reply;
        int mark = w.BeginDeferred();
        int n = 0;
        foreach (var lib in c.Server.FunctionLibraries)
        {
            if (pattern != null && !Storage.GlobMatcher.Match(pattern, lib.Name)) continue;
            n++;
            w.MapHeader(withCode ? 4 : 3);
            w.Bulk("library_name");
            w.Bulk(lib.Name);
            w.Bulk("engine");
            w.Bulk("LUA");
            w.Bulk("functions");
            w.ArrayHeader(lib.Functions.Count);
            foreach (var f in lib.Functions)
            {
                w.MapHeader(3);
                w.Bulk("name");
                w.Bulk(f.Name);
                w.Bulk("description");
                if (f.Description is null) w.Null();
                else w.Bulk(f.Description);
                w.Bulk("flags");
                int count = 0;
                foreach (var (flag, _) in ScriptRun.FlagNames) if ((f.Flags & flag) != 0) count++;
                w.SetHeader(count);
                foreach (var (flag, flagName) in ScriptRun.FlagNames) if ((f.Flags & flag) != 0) w.Bulk(flagName);
            }
            if (withCode)
            {
                w.Bulk("library_code");
                w.Bulk(lib.Code);
            }
        }
        w.EndDeferred(mark, n);
    }

    private static void Dump(Client c) => c.Reply.Bulk(c.Server.DumpFunctions());

    private static void Restore(Client c)
    {
        bool replace = false, flush = false;
        if (c.Argc > 4)
        {
            ServerCommands.SubcommandSyntaxError(c);
            return;
        }
        if (c.Argc == 4)
        {
            if (c.ArgIs(3, "replace"u8)) replace = true;
            else if (c.ArgIs(3, "flush"u8)) flush = true;
            else if (!c.ArgIs(3, "append"u8))
            {
                c.Reply.Error("Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
                return;
            }
        }
        var payload = c.Arg(2);
        if (!RdbCommands.VerifyDumpPayload(payload, skipChecksum: false))
        {
            c.Reply.Error("DUMP payload version or checksum are wrong");
            return;
        }
        var codes = new List<byte[]>();
        try
        {
            var data = payload[..^10].ToArray();
            var r = new RdbReader(data, 0, data.Length);
            while (r.Remaining > 0)
            {
                byte type = r.ReadByte();
                if (type != Rdb.OpFunction2)
                {
                    c.Reply.Error(type == Rdb.OpFunction ? "failed loading the given functions payload" : "given type is not a function");
                    return;
                }
                codes.Add(r.ReadStringBytes());
            }
        }
        catch (Exception e) when (e is RdbFormatException or RdbShortReadException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            c.Reply.Error("can not read data type");
            return;
        }
        if (flush) c.Server.FlushFunctions();
        if (c.Server.RestoreFunctionLibraries(codes, replace) is string error)
        {
            c.Reply.Error(error);
            return;
        }
        c.Server.Stats.Dirty++;
        c.Reply.Ok();
    }

    private static void Stats(Client c)
    {
        var server = c.Server;
        var w = c.Reply;
        w.MapHeader(2);
        w.Bulk("running_script");
        if (server.RunningScript is { } run && !run.Has(ScriptRunFlags.EvalMode))
        {
            w.MapHeader(3);
            w.Bulk("name");
            w.Bulk(run.Name);
            w.Bulk("command");
            // The caller's arguments stay in place while its script runs (on this very thread).
            var caller = run.Caller;
            w.ArrayHeader(caller.Argc);
            for (int i = 0; i < caller.Argc; i++) w.Bulk(caller.Arg(i));
            w.Bulk("duration_ms");
            w.Integer(run.ElapsedMs);
        }
        else w.Null();
        w.Bulk("engines");
        w.MapHeader(1);
        w.Bulk("LUA");
        w.MapHeader(2);
        w.Bulk("libraries_count");
        w.Integer(server.FunctionLibraries.Count);
        w.Bulk("functions_count");
        w.Integer(server.ScriptingStatus.NumberOfFunctions);
    }

    private static void Help(Client c) => KeyspaceCommands.ReplyHelp(c,
    [
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
    ]);
}
