using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Redoubt.Server.Scripting;

/// <summary>One function of a library, as FUNCTION LIST shows it; its callback lives in the Lua registry.</summary>
public sealed class FunctionInfo
{
    public required string Name;
    public string? Description;
    public ScriptFlags Flags;
    /// <summary>The callback's reference in the functions interpreter's registry.</summary>
    public required int Ref;
    public required FunctionLibrary Library;
}

/// <summary>A library loaded by FUNCTION LOAD: its name, its whole code (with the shebang) and its functions.</summary>
public sealed class FunctionLibrary
{
    public required string Name;
    public required byte[] Code;
    public readonly List<FunctionInfo> Functions = new();
}

public sealed unsafe partial class LuaEngine
{
    private FunctionLibrary? _loading;
    private long _loadDeadline;
    private int _loadTimedOut;

    /// <summary>The time a library's code may run while it loads (Redis's LOAD_TIMEOUT_MS).</summary>
    public const int LoadTimeoutMs = 500;

    /// <summary>
    /// Runs a library's code (after its shebang line) with the library API as its globals, collecting
    /// the functions it registers. Returns null, or Redis's error. <paramref name="timeoutMs"/> 0 means
    /// no limit (a library replayed from the master, the AOF or an RDB).
    /// </summary>
    public string? LoadLibrary(FunctionLibrary library, ReadOnlySpan<byte> code, int timeoutMs)
    {
        IntPtr L = _state;
        int top = Lua.lua_gettop(L);
        if (Compile(code, "@user_function", out int chunkRef) is string compileError) return "Error compiling function: " + compileError;
        _loading = library;
        _loadDeadline = timeoutMs > 0 ? System.Diagnostics.Stopwatch.GetTimestamp() + timeoutMs * System.Diagnostics.Stopwatch.Frequency / 1000 : long.MaxValue;
        try
        {
            SetLoadMode(true);
            Lua.lua_rawgeti(L, Lua.RegistryIndex, _handlerRef);
            Lua.lua_rawgeti(L, Lua.RegistryIndex, chunkRef);
            int status = Lua.lua_pcall(L, 0, 0, top + 1);
            // A timed-out load left the hook that fails any Lua code: install the normal one again.
            if (Interlocked.Exchange(ref _loadTimedOut, 0) != 0) ArmHook();
            if (status != 0)
            {
                string msg = Lua.lua_type(L, -1) == Lua.TTable
                    ? LuaReplies.ExtractErrorInformation(L).Message
                    : Lua.ToStringOrNull(L, -1) ?? "unknown error";
                ForgetFunctions(library);
                return "Error registering functions: " + msg;
            }
            return null;
        }
        finally
        {
            SetLoadMode(false);
            _loading = null;
            Forget(chunkRef);
            Lua.lua_settop(L, top);
        }
    }

    private void SetLoadMode(bool on)
    {
        IntPtr L = _state;
        Lua.lua_rawgeti(L, Lua.RegistryIndex, _loadModeRef);
        Lua.lua_pushboolean(L, on ? 1 : 0);
        Lua.lua_pcall(L, 1, 0, 0);
        Lua.lua_settop(L, Lua.lua_gettop(L));
    }

    /// <summary>Drops the callbacks of a library that is being freed (or failed to load).</summary>
    public void ForgetFunctions(FunctionLibrary library)
    {
        foreach (var f in library.Functions) Forget(f.Ref);
        library.Functions.Clear();
    }

    /// <summary>raw.register(name, callback, "flag,flag", description): records a function of the library loading.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ApiRegisterFunction(IntPtr L)
    {
        try
        {
            var engine = FromUpvalue(L);
            var lib = engine._loading;
            if (lib is null) return Fail(L, "redis.register_function can only be called on FUNCTION LOAD command");
            string name = Lua.ToStringOrNull(L, 1) ?? "";
            string flagList = Lua.ToStringOrNull(L, 3) ?? "";
            string? description = Lua.lua_type(L, 4) == Lua.TString ? Lua.ToStringOrNull(L, 4) : null;
            if (!IsValidName(name))
                // (Redis says "Library names" here too.)
                return Fail(L, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
            foreach (var f in lib.Functions)
                if (f.Name == name) return Fail(L, "Function already exists in the library");
            var flags = ScriptFlags.None;
            if (flagList.Length > 0)
            {
                foreach (var part in flagList.Split(','))
                {
                    if (ScriptRun.ParseFlag(part) is not { } flag) return Fail(L, "unknown flag given");
                    flags |= flag;
                }
            }
            Lua.lua_pushvalue(L, 2);
            int callbackRef = Lua.luaL_ref(L, Lua.RegistryIndex);
            lib.Functions.Add(new FunctionInfo { Name = name, Description = description, Flags = flags, Ref = callbackRef, Library = lib });
            return 0;
        }
        catch (Exception e) { return Fail(L, e.Message); }
    }

    /// <summary>Letters, digits and underscores, at least one (functionsVerifyName).</summary>
    public static bool IsValidName(string name)
    {
        if (name.Length == 0) return false;
        foreach (char ch in name)
            if (!(ch is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_')) return false;
        return true;
    }
}
