using System.Runtime.InteropServices;

namespace Redoubt.Server.Scripting;

/// <summary>
/// Native entry points for the managed Lua C functions. A Lua error is a longjmp that must never cross
/// a managed frame, yet redis.call must raise as a genuine C function does (a Lua wrapper would be
/// tail-called away and the error would lose the user's line). So each managed function is called
/// through a few bytes of x86-64 code: the managed function returns its result count, or -1 after
/// pushing an error value, in which case the thunk, with the managed frame already gone, jumps to
/// lua_error. The code is written once per process into one page, then made read-only and executable.
/// </summary>
internal static unsafe partial class NativeThunk
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4, MapPrivate = 2, MapAnonymous = 0x20;
    private const int ThunkSize = 40;

    [LibraryImport("libc")] private static partial IntPtr mmap(IntPtr addr, nuint length, int prot, int flags, int fd, nint offset);
    [LibraryImport("libc")] private static partial int mprotect(IntPtr addr, nuint len, int prot);

    public static bool Supported => RuntimeInformation.ProcessArchitecture == Architecture.X64 && OperatingSystem.IsLinux();

    /// <summary>Thunks for the given managed functions, in order; null when the platform has no thunk code.</summary>
    public static IntPtr[]? Create(IntPtr luaError, params IntPtr[] managed)
    {
        if (!Supported) return null;
        nuint size = (nuint)Math.Max(4096, managed.Length * ThunkSize);
        IntPtr page = mmap(IntPtr.Zero, size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (page == new IntPtr(-1) || page == IntPtr.Zero) return null;
        var result = new IntPtr[managed.Length];
        for (int i = 0; i < managed.Length; i++)
        {
            byte* p = (byte*)page + i * ThunkSize;
            result[i] = (IntPtr)p;
            int k = 0;
            void Emit(params byte[] bytes) { foreach (var b in bytes) p[k++] = b; }
            void Emit64(long v) { *(long*)(p + k) = v; k += 8; }
            Emit(0x53);                   // push rbx          (also aligns the stack for the call)
            Emit(0x48, 0x89, 0xFB);       // mov rbx, rdi      (keep L)
            Emit(0x48, 0xB8);             // mov rax, imm64
            Emit64(managed[i]);
            Emit(0xFF, 0xD0);             // call rax          (the managed function)
            Emit(0x85, 0xC0);             // test eax, eax
            Emit(0x78, 0x02);             // js raise
            Emit(0x5B);                   // pop rbx
            Emit(0xC3);                   // ret               (the result count)
            Emit(0x48, 0x89, 0xDF);       // raise: mov rdi, rbx
            Emit(0x5B);                   // pop rbx
            Emit(0x48, 0xB8);             // mov rax, imm64
            Emit64(luaError);
            Emit(0xFF, 0xE0);             // jmp rax           (lua_error(L) does not return)
        }
        if (mprotect(page, size, ProtRead | ProtExec) != 0) return null;
        return result;
    }
}
