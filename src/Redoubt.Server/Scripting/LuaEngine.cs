using System.Runtime.InteropServices;
using System.Text;

namespace Redoubt.Server.Scripting;

/// <summary>
/// One Lua interpreter and the client scripts run their commands through (Redis keeps one for EVAL and
/// one for functions). Everything here runs under the server lock.
/// </summary>
public sealed unsafe partial class LuaEngine : IDisposable
{
    // Registry references to what the prelude returned (integer keys: no string hashing per run).
    private int _handlerRef, _bindRef, _armRef, _loadModeRef, _hiddenRef;

    /// <summary>Redis runs a few GC steps every 50 scripts instead of letting a full cycle add latency.</summary>
    private const int GcCyclePeriod = 50;

    private readonly RedisServer _server;
    private readonly IntPtr _state;
    private GCHandle _self;
    private int _gcCounter;
    private bool _disposed;

    /// <summary>The connection-less client the script's commands run through.</summary>
    public readonly Client ScriptClient;

    private readonly ScriptRun _run = new();

    /// <summary>The description of the next run (one object, reused: runs of one interpreter never overlap).</summary>
    public ScriptRun NewRun(Client caller, string name, ScriptRunFlags flags) => _run.Reset(caller, name, flags);

    /// <summary>The run in progress, or null.</summary>
    public ScriptRun? Current { get; internal set; }

    /// <summary>Managed state the callbacks need for the run in progress.</summary>
    internal IntPtr State => _state;
    internal RedisServer Server => _server;

    private LuaEngine(RedisServer server, IntPtr state)
    {
        _server = server;
        _state = state;
        _self = GCHandle.Alloc(this);
        ScriptClient = new Client(-1, server) { Name = null };
        ScriptClient.Authenticated = true;
        ScriptClient.Flags |= ClientFlags.Script | ClientFlags.DenyBlocking;
    }

    /// <summary>A new interpreter with Redis's libraries and API, or null and why it could not be made.</summary>
    public static LuaEngine? Create(RedisServer server, out string? error)
    {
        error = Lua.Unavailable;
        if (error != null) return null;
        IntPtr L = Lua.luaL_newstate();
        if (L == IntPtr.Zero)
        {
            error = "cannot create the Lua interpreter";
            return null;
        }
        var engine = new LuaEngine(server, L);
        error = engine.Setup();
        if (error != null)
        {
            engine.Dispose();
            return null;
        }
        return engine;
    }

    private string? Setup()
    {
        IntPtr L = _state;
        // The standard libraries Redis opens (no io, os or package).
        foreach (var (name, symbol) in new[] { ("", "luaopen_base"), ("table", "luaopen_table"), ("string", "luaopen_string"), ("math", "luaopen_math"), ("debug", "luaopen_debug") })
        {
            IntPtr fn = Lua.OpenFunction(null, symbol);
            if (fn == IntPtr.Zero) return $"the Lua library has no {symbol}";
            Lua.lua_pushcclosure(L, fn, 0);
            Lua.PushString(L, name);
            if (Lua.lua_pcall(L, 1, 0, 0) != 0) return "cannot open the Lua library " + name;
        }

        if (Lua.Load(L, Encoding.UTF8.GetBytes(LuaPrelude.Code), LuaPrelude.ChunkName) != 0)
            return "cannot compile the scripting prelude: " + Lua.ToStringOrNull(L, -1);
        if (PushPrimitives() is string unsupported) return unsupported;
        PushOptionalLibraries();
        if (Lua.lua_pcall(L, 2, 5, 0) != 0)
            return "cannot run the scripting prelude: " + Lua.ToStringOrNull(L, -1);
        // Results: error_handler, bind, arm_hook, set_load_mode, hidden (kept by reference, last first).
        _hiddenRef = Lua.luaL_ref(L, Lua.RegistryIndex);
        _loadModeRef = Lua.luaL_ref(L, Lua.RegistryIndex);
        _armRef = Lua.luaL_ref(L, Lua.RegistryIndex);
        _bindRef = Lua.luaL_ref(L, Lua.RegistryIndex);
        _handlerRef = Lua.luaL_ref(L, Lua.RegistryIndex);
        Lua.lua_settop(L, 0);
        ArmHook();
        return null;
    }

    /// <summary>Installs the count hook (every 100000 instructions) that checks for SCRIPT KILL and load timeouts.</summary>
    private void ArmHook()
    {
        IntPtr L = _state;
        int top = Lua.lua_gettop(L);
        Lua.lua_sethook(L, IntPtr.Zero, 0, 0);
        Lua.lua_rawgeti(L, Lua.RegistryIndex, _armRef);
        Lua.lua_pcall(L, 0, 0, 0);
        Lua.lua_settop(L, top);
    }

    private static readonly Lazy<IntPtr[]?> Thunks = new(() => NativeThunk.Create(
        Lua.OpenFunction(null, "lua_error"),
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&ApiCall,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&ApiPcall,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&ApiSha1Hex,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&ApiLog,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&ApiSetResp,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&ApiSetRepl,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&ApiAclCheckCmd,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&ApiRand,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&ApiRandomSeed,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&ApiInterrupt,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&ApiRegisterFunction,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&LuaMsgPack.Pack,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&LuaMsgPack.Unpack,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&LuaMsgPack.UnpackOne,
        (IntPtr)(delegate* unmanaged[Cdecl]<IntPtr, int>)&LuaMsgPack.UnpackLimit));

    /// <summary>The cmsgpack functions, after the primitives in <see cref="Thunks"/>.</summary>
    private static readonly string[] MsgPackNames = ["pack", "unpack", "unpack_one", "unpack_limit"];

    private static readonly string[] ThunkNames =
        ["call", "pcall", "sha1hex", "log", "setresp", "set_repl", "acl_check_cmd", "rand", "randomseed", "interrupt", "register"];

    /// <summary>The table of managed primitives (C functions through their thunks) the prelude installs.</summary>
    private string? PushPrimitives()
    {
        IntPtr L = _state;
        IntPtr self = GCHandle.ToIntPtr(_self);
        var thunks = Thunks.Value;
        if (thunks is null) return "scripting needs Linux on x86-64";
        Lua.lua_createtable(L, 0, 12);
        for (int i = 0; i < ThunkNames.Length; i++)
        {
            Lua.PushFunction(L, thunks[i], self);
            Lua.RawSetField(L, -2, ThunkNames[i]);
        }
        Lua.PushString(L, RedisServer.Version);
        Lua.RawSetField(L, -2, "version");
        Lua.lua_pushnumber(L, RedisServer.VersionNum);
        Lua.RawSetField(L, -2, "version_num");
        return null;
    }

    /// <summary>cjson and bit from the system's Lua C libraries (lua-cjson, lua-bitop), as Redis embeds them, and cmsgpack.</summary>
    private void PushOptionalLibraries()
    {
        IntPtr L = _state;
        Lua.lua_createtable(L, 0, 4);
        foreach (var (name, library, symbol) in new[]
                 {
                     ("cjson", "liblua5.1-cjson.so.0", "luaopen_cjson"),
                     ("bit", "liblua5.1-bitop.so.0", "luaopen_bit"),
                 })
        {
            IntPtr fn = Lua.OpenFunction(library, symbol);
            if (fn == IntPtr.Zero)
            {
                _server.Log.Warning($"Lua library {name} is not available ({library} not found)");
                continue;
            }
            Lua.lua_pushcclosure(L, fn, 0);
            Lua.PushString(L, name);
            if (Lua.lua_pcall(L, 1, 1, 0) != 0 || Lua.lua_type(L, -1) != Lua.TTable)
            {
                Lua.Pop(L, 1);
                continue;
            }
            Lua.RawSetField(L, -2, name);
        }
        var thunks = Thunks.Value!;
        Lua.lua_createtable(L, 0, MsgPackNames.Length);
        for (int i = 0; i < MsgPackNames.Length; i++)
        {
            Lua.PushFunction(L, thunks[ThunkNames.Length + i], GCHandle.ToIntPtr(_self));
            Lua.RawSetField(L, -2, MsgPackNames[i]);
        }
        Lua.RawSetField(L, -2, "cmsgpack");
    }

    /// <summary>The engine a callback's first upvalue points to.</summary>
    internal static LuaEngine FromUpvalue(IntPtr L)
        => (LuaEngine)GCHandle.FromIntPtr(Lua.lua_touserdata(L, Lua.UpvalueIndex(1))).Target!;

    /// <summary>
    /// Compiles code into a function bound to the read-only globals and keeps it in the registry;
    /// <paramref name="functionRef"/> is its reference. Null on success, else Lua's compile error.
    /// </summary>
    public string? Compile(ReadOnlySpan<byte> code, string chunkName, out int functionRef)
    {
        IntPtr L = _state;
        int top = Lua.lua_gettop(L);
        functionRef = 0;
        try
        {
            if (Lua.Load(L, code, chunkName) != 0) return Lua.ToStringOrNull(L, -1) ?? "unknown error";
            Lua.lua_rawgeti(L, Lua.RegistryIndex, _bindRef);
            Lua.lua_insert(L, -2);
            if (Lua.lua_pcall(L, 1, 1, 0) != 0) return Lua.ToStringOrNull(L, -1) ?? "unknown error";
            functionRef = Lua.luaL_ref(L, Lua.RegistryIndex);
            return null;
        }
        finally { Lua.lua_settop(L, top); }
    }

    /// <summary>Drops a compiled function or callback kept in the registry.</summary>
    public void Forget(int functionRef)
    {
        if (functionRef > 0) Lua.luaL_unref(_state, Lua.RegistryIndex, functionRef);
    }

    private int _runTop;

    /// <summary>
    /// Prepares a run of a compiled function for <paramref name="run"/>: EVAL scripts get KEYS and ARGV
    /// as globals, functions get them as their two arguments. Keys and arguments are the caller's
    /// arguments from <paramref name="firstKey"/> on. Then <see cref="Call"/> runs it (possibly on the
    /// script thread) and <see cref="Finish"/> writes the result or error to the caller.
    /// </summary>
    public void Begin(ScriptRun run, int functionRef, int firstKey, int numKeys, bool asGlobals)
    {
        IntPtr L = _state;
        var caller = run.Caller;
        _runTop = Lua.lua_gettop(L);
        Current = run;
        var client = ScriptClient;
        client.Db = caller.Db;
        client.DbIndex = caller.DbIndex;
        client.Reply.Protocol = 2;
        client.User = caller.User;
        if (caller.InMulti) client.Flags |= ClientFlags.Multi;
        Lua.lua_checkstack(L, 8);
        Lua.lua_rawgeti(L, Lua.RegistryIndex, _handlerRef);
        Lua.lua_rawgeti(L, Lua.RegistryIndex, functionRef);
        _runArgs = 0;
        if (asGlobals)
        {
            // KEYS and ARGV go straight into the hidden globals table.
            Lua.lua_rawgeti(L, Lua.RegistryIndex, _hiddenRef);
            Lua.PushBytes(L, "KEYS"u8);
            PushArgTable(caller, firstKey, numKeys);
            Lua.lua_rawset(L, -3);
            Lua.PushBytes(L, "ARGV"u8);
            PushArgTable(caller, firstKey + numKeys, caller.Argc - firstKey - numKeys);
            Lua.lua_rawset(L, -3);
            Lua.Pop(L, 1);
        }
        else
        {
            PushArgTable(caller, firstKey, numKeys);
            PushArgTable(caller, firstKey + numKeys, caller.Argc - firstKey - numKeys);
            _runArgs = 2;
        }
    }

    private int _runArgs;

    /// <summary>Runs the prepared function; returns Lua's status.</summary>
    public int Call() => Lua.lua_pcall(_state, _runArgs, 1, _runTop + 1);

    /// <summary>Writes the run's result (or error) to its caller and ends the run.</summary>
    public void Finish(int status)
    {
        IntPtr L = _state;
        var run = Current!;
        var caller = run.Caller;
        var client = ScriptClient;
        try
        {
            if (++_gcCounter == GcCyclePeriod)
            {
                Lua.lua_gc(L, Lua.GcStep, GcCyclePeriod);
                _gcCounter = 0;
            }
            if (status != 0) WriteRunError(run, caller);
            else LuaReplies.WriteReply(L, caller, client.Reply.Protocol);
            // A killed script left a hook that fails any Lua code: replaced through the C API first.
            if (run.KillRequested) ArmHook();
        }
        finally
        {
            Lua.lua_settop(L, _runTop);
            client.Flags &= ~ClientFlags.Multi;
            client.User = _server.Acl.DefaultUser;
            Current = null;
        }
    }

    private void PushArgTable(Client c, int from, int count)
    {
        IntPtr L = _state;
        Lua.lua_createtable(L, count, 0);
        for (int i = 0; i < count; i++)
        {
            Lua.PushBytes(L, c.Arg(from + i));
            Lua.lua_rawseti(L, -2, i + 1);
        }
    }

    /// <summary>The caller's reply for a failed run (luaCallFunction's error branch).</summary>
    private void WriteRunError(ScriptRun run, Client caller)
    {
        IntPtr L = _state;
        if (Lua.lua_type(L, -1) != Lua.TTable)
        {
            string msg = Lua.ToStringOrNull(L, -1) ?? "execution failure";
            if (msg.Length > 100) msg = msg[..100];
            caller.Reply.Error($"Error running script {run.Name}, {msg}\n");
            return;
        }
        var info = LuaReplies.ExtractErrorInformation(L);
        string final = "-" + info.Message;
        if (info.Line != null && info.Source != null) final += $" script: {run.Name}, on {info.Source}:{info.Line}.";
        LuaReplies.WriteError(caller, final, info.IgnoreStats);
    }

    /// <summary>Bytes the interpreter holds (used_memory_lua).</summary>
    public long MemoryBytes => Lua.lua_gc(_state, Lua.GcCount, 0) * 1024L + Lua.lua_gc(_state, Lua.GcCountB, 0);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Lua.lua_close(_state);
        if (_self.IsAllocated) _self.Free();
    }

    /// <summary>
    /// The periodic check of a running script (from the count hook): serves other clients once the
    /// script runs past the busy threshold; true when SCRIPT KILL or FUNCTION KILL asked it to stop
    /// (or a library load ran out of time).
    /// </summary>
    private bool Interrupt(out string? message)
    {
        message = null;
        if (Current is { } running) _server.ProcessEventsWhileBlocked(running);
        if (_loading != null && System.Diagnostics.Stopwatch.GetTimestamp() > _loadDeadline)
        {
            message = "ERR FUNCTION LOAD timeout";
            _loadTimedOut = 1;
            return true;
        }
        if (Current is not { } run || !run.KillRequested) return false;
        _server.Log.Warning("Lua script killed by user with SCRIPT KILL.");
        message = "ERR Script killed by user with SCRIPT KILL...";
        return true;
    }
}
