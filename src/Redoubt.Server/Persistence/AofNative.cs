using System.Runtime.InteropServices;
using System.Text;

namespace Redoubt.Server.Persistence;

/// <summary>
/// The few POSIX calls the AOF needs with their exact semantics: an O_APPEND descriptor, write(2)
/// that may be short, fdatasync(2), ftruncate(2) to undo a partial write, and errno for the messages.
/// </summary>
internal static class AofNative
{
    private const int O_WRONLY = 1, O_CREAT = 0x40, O_APPEND = 0x400, O_CLOEXEC = 0x80000;

    [DllImport("libc", SetLastError = true)]
    private static extern int open(byte[] path, int flags, int mode);

    [DllImport("libc", SetLastError = true)]
    private static extern nint write(int fd, ref byte buf, nint count);

    [DllImport("libc", SetLastError = true)]
    public static extern int fdatasync(int fd);

    [DllImport("libc", SetLastError = true)]
    public static extern int fsync(int fd);

    [DllImport("libc", SetLastError = true)]
    public static extern int ftruncate(int fd, long length);

    [DllImport("libc", SetLastError = true)]
    public static extern long lseek(int fd, long offset, int whence);

    [DllImport("libc", SetLastError = true)]
    public static extern int close(int fd);

    public static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>Opens for appending, creating with mode 0644; -1 with errno on failure.</summary>
    public static int OpenAppend(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        return open(bytes, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, Convert.ToInt32("644", 8));
    }

    /// <summary>
    /// Writes all of <paramref name="data"/>, retrying short writes as Redis's aofWrite does; returns
    /// the bytes written (less than asked, or -1 when nothing was, with errno set).
    /// </summary>
    public static long WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        int total = 0;
        while (total < data.Length)
        {
            nint n = write(fd, ref MemoryMarshal.GetReference(data[total..]), data.Length - total);
            if (n == -1)
            {
                if (LastErrno == 4) continue; // EINTR
                return total > 0 ? total : -1;
            }
            if (n == 0) break;
            total += (int)n;
        }
        return total;
    }

    /// <summary>Writes a whole file to disk with fsync (base files, manifests).</summary>
    public static void FsyncPath(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        fs.Flush(flushToDisk: true);
    }

    /// <summary>fsync of a directory, so a rename into it survives a crash.</summary>
    public static void FsyncDirectory(string dir)
    {
        var bytes = Encoding.UTF8.GetBytes(dir + "\0");
        int fd = open(bytes, 0 /* O_RDONLY */, 0);
        if (fd < 0) return;
        fsync(fd);
        close(fd);
    }
}
