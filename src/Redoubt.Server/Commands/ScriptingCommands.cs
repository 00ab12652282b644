using System.Text;
using Redoubt.Server.Protocol;
using Redoubt.Server.Scripting;

namespace Redoubt.Server.Commands;

/// <summary>
/// EVAL, EVALSHA, their read-only forms and SCRIPT. A script's writes propagate as the commands it
/// ran (wrapped in MULTI/EXEC when there are several), never as the script itself.
/// </summary>
public static class ScriptingCommands
{
    internal static readonly CommandHandler EvalHandler = c => EvalGeneric(c, evalsha: false, readOnly: false);
    internal static readonly CommandHandler EvalShaHandler = c => EvalGeneric(c, evalsha: true, readOnly: false);
    internal static readonly CommandHandler EvalRoHandler = c => EvalGeneric(c, evalsha: false, readOnly: true);
    internal static readonly CommandHandler EvalShaRoHandler = c => EvalGeneric(c, evalsha: true, readOnly: true);

    private const string NoScriptError = "-NOSCRIPT No matching script. Please use EVAL.";

    public static void Bind(CommandTable t)
    {
        t.Bind("eval", EvalHandler);
        t.Bind("evalsha", EvalShaHandler);
        t.Bind("eval_ro", EvalRoHandler);
        t.Bind("evalsha_ro", EvalShaRoHandler);
        t.Bind("script|load", ScriptLoad);
        t.Bind("script|exists", ScriptExists);
        t.Bind("script|flush", ScriptFlush);
        t.Bind("script|kill", ScriptKill);
        t.Bind("script|debug", ScriptDebug);
        t.Bind("script|help", ScriptHelp);
    }

    private static void EvalGeneric(Client c, bool evalsha, bool readOnly)
    {
        var server = c.Server;
        // EVAL feeds MONITOR itself, before the commands the script runs.
        if (server.Monitors.Count > 0) server.FeedMonitors(c);
        if (evalsha && c.Arg(1).Length != 40)
        {
            c.Reply.Error(NoScriptError);
            return;
        }
        if (!TryGetNumKeys(c, "value is not an integer or out of range", out int numKeys)) return;
        var engine = server.EvalEngine(out string? unavailable);
        if (engine is null)
        {
            c.Reply.Error("Scripting is not available on this server: " + unavailable);
            return;
        }
        var script = server.FindEvalScript(c.Arg(1), isBody: !evalsha);
        if (script is null)
        {
            if (evalsha)
            {
                c.Reply.Error(NoScriptError);
                return;
            }
            if (server.CreateEvalScript(c, engine, c.Arg(1)) is not { } sha) return;
            script = server.FindEvalScript(sha)!;
        }
        if (server.ScriptPrepareError(c, script.Flags, readOnly) is string prepareError)
        {
            c.Reply.Error(prepareError);
            return;
        }
        var run = engine.NewRun(c, script.Sha, ScriptRunFlags.EvalMode);
        bool compat = (script.Flags & ScriptFlags.EvalCompatMode) != 0;
        if (readOnly || (!compat && (script.Flags & ScriptFlags.NoWrites) != 0)) run.Flags |= ScriptRunFlags.ReadOnly;
        if (!compat && (script.Flags & ScriptFlags.AllowOom) != 0) run.Flags |= ScriptRunFlags.AllowOom;
        // The script's commands propagate themselves; the script never does.
        c.PreventPropagation();
        server.RunScript(engine, run, script.FunctionRef, 3, numKeys, asGlobals: true);
    }

    /// <summary>
    /// The numkeys argument of EVAL and FCALL (argument 2): an integer from 0 to the number of arguments
    /// after it, else the error replied (<paramref name="notANumber"/> when it is not a number).
    /// </summary>
    internal static bool TryGetNumKeys(Client c, string notANumber, out int numKeys)
    {
        numKeys = 0;
        if (!NumberParser.TryParseInt64(c.Arg(2), out long n))
        {
            c.Reply.Error(notANumber);
            return false;
        }
        if (n > c.Argc - 3)
        {
            c.Reply.Error("Number of keys can't be greater than number of args");
            return false;
        }
        if (n < 0)
        {
            c.Reply.Error("Number of keys can't be negative");
            return false;
        }
        numKeys = (int)n;
        return true;
    }

    private static void ScriptLoad(Client c)
    {
        var server = c.Server;
        var engine = server.EvalEngine(out string? unavailable);
        if (engine is null)
        {
            c.Reply.Error("Scripting is not available on this server: " + unavailable);
            return;
        }
        if (server.CreateEvalScript(c, engine, c.Arg(2)) is string sha) c.Reply.Bulk(sha);
    }

    private static void ScriptExists(Client c)
    {
        c.Reply.ArrayHeader(c.Argc - 2);
        for (int j = 2; j < c.Argc; j++)
        {
            string sha = Encoding.Latin1.GetString(c.Arg(j)).ToLowerInvariant();
            c.Reply.Integer(c.Server.FindEvalScript(sha) != null ? 1 : 0);
        }
    }

    private static void ScriptFlush(Client c)
    {
        if (c.Argc > 3 || (c.Argc == 3 && !c.ArgIs(2, "sync"u8) && !c.ArgIs(2, "async"u8)))
        {
            c.Reply.Error("SCRIPT FLUSH only support SYNC|ASYNC option");
            return;
        }
        c.Server.FlushEvalScripts();
        c.Reply.Ok();
    }

    private static void ScriptKill(Client c) => c.Server.KillScript(c, eval: true);

    private static void ScriptDebug(Client c)
    {
        if (c.ArgIs(2, "no"u8))
        {
            c.Reply.Ok();
            return;
        }
        if (c.ArgIs(2, "yes"u8) || c.ArgIs(2, "sync"u8))
        {
            c.Reply.Error("SCRIPT DEBUG (the Lua debugger) is not supported by this server");
            return;
        }
        c.Reply.Error("Use SCRIPT DEBUG YES/SYNC/NO");
    }

    private static void ScriptHelp(Client c) => KeyspaceCommands.ReplyHelp(c,
    [
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
    ]);
}
