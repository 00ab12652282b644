using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Persistence;
using Redoubt.Server.Scripting;

namespace Redoubt.Server;

/// <summary>
/// Redis 7 functions: libraries loaded by FUNCTION LOAD into their own interpreter, the functions they
/// register (names are case-insensitive, library names are not), FUNCTION DUMP/RESTORE payloads, and
/// the libraries' place in RDB files (opcode FUNCTION2) and AOF rewrites (FUNCTION LOAD commands).
/// </summary>
public sealed partial class RedisServer
{
    private LuaEngine? _functionEngine;
    private readonly Dictionary<string, FunctionLibrary> _libraries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FunctionInfo> _functions = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyCollection<FunctionLibrary> FunctionLibraries => _libraries.Values;

    internal LuaEngine? FunctionEngine(out string? error)
    {
        error = null;
        if (_functionEngine != null) return _functionEngine;
        _functionEngine = LuaEngine.Create(this, out error);
        return _functionEngine;
    }

    public FunctionInfo? FindFunction(ReadOnlySpan<byte> name) =>
        _functions.GetValueOrDefault(Encoding.UTF8.GetString(name));

    /// <summary>
    /// Reads a library's "#!engine name=lib" first line (functionExtractLibMetaData): the engine, the
    /// library name and the line's length, or Redis's error.
    /// </summary>
    internal static (string Engine, string Name, int ShebangLength)? ParseLibraryShebang(ReadOnlySpan<byte> code, out string? error)
    {
        error = "Missing library metadata";
        if (!code.StartsWith("#!"u8)) return null;
        error = "Invalid library metadata";
        int end = code.IndexOf((byte)'\n');
        if (end < 0) return null;
        if (!Protocol.InlineSplitter.Split(code[..end], out var parts) || parts.Count == 0) return null;
        string engine = Encoding.Latin1.GetString(parts[0])[2..];
        string? name = null;
        for (int i = 1; i < parts.Count; i++)
        {
            string part = Encoding.UTF8.GetString(parts[i]);
            if (!part.StartsWith("name=", StringComparison.OrdinalIgnoreCase))
            {
                error = "Invalid metadata value given: " + part;
                return null;
            }
            if (name != null)
            {
                error = "Invalid metadata value, name argument was given multiple times";
                return null;
            }
            name = part[5..];
        }
        if (name is null)
        {
            error = "Library name was not given";
            return null;
        }
        error = null;
        return (engine, name, end);
    }

    /// <summary>
    /// Compiles and runs a library's code into a new library (functionsCreateWithLibraryCtx, without
    /// linking it); null with <paramref name="error"/> on failure.
    /// </summary>
    private FunctionLibrary? CompileLibrary(byte[] code, int timeoutMs, out string? error)
    {
        if (ParseLibraryShebang(code, out error) is not { } md) return null;
        if (!LuaEngine.IsValidName(md.Name))
        {
            error = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";
            return null;
        }
        if (!md.Engine.Equals("lua", StringComparison.OrdinalIgnoreCase))
        {
            error = $"Engine '{md.Engine}' not found";
            return null;
        }
        var engine = FunctionEngine(out string? unavailable);
        if (engine is null)
        {
            error = "Scripting is not available on this server: " + unavailable;
            return null;
        }
        var lib = new FunctionLibrary { Name = md.Name, Code = code };
        // The shebang line is dropped but its line feed kept, so line numbers stay the user's.
        error = engine.LoadLibrary(lib, code.AsSpan(md.ShebangLength), timeoutMs);
        if (error != null) return null;
        if (lib.Functions.Count == 0)
        {
            error = "No functions registered";
            return null;
        }
        return lib;
    }

    /// <summary>FUNCTION LOAD [REPLACE]: loads a library; its name, or null with <paramref name="error"/>.</summary>
    internal string? LoadFunctionLibrary(byte[] code, bool replace, int timeoutMs, out string? error)
    {
        if (ParseLibraryShebang(code, out _) is { } md && _libraries.ContainsKey(md.Name) && !replace && LuaEngine.IsValidName(md.Name) &&
            md.Engine.Equals("lua", StringComparison.OrdinalIgnoreCase))
        {
            error = $"Library '{md.Name}' already exists";
            return null;
        }
        var lib = CompileLibrary(code, timeoutMs, out error);
        if (lib is null) return null;
        _libraries.TryGetValue(lib.Name, out var old);
        foreach (var f in lib.Functions)
        {
            if (_functions.TryGetValue(f.Name, out var existing) && existing.Library != old)
            {
                _functionEngine!.ForgetFunctions(lib);
                error = $"Function {f.Name} already exists";
                return null;
            }
        }
        if (old != null) UnlinkLibrary(old);
        LinkLibrary(lib);
        UpdateFunctionStatus();
        return lib.Name;
    }

    private void LinkLibrary(FunctionLibrary lib)
    {
        _libraries[lib.Name] = lib;
        foreach (var f in lib.Functions) _functions[f.Name] = f;
    }

    private void UnlinkLibrary(FunctionLibrary lib)
    {
        _libraries.Remove(lib.Name);
        foreach (var f in lib.Functions) _functions.Remove(f.Name);
        _functionEngine?.ForgetFunctions(lib);
    }

    /// <summary>FUNCTION DELETE: false when there is no such library.</summary>
    internal bool DeleteFunctionLibrary(string name)
    {
        if (!_libraries.TryGetValue(name, out var lib)) return false;
        UnlinkLibrary(lib);
        UpdateFunctionStatus();
        return true;
    }

    /// <summary>FUNCTION FLUSH, and a full resync or DEBUG RELOAD replacing everything: no libraries, a fresh interpreter.</summary>
    internal void FlushFunctions()
    {
        _libraries.Clear();
        _functions.Clear();
        _functionEngine?.Dispose();
        _functionEngine = null;
        UpdateFunctionStatus();
    }

    /// <summary>
    /// Loads libraries read from an RDB (opcode FUNCTION2) or a FUNCTION RESTORE payload. With
    /// <paramref name="replace"/> a library of the same name is replaced; otherwise it is an error.
    /// </summary>
    internal string? RestoreFunctionLibraries(List<byte[]> codes, bool replace)
    {
        var loaded = new List<FunctionLibrary>();
        string? error = null;
        foreach (var code in codes)
        {
            var lib = CompileLibrary(code, 0, out error);
            if (lib is null) break;
            loaded.Add(lib);
        }
        if (error == null)
        {
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var lib in loaded)
            {
                if (!replace && _libraries.ContainsKey(lib.Name)) { error = $"Library {lib.Name} already exists"; break; }
                foreach (var f in lib.Functions)
                {
                    bool clash = (_functions.TryGetValue(f.Name, out var existing) && !(replace && existing.Library.Name == lib.Name)) || !names.Add(f.Name);
                    if (clash) { error = $"Function {f.Name} already exists"; break; }
                }
                if (error != null) break;
            }
        }
        if (error != null)
        {
            foreach (var lib in loaded) _functionEngine?.ForgetFunctions(lib);
            return error;
        }
        foreach (var lib in loaded)
        {
            if (_libraries.TryGetValue(lib.Name, out var old)) UnlinkLibrary(old);
            LinkLibrary(lib);
        }
        UpdateFunctionStatus();
        return null;
    }

    /// <summary>FUNCTION DUMP's payload: each library as FUNCTION2 and its code, then the RDB version and CRC64.</summary>
    internal byte[] DumpFunctions()
    {
        var e = new RdbEncoder(this, Config.RdbCompression, 1024);
        foreach (var lib in _libraries.Values)
        {
            e.WriteByte(Rdb.OpFunction2);
            e.WriteString(lib.Code);
        }
        e.WriteByte(Rdb.Version & 0xFF);
        e.WriteByte(Rdb.Version >> 8);
        e.WriteInt64LE((long)Crc64.Update(0, e.Written));
        return e.Written.ToArray();
    }

    private void UpdateFunctionStatus()
    {
        var s = ScriptingStatus;
        s.NumberOfLibraries = _libraries.Count;
        s.NumberOfFunctions = _functions.Count;
        s.UsedMemoryVmFunctions = _functionEngine?.MemoryBytes ?? 0;
        long code = 0;
        foreach (var lib in _libraries.Values) code += lib.Code.Length + 64 + lib.Functions.Count * 96;
        s.UsedMemoryFunctions = code;
    }

    internal void AfterFunctionRun() => ScriptingStatus.UsedMemoryVmFunctions = _functionEngine?.MemoryBytes ?? 0;
}
