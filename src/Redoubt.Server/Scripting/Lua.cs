using System.Runtime.InteropServices;

namespace Redoubt.Server.Scripting;

/// <summary>
/// The Lua 5.1 C API, bound to the system's liblua5.1 (Debian: liblua5.1-0), the same language version
/// Redis embeds, so numbers, string formatting and the standard library behave as in Redis scripts.
/// The cjson and bit libraries come from Debian's lua-cjson and lua-bitop, which Redis embeds too;
/// they resolve their lua_* symbols from the global scope, so liblua is loaded with RTLD_GLOBAL first.
///
/// A Lua error is a longjmp, which must never cross a managed frame: managed callbacks never raise
/// themselves; they ask their native thunk to (see <see cref="NativeThunk"/>). API calls made from
/// managed code outside a protected call use only functions that cannot raise.
/// </summary>
internal static unsafe partial class Lua
{
    private const string Lib = "liblua5.1.so.0";

    public const int RegistryIndex = -10000;
    public const int GlobalsIndex = -10002;
    public const int MultRet = -1;

    public const int TNone = -1, TNil = 0, TBoolean = 1, TLightUserdata = 2, TNumber = 3, TString = 4, TTable = 5, TFunction = 6;

    public const int GcCollect = 2, GcCount = 3, GcCountB = 4, GcStep = 5;

    public static int UpvalueIndex(int i) => GlobalsIndex - i;

    private static readonly Lazy<string?> LoadError = new(LoadNative);

    /// <summary>Null when the Lua runtime is available, else why not (for the error reply).</summary>
    public static string? Unavailable => LoadError.Value;

    private static IntPtr _libHandle;

    private static string? LoadNative()
    {
        try
        {
            // RTLD_NOW | RTLD_GLOBAL: the C libraries loaded next find the interpreter's symbols.
            _libHandle = dlopen(Lib, 0x2 | 0x100);
            if (_libHandle == IntPtr.Zero) return $"{Lib} not found (install liblua5.1-0)";
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return e.Message;
        }
    }

    /// <summary>The address of a luaopen_* function in liblua or in a C library next to it; zero if absent.</summary>
    public static IntPtr OpenFunction(string? library, string symbol)
    {
        IntPtr handle = _libHandle;
        if (library != null)
        {
            handle = dlopen(library, 0x2);
            if (handle == IntPtr.Zero) return IntPtr.Zero;
        }
        return NativeLibrary.TryGetExport(handle, symbol, out var address) ? address : IntPtr.Zero;
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr dlopen(string file, int mode);

    [LibraryImport(Lib)] public static partial IntPtr luaL_newstate();
    [LibraryImport(Lib)] public static partial void lua_close(IntPtr L);

    [LibraryImport(Lib)] public static partial int lua_gettop(IntPtr L);
    [LibraryImport(Lib)] public static partial void lua_settop(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial void lua_pushvalue(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial void lua_remove(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial void lua_insert(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial int lua_checkstack(IntPtr L, int extra);

    [LibraryImport(Lib)] public static partial int lua_type(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial double lua_tonumber(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial int lua_isnumber(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial int lua_toboolean(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial byte* lua_tolstring(IntPtr L, int idx, out nuint len);
    [LibraryImport(Lib)] public static partial IntPtr lua_touserdata(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial nuint lua_objlen(IntPtr L, int idx);

    [LibraryImport(Lib)] public static partial void lua_pushnil(IntPtr L);
    [LibraryImport(Lib)] public static partial void lua_pushnumber(IntPtr L, double n);
    [LibraryImport(Lib)] public static partial void lua_pushlstring(IntPtr L, byte* s, nuint len);
    [LibraryImport(Lib)] public static partial void lua_pushboolean(IntPtr L, int b);
    [LibraryImport(Lib)] public static partial void lua_pushlightuserdata(IntPtr L, IntPtr p);
    [LibraryImport(Lib)] public static partial void lua_pushcclosure(IntPtr L, IntPtr fn, int n);

    [LibraryImport(Lib)] public static partial void lua_rawget(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial void lua_rawgeti(IntPtr L, int idx, int n);
    [LibraryImport(Lib)] public static partial void lua_rawset(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial void lua_rawseti(IntPtr L, int idx, int n);
    [LibraryImport(Lib)] public static partial void lua_createtable(IntPtr L, int narr, int nrec);
    [LibraryImport(Lib)] public static partial int lua_next(IntPtr L, int idx);
    [LibraryImport(Lib)] public static partial int lua_setmetatable(IntPtr L, int idx);

    [LibraryImport(Lib)] public static partial void lua_call(IntPtr L, int nargs, int nresults);
    [LibraryImport(Lib)] public static partial int lua_pcall(IntPtr L, int nargs, int nresults, int errfunc);
    [LibraryImport(Lib)] public static partial int luaL_loadbuffer(IntPtr L, byte* buff, nuint size, byte* name);
    [LibraryImport(Lib)] public static partial int lua_gc(IntPtr L, int what, int data);
    [LibraryImport(Lib)] public static partial void luaL_where(IntPtr L, int level);
    [LibraryImport(Lib)] public static partial int luaL_ref(IntPtr L, int t);
    [LibraryImport(Lib)] public static partial void luaL_unref(IntPtr L, int t, int reference);
    [LibraryImport(Lib)] public static partial int lua_sethook(IntPtr L, IntPtr func, int mask, int count);

    // ---- Helpers over the raw API (none of them can raise) ----

    public static void Pop(IntPtr L, int n) => lua_settop(L, -n - 1);

    public static void PushBytes(IntPtr L, ReadOnlySpan<byte> s)
    {
        fixed (byte* p = s) lua_pushlstring(L, p == null ? (byte*)1 : p, (nuint)s.Length);
    }

    public static void PushString(IntPtr L, string s)
    {
        int max = System.Text.Encoding.UTF8.GetMaxByteCount(s.Length);
        Span<byte> buf = max <= 512 ? stackalloc byte[max] : new byte[max];
        int n = System.Text.Encoding.UTF8.GetBytes(s, buf);
        PushBytes(L, buf[..n]);
    }

    /// <summary>The string at idx (numbers are converted in place, as lua_tolstring does); null for other types.</summary>
    public static ReadOnlySpan<byte> ToBytes(IntPtr L, int idx, out bool isString)
    {
        byte* p = lua_tolstring(L, idx, out nuint len);
        isString = p != null;
        return p == null ? default : new ReadOnlySpan<byte>(p, (int)len);
    }

    public static string? ToStringOrNull(IntPtr L, int idx)
    {
        var bytes = ToBytes(L, idx, out bool ok);
        return ok ? System.Text.Encoding.UTF8.GetString(bytes) : null;
    }

    /// <summary>t[key] without metamethods, for the table at idx (a negative idx is taken before the push).</summary>
    public static int RawGetField(IntPtr L, int idx, string key)
    {
        if (idx < 0 && idx > RegistryIndex) idx = lua_gettop(L) + idx + 1;
        PushString(L, key);
        lua_rawget(L, idx);
        return lua_type(L, -1);
    }

    /// <summary>t[key] = top of stack without metamethods; pops the value.</summary>
    public static void RawSetField(IntPtr L, int idx, string key)
    {
        if (idx < 0 && idx > RegistryIndex) idx = lua_gettop(L) + idx + 1;
        PushString(L, key);
        lua_insert(L, -2);
        lua_rawset(L, idx);
    }

    public static void PushFunction(IntPtr L, IntPtr fn, IntPtr upvalue)
    {
        lua_pushlightuserdata(L, upvalue);
        lua_pushcclosure(L, fn, 1);
    }

    /// <summary>Compiles a chunk; 0 and the function on the stack, or an error code and the message.</summary>
    public static int Load(IntPtr L, ReadOnlySpan<byte> code, string chunkName)
    {
        var name = System.Text.Encoding.UTF8.GetBytes(chunkName + "\0");
        fixed (byte* c = code)
        fixed (byte* n = name)
            return luaL_loadbuffer(L, c == null ? (byte*)1 : c, (nuint)code.Length, n);
    }
}
