using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Redoubt.Server;

/// <summary>
/// What the operating system reports about this process, for INFO server/memory/cpu: uname, resident
/// set size, physical memory and CPU times (getrusage), each with a portable fallback.
/// </summary>
public static class ProcessMetrics
{
    [StructLayout(LayoutKind.Sequential)]
    private struct TimeVal { public long Sec, Usec; }

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public TimeVal UserTime, SystemTime;
        public long MaxRss, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NVcsw, NIvcsw;
    }

    private const int RusageSelf = 0, RusageChildren = -1, RusageThread = 1;

    [DllImport("libc", SetLastError = true)] private static extern int getrusage(int who, out RUsage usage);
    [DllImport("libc", SetLastError = true)] private static extern int uname(byte[] buf);

    /// <summary>CPU time as (system, user), in microseconds.</summary>
    public readonly record struct CpuTimes(long SystemMicros, long UserMicros);

    private static CpuTimes? Rusage(int who)
    {
        try
        {
            if (getrusage(who, out var ru) != 0) return null;
            return new CpuTimes(ru.SystemTime.Sec * 1_000_000 + ru.SystemTime.Usec, ru.UserTime.Sec * 1_000_000 + ru.UserTime.Usec);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    public static CpuTimes Self()
    {
        if (Rusage(RusageSelf) is { } t) return t;
        using var p = Process.GetCurrentProcess();
        return new CpuTimes((long)p.PrivilegedProcessorTime.TotalMicroseconds, (long)p.UserProcessorTime.TotalMicroseconds);
    }

    public static CpuTimes Children() => Rusage(RusageChildren) ?? new CpuTimes(0, 0);

    /// <summary>The calling thread's CPU time: commands execute on the I/O thread that received them.</summary>
    public static CpuTimes CurrentThread() => Rusage(RusageThread) ?? Self();

    /// <summary>"%ld.%06ld" of a microsecond count.</summary>
    public static string Seconds(long micros) => $"{micros / 1_000_000}.{micros % 1_000_000:D6}";

    private static string? _uname;

    /// <summary>"sysname release machine", as INFO's os field (cached: it never changes).</summary>
    public static string OsString => _uname ??= ReadUname();

    private static string ReadUname()
    {
        try
        {
            // struct utsname on Linux: six fields of 65 bytes each.
            var buf = new byte[6 * 65 + 64];
            if (uname(buf) == 0)
            {
                string Field(int i)
                {
                    var span = buf.AsSpan(i * 65, 65);
                    int nul = span.IndexOf((byte)0);
                    return System.Text.Encoding.ASCII.GetString(nul < 0 ? span : span[..nul]);
                }
                return $"{Field(0)} {Field(2)} {Field(4)}";
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        return $"{RuntimeInformation.OSDescription} {RuntimeInformation.OSArchitecture}";
    }

    /// <summary>Resident set size in bytes (/proc/self/statm), or the working set where /proc is absent.</summary>
    public static long ResidentSetSize()
    {
        try
        {
            string statm = File.ReadAllText("/proc/self/statm");
            var parts = statm.Split(' ');
            if (parts.Length > 1 && long.TryParse(parts[1], out long pages)) return pages * Environment.SystemPageSize;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return Environment.WorkingSet;
    }

    private static long _totalSystemMemory = -1;

    /// <summary>Physical memory of the machine in bytes (MemTotal), cached.</summary>
    public static long TotalSystemMemory
    {
        get
        {
            if (_totalSystemMemory >= 0) return _totalSystemMemory;
            long total = 0;
            try
            {
                foreach (var line in File.ReadLines("/proc/meminfo"))
                {
                    if (!line.StartsWith("MemTotal:", StringComparison.Ordinal)) continue;
                    var num = line["MemTotal:".Length..].Trim().Split(' ')[0];
                    if (long.TryParse(num, out long kb)) total = kb * 1024;
                    break;
                }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            if (total == 0) total = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
            return _totalSystemMemory = total;
        }
    }
}
