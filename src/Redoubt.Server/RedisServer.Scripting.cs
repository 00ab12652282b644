using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Replication;
using Redoubt.Server.Scripting;

namespace Redoubt.Server;

/// <summary>An EVAL script in the script cache: its SHA1, source, shebang flags and compiled function.</summary>
public sealed record EvalScript(string Sha, byte[] Body, ScriptFlags Flags, int FunctionRef);

/// <summary>
/// Server-side scripting for EVAL: the interpreter (created on first use, dropped by SCRIPT FLUSH), the
/// script cache by SHA1, the checks before a run (scriptPrepareForRun) and the flags scripts declare.
/// </summary>
public sealed partial class RedisServer
{
    private LuaEngine? _evalEngine;
    private string? _scriptingUnavailable;
    private readonly Dictionary<string, EvalScript> _evalScripts = new(StringComparer.Ordinal);
    private long _evalScriptsBytes;

    /// <summary>The script or function running now, if any.</summary>
    public ScriptRun? RunningScript => _evalEngine?.Current ?? _functionEngine?.Current;

    /// <summary>The EVAL interpreter, created on first use; null (with <paramref name="error"/>) when Lua is unavailable.</summary>
    internal LuaEngine? EvalEngine(out string? error)
    {
        error = null;
        if (_evalEngine != null) return _evalEngine;
        if (_scriptingUnavailable != null)
        {
            error = _scriptingUnavailable;
            return null;
        }
        _evalEngine = LuaEngine.Create(this, out error);
        if (_evalEngine is null)
        {
            _scriptingUnavailable = error;
            Log.Warning("Scripting is unavailable: " + error);
        }
        UpdateScriptingStatus();
        return _evalEngine;
    }

    internal void AttachScripting()
    {
        // Scripts that declare flags are judged by them (no-writes scripts pass CLIENT PAUSE WRITE, OOM...).
        Pause.FlagsOf = static (c, cmd) => c.Server.EffectiveFlags(c, cmd);
        // SORT orders its output and XREAD refuses BLOCK when a script calls them.
        IsScriptClient = static c => (c.Flags & ClientFlags.Script) != 0;
    }

    /// <summary>
    /// The flags a command runs with (Redis's getCommandFlags): for EVAL, EVALSHA and their _RO forms,
    /// a script with a shebang replaces stale, denyoom and write with what it declares.
    /// </summary>
    internal CommandFlags EffectiveFlags(Client c, Command cmd)
    {
        var flags = cmd.Flags;
        if (cmd.Handler == FunctionCommands.FcallHandler || cmd.Handler == FunctionCommands.FcallRoHandler)
            return c.Argc >= 2 && FindFunction(c.Arg(1)) is { } fn ? ScriptFlagsToCommandFlags(flags, fn.Flags) : flags;
        if (cmd.Handler != ScriptingCommands.EvalHandler && cmd.Handler != ScriptingCommands.EvalShaHandler &&
            cmd.Handler != ScriptingCommands.EvalRoHandler && cmd.Handler != ScriptingCommands.EvalShaRoHandler)
            return flags;
        if (c.Argc < 2) return flags;
        bool evalsha = cmd.Handler == ScriptingCommands.EvalShaHandler || cmd.Handler == ScriptingCommands.EvalShaRoHandler;
        var body = c.Arg(1);
        if (evalsha && body.Length != 40) return flags;
        // The cache lookup allocates nothing: on a replica the gate asks this for every EVAL.
        ScriptFlags scriptFlags;
        if (FindEvalScript(body, isBody: !evalsha) is { } cached) scriptFlags = cached.Flags;
        else if (evalsha || ParseShebang(body, out scriptFlags, out _, out _) != null) return flags;
        if ((scriptFlags & ScriptFlags.EvalCompatMode) != 0) return flags;
        return ScriptFlagsToCommandFlags(flags, scriptFlags);
    }

    internal static CommandFlags ScriptFlagsToCommandFlags(CommandFlags flags, ScriptFlags scriptFlags)
    {
        flags &= ~(CommandFlags.Stale | CommandFlags.DenyOom | CommandFlags.Write | CommandFlags.MayReplicate);
        if ((scriptFlags & (ScriptFlags.AllowOom | ScriptFlags.NoWrites)) == 0) flags |= CommandFlags.DenyOom;
        if ((scriptFlags & ScriptFlags.NoWrites) == 0) flags |= CommandFlags.Write;
        if ((scriptFlags & ScriptFlags.AllowStale) != 0) flags |= CommandFlags.Stale;
        return flags;
    }

    /// <summary>
    /// Reads a "#!lua flags=a,b" first line (evalExtractShebangFlags). No shebang means compatibility
    /// mode. Returns null, or the error.
    /// </summary>
    internal static string? ParseShebang(ReadOnlySpan<byte> body, out ScriptFlags flags, out int shebangLength, out string? engineName)
    {
        flags = ScriptFlags.EvalCompatMode;
        shebangLength = 0;
        engineName = null;
        if (!body.StartsWith("#!"u8)) return null;
        int end = body.IndexOf((byte)'\n');
        if (end < 0) return "Invalid script shebang";
        shebangLength = end;
        if (!Protocol.InlineSplitter.Split(body[..end], out var rawParts) || rawParts.Count == 0) return "Invalid engine in script shebang";
        var parts = rawParts.ConvertAll(p => Encoding.Latin1.GetString(p));
        engineName = parts[0];
        if (parts[0] != "#!lua") return "Unexpected engine in script shebang: " + parts[0];
        flags = ScriptFlags.None;
        for (int j = 1; j < parts.Count; j++)
        {
            if (!parts[j].StartsWith("flags=", StringComparison.Ordinal)) return "Unknown lua shebang option: " + parts[j];
            string list = parts[j][6..];
            if (list.Length == 0) continue;
            foreach (var name in list.Split(','))
            {
                if (ScriptRun.ParseFlag(name) is not { } f) return "Unexpected flag in script shebang: " + name;
                flags |= f;
            }
        }
        return null;
    }

    /// <summary>
    /// Compiles and caches a script (luaCreateFunction); returns its SHA1, or null after replying the
    /// compile error to <paramref name="c"/>.
    /// </summary>
    internal string? CreateEvalScript(Client c, LuaEngine engine, ReadOnlySpan<byte> body)
    {
        string sha = LuaEngine.Sha1Hex(body);
        if (_evalScripts.ContainsKey(sha)) return sha;
        if (ParseShebang(body, out var flags, out int shebangLength, out _) is string shebangError)
        {
            c.Reply.Error(shebangError);
            return null;
        }
        // The shebang line is skipped but its line feed kept, so line numbers stay the user's.
        if (engine.Compile(body[shebangLength..], "@user_script", out int functionRef) is string compileError)
        {
            c.Reply.Error("Error compiling script (new function): " + compileError);
            return null;
        }
        _evalScripts[sha] = new EvalScript(sha, body.ToArray(), flags, functionRef);
        _evalScriptsBytes += body.Length + 40;
        UpdateScriptingStatus();
        return sha;
    }

    internal EvalScript? FindEvalScript(string sha) => _evalScripts.GetValueOrDefault(sha);

    /// <summary>
    /// The cached script with this SHA1 (40 hex digits, any case), or of this body; found without
    /// allocating, as EVALSHA is a hot path.
    /// </summary>
    internal EvalScript? FindEvalScript(ReadOnlySpan<byte> shaOrBody, bool isBody)
    {
        Span<char> hex = stackalloc char[40];
        if (isBody)
        {
            Span<byte> digest = stackalloc byte[20];
            System.Security.Cryptography.SHA1.HashData(shaOrBody, digest);
            Convert.TryToHexStringLower(digest, hex, out _);
        }
        else
        {
            if (shaOrBody.Length != 40) return null;
            for (int i = 0; i < 40; i++) hex[i] = (char)(shaOrBody[i] is >= (byte)'A' and <= (byte)'Z' ? shaOrBody[i] + 32 : shaOrBody[i]);
        }
        return _evalScripts.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(hex, out var script) ? script : null;
    }

    /// <summary>SCRIPT FLUSH: a fresh interpreter and an empty cache.</summary>
    internal void FlushEvalScripts()
    {
        _evalEngine?.Dispose();
        _evalEngine = null;
        _evalScripts.Clear();
        _evalScriptsBytes = 0;
        UpdateScriptingStatus();
    }

    private void UpdateScriptingStatus()
    {
        var s = ScriptingStatus;
        s.NumberOfCachedScripts = _evalScripts.Count;
        // As Redis counts it: the bodies and SHA keys, plus the dictionary's entries.
        s.UsedMemoryScriptsEval = _evalScriptsBytes + _evalScripts.Count * (24 + 16) + (_evalScripts.Count > 0 ? 4 * 8 : 0);
        s.UsedMemoryVmEval = _evalEngine?.MemoryBytes ?? 0;
    }

    internal void AfterScriptRun() => ScriptingStatus.UsedMemoryVmEval = _evalEngine?.MemoryBytes ?? 0;

    /// <summary>
    /// The checks before a script runs (scriptPrepareForRun): for scripts that declare flags, the
    /// cluster, stale-replica, write (read-only replica, disk error, _RO command, min-replicas) and OOM
    /// rules; for compatibility-mode scripts only the stale-replica rule. Null, or the error to reply.
    /// </summary>
    internal string? ScriptPrepareError(Client caller, ScriptFlags flags, bool readOnlyCommand)
    {
        bool runningStale = Config.MasterHost != null && LinkStateNow != MasterLinkState.Connected && !Config.ReplicaServeStaleData;
        bool obey = caller.MustObey;
        if ((flags & ScriptFlags.EvalCompatMode) != 0)
            return runningStale ? "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'." : null;
        if ((flags & ScriptFlags.NoCluster) != 0 && Config.ClusterEnabled)
            return "Can not run script on cluster, 'no-cluster' flag is set.";
        if (runningStale && (flags & ScriptFlags.AllowStale) == 0)
            return "-MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.";
        if ((flags & ScriptFlags.NoWrites) == 0)
        {
            if (Config.MasterHost != null && Config.ReplicaReadOnly && !obey)
                return "-READONLY Can not run script with write flag on readonly replica";
            if (!obey && DiskErrorForWrites() is string diskError)
            {
                return diskError == MisconfMessage
                    ? "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts."
                    : "-MISCONF Redis is configured to persist data to AOF, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts. AOF error: " +
                      diskError["-MISCONF Errors writing to the AOF file: ".Length..];
            }
            if (readOnlyCommand) return "Can not execute a script with write flag using *_ro command.";
            if (Config.MasterHost is null && Config.MinReplicasMaxLag > 0 && Config.MinReplicasToWrite > 0 && GoodReplicas() < Config.MinReplicasToWrite)
                return "-NOREPLICAS Not enough good replicas to write.";
        }
        if (PreCommandOomState && Config.MaxMemory != 0 && (flags & (ScriptFlags.AllowOom | ScriptFlags.NoWrites)) == 0)
            return "-OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'";
        return null;
    }

    /// <summary>SCRIPT KILL / FUNCTION KILL (scriptKill).</summary>
    internal void KillScript(Client c, bool eval)
    {
        var run = RunningScript;
        if (run is null)
        {
            c.Reply.Error("-NOTBUSY No scripts in execution right now.");
            return;
        }
        if (run.Caller.MustObey)
        {
            c.Reply.Error("-UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.");
            return;
        }
        if (run.Has(ScriptRunFlags.WriteDirty))
        {
            c.Reply.Error("-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
            return;
        }
        bool isEval = run.Has(ScriptRunFlags.EvalMode);
        if (eval && !isEval)
        {
            c.Reply.Error("-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.");
            return;
        }
        if (!eval && isEval)
        {
            c.Reply.Error("-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
            return;
        }
        run.Flags |= ScriptRunFlags.Killed;
        run.KillRequested = true;
        c.Reply.Ok();
    }

    /// <summary>True while a script runs past busy-reply-threshold: other clients get -BUSY.</summary>
    public bool ScriptTimedOut => RunningScript is { } run && run.Has(ScriptRunFlags.TimedOut);

    public const string SlowEvalError = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    public const string SlowScriptError = "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

    /// <summary>The -BUSY error for the running script (EVAL or function).</summary>
    public string BusyError => RunningScript is { } run && !run.Has(ScriptRunFlags.EvalMode) ? SlowScriptError : SlowEvalError;

    /// <summary>
    /// Runs a script or function for <paramref name="run"/>. It runs here, on the
    /// thread that read the command, holding the server lock, as Redis runs it on its event loop; past
    /// busy-reply-threshold its count hook serves the other clients in between (see
    /// <see cref="ProcessEventsWhileBlocked"/>).
    /// </summary>
    internal void RunScript(LuaEngine engine, ScriptRun run, int functionRef, int firstKey, int numKeys, bool asGlobals)
    {
        engine.Begin(run, functionRef, firstKey, numKeys, asGlobals);
        engine.Finish(engine.Call());
        if (asGlobals) AfterScriptRun();
        else AfterFunctionRun();
        if (!run.Has(ScriptRunFlags.TimedOut)) return;
        // Replies to clients served meanwhile that did not fit in their sockets go out now.
        foreach (var c in Clients.Values)
            if (c != run.Caller && c.Reply.Length > 0) c.Connection?.RequestFlush();
    }

    /// <summary>
    /// Called from a running script's count hook (Redis's scriptInterrupt). Past busy-reply-threshold
    /// the script is marked timed out (logged once) and, like Redis's processEventsWhileBlocked, the
    /// commands other clients have sent are read and executed: they are answered -BUSY unless flagged
    /// allow-busy (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE, AUTH, MULTI ...). A shutdown signal is
    /// honoured without saving.
    /// </summary>
    internal void ProcessEventsWhileBlocked(ScriptRun run)
    {
        if (!run.Has(ScriptRunFlags.TimedOut))
        {
            long threshold = Config.BusyReplyThreshold;
            long elapsed = run.ElapsedMs;
            if (threshold <= 0 || elapsed < threshold) return;
            bool eval = run.Has(ScriptRunFlags.EvalMode);
            Log.Warning($"Slow script detected: still in execution after {elapsed} milliseconds. " +
                        $"You can try killing the script using the {(eval ? "SCRIPT KILL" : "FUNCTION KILL")} command. Script name is: {run.Name}.");
            run.Flags |= ScriptRunFlags.TimedOut;
        }
        // Reading sockets here is only safe on the socket-engine thread, whose own receives are then
        // stalled; anywhere else (a script resumed by the cron after CLIENT PAUSE) others just wait.
        if (Networking.Connection.InlineCompletions && Environment.CurrentManagedThreadId == Networking.Connection.SocketThreadId)
            ServeClientsWhileScriptBusy(run);
        ShutdownWhileScriptBusy();
    }

    private void ServeClientsWhileScriptBusy(ScriptRun run)
    {
        AcceptWhileScriptBusy();
        foreach (var c in Clients.Values.ToArray())
        {
            // The script's own client waits for its reply, as Redis protects it.
            if (c == run.Caller || c.Connection is not { } conn) continue;
            conn.ServeWhileScriptBusy();
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static partial int accept4(int fd, IntPtr addr, IntPtr addrlen, int flags);

    private const int SockCloexec = 0x80000;

    /// <summary>
    /// Accepts the connections waiting on the listeners while a script is busy (their own accepts
    /// complete on this very thread): the listening sockets are non-blocking, so this takes only what
    /// is already there. Each becomes a client as usual; its commands are then read by the pump.
    /// </summary>
    private void AcceptWhileScriptBusy()
    {
        foreach (var listener in _listeners.ToArray()) AcceptPending(listener, unix: false);
        if (_unixListener is { } unixListener) AcceptPending(unixListener, unix: true);
    }

    private void AcceptPending(System.Net.Sockets.Socket listener, bool unix)
    {
        int fd;
        try { fd = (int)listener.SafeHandle.DangerousGetHandle(); }
        catch (ObjectDisposedException) { return; }
        for (int i = 0; i < 100; i++)
        {
            int client = accept4(fd, IntPtr.Zero, IntPtr.Zero, SockCloexec);
            if (client < 0) return;
            var socket = new System.Net.Sockets.Socket(new System.Net.Sockets.SafeSocketHandle(client, ownsHandle: true));
            try { AcceptClient(socket, unix); }
            catch (Exception e) { Log.Warning("Error accepting a client connection: " + e.Message); socket.Dispose(); }
        }
    }
}
