using System.Runtime.InteropServices;
using System.Text;

namespace Redoubt.Server.Config;

/// <summary>strerror-style texts for file-system failures, as Redis prints them in its errors.</summary>
public static class Errno
{
    public const int ENOENT = 2;

    public static string Describe(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => Message(ENOENT),
        UnauthorizedAccessException => "Permission denied",
        PathTooLongException => "File name too long",
        // On Unix the runtime keeps the raw errno as the HResult of generic I/O errors.
        IOException io when io.HResult is > 0 and < 4096 => Message(io.HResult),
        _ => e.Message,
    };

    public static string Message(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    [DllImport("libc", SetLastError = true)]
    private static extern int chdir(byte[] path);

    /// <summary>chdir(2) with the exact bytes of the path; returns null or the strerror text.</summary>
    public static string? ChangeDirectory(string path)
    {
        var bytes = new byte[Encoding.Latin1.GetByteCount(path) + 1];
        Encoding.Latin1.GetBytes(path, bytes);
        if (chdir(bytes) == 0) return null;
        return Message(Marshal.GetLastPInvokeError());
    }
}
