using System.Runtime.InteropServices;
using Redoubt.Server.Logging;

namespace Redoubt.Server.Config;

/// <summary>
/// Keeps maxclients within what the process may open: raises RLIMIT_NOFILE to maxclients + 32 reserved
/// descriptors when it can, and otherwise lowers maxclients to fit, as Redis does at start-up and when
/// maxclients is changed.
/// </summary>
public static class OpenFilesLimit
{
    public const int ReservedFds = 32;
    private const int RLIMIT_NOFILE = 7;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Cur, Max;
    }

    [DllImport("libc", SetLastError = true)] private static extern int getrlimit(int resource, out RLimit limit);
    [DllImport("libc", SetLastError = true)] private static extern int setrlimit(int resource, ref RLimit limit);

    /// <summary>
    /// Returns null when maxclients fits, otherwise (at run time) the CONFIG SET error; at start-up a limit
    /// too low to run at all returns the message to exit with.
    /// </summary>
    public static string? Adjust(ServerConfig config, ServerLog? log, bool atStartup)
    {
        long requested = config.MaxClients;
        // maxclients is a 32-bit unsigned number in Redis and so is this sum: it wraps for the largest values.
        ulong maxFiles = unchecked((uint)requested + (uint)ReservedFds);
        if (getrlimit(RLIMIT_NOFILE, out var limit) != 0)
        {
            log?.Warning($"Unable to obtain the current NOFILE limit ({Errno.Message(Marshal.GetLastPInvokeError())}), assuming 1024 and setting the max clients configuration accordingly.");
            config.MaxClients = 1024 - ReservedFds;
            return Result(config, requested, atStartup);
        }
        ulong oldLimit = limit.Cur;
        if (oldLimit >= maxFiles) return null;

        // Try the full amount, then step down 16 at a time like Redis. Rather than one system call per
        // step, jump to the first step under each ceiling the kernel could be enforcing.
        ulong best = maxFiles;
        int error = 0;
        var candidates = new List<ulong> { maxFiles };
        foreach (ulong ceiling in new[] { limit.Max, ReadNrOpen() })
        {
            if (ceiling >= maxFiles || ceiling <= oldLimit) continue;
            ulong steps = (maxFiles - ceiling + 15) / 16;
            candidates.Add(maxFiles - steps * 16);
        }
        candidates.Sort((a, b) => b.CompareTo(a));
        bool raised = false;
        foreach (ulong candidate in candidates)
        {
            if (candidate <= oldLimit) break;
            var attempt = new RLimit { Cur = candidate, Max = candidate };
            if (setrlimit(RLIMIT_NOFILE, ref attempt) == 0)
            {
                best = candidate;
                raised = true;
                break;
            }
            error = Marshal.GetLastPInvokeError();
        }
        if (!raised) best = oldLimit;

        if (best < maxFiles)
        {
            config.MaxClients = (long)best - ReservedFds;
            if (best <= ReservedFds)
                return $"Your current 'ulimit -n' of {oldLimit} is not enough for the server to start. Please increase your open file limit to at least {maxFiles}. Exiting.";
            log?.Warning($"You requested maxclients of {requested} requiring at least {maxFiles} max file descriptors.");
            log?.Warning($"Server can't set maximum open files to {maxFiles} because of OS error: {Errno.Message(error)}.");
            log?.Warning($"Current maximum open files is {best}. maxclients has been reduced to {config.MaxClients} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.");
            return Result(config, requested, atStartup);
        }
        log?.Notice($"Increased maximum number of open files to {maxFiles} (it was originally set to {oldLimit}).");
        return null;
    }

    private static string? Result(ServerConfig config, long requested, bool atStartup)
    {
        if (atStartup || config.MaxClients == requested) return null;
        return $"The operating system is not able to handle the specified number of clients, try with {config.MaxClients}";
    }

    private static ulong ReadNrOpen()
    {
        try { return ulong.Parse(File.ReadAllText("/proc/sys/fs/nr_open").Trim(), System.Globalization.CultureInfo.InvariantCulture); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException) { return ulong.MaxValue; }
    }
}
