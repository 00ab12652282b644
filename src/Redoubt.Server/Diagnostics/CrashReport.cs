using System.Runtime.InteropServices;
using System.Text;

namespace Redoubt.Server.Diagnostics;

/// <summary>
/// Redis's bug report: when the process dies of a fatal signal (SIGABRT, DEBUG SEGFAULT) or of an
/// exception nothing handled, the log gets the "=== REDIS BUG REPORT START ===" block with the cause,
/// the managed stack trace where there is one, INFO and CLIENT LIST, then the process ends the way it
/// was going to (by the signal, so a core dump or a supervisor sees the real cause). Operators and
/// test harnesses grep for "crashed by signal" and the banner lines.
/// </summary>
public static class CrashReport
{
    public const int SigAbrt = 6, SigSegv = 11;

    private static int _written;

    /// <summary>Arms the reports for <paramref name="server"/>: unhandled exceptions and SIGABRT.</summary>
    public static IDisposable? Install(RedisServer server)
    {
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            var ex = e.ExceptionObject as Exception;
            Write(server, $"Redis {RedisServer.Version} crashed by an unhandled exception: {ex?.GetType().FullName}: {ex?.Message}",
                ex?.ToString());
        };
        try
        {
            // The runtime accepts raw signal numbers; SIGABRT is not one it handles itself.
            return PosixSignalRegistration.Create((PosixSignal)SigAbrt, ctx =>
            {
                Write(server, $"Redis {RedisServer.Version} crashed by signal: {SigAbrt}, si_code: 0", null);
                // The runtime takes no default action for a raw signal it handed over: die of it here.
                DieBy(SigAbrt);
            });
        }
        catch (Exception e) when (e is PlatformNotSupportedException or IOException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>
    /// DEBUG SEGFAULT: Redis writes through an invalid pointer. Managed code cannot fault that way without
    /// the runtime turning it into an exception or its own abort, so the report is written as Redis's
    /// SIGSEGV handler writes it and the process then dies of SIGSEGV.
    /// </summary>
    public static void Segfault(RedisServer server)
    {
        Write(server, $"Redis {RedisServer.Version} crashed by signal: {SigSegv}, si_code: 1\nAccessing address: 0xffffffffffffffff", Environment.StackTrace);
        DieBy(SigSegv);
    }

    /// <summary>Writes the report once (a second fatal event while writing it adds nothing).</summary>
    public static void Write(RedisServer server, string cause, string? stackTrace)
    {
        if (Interlocked.Exchange(ref _written, 1) != 0) return;
        var log = server.Log;
        log.WriteRaw("\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===\n");
        foreach (var line in cause.Split('\n')) log.Warning(line);
        if (stackTrace != null) log.WriteRaw("\n------ STACK TRACE ------\n" + stackTrace.TrimEnd() + "\n");
        log.WriteRaw("\n------ INFO OUTPUT ------\n" + Safely(() => Commands.ServerCommands.GenerateInfo(server, new HashSet<string>(), all: true)));
        log.WriteRaw("\n------ CLIENT LIST OUTPUT ------\n" + Safely(() => ClientList(server)));
        log.WriteRaw(
            "\n=== REDIS BUG REPORT END. Make sure to include from START to END. ===\n\n" +
            "       Please report the crash by opening an issue on github:\n\n" +
            "           http://github.com/redis/redis/issues\n\n");
        // As Redis: a daemon's pid file does not outlive it.
        if (server.Config.Daemonize && server.Config.PidFile.Length > 0)
            try { File.Delete(server.Config.PidFile); } catch (IOException) { }
    }

    // The server may be in any state when this runs: take no lock, and give up on what fails.
    private static string Safely(Func<string> f)
    {
        try { return f(); }
        catch (Exception e) { return $"(unavailable: {e.GetType().Name})\n"; }
    }

    private static string ClientList(RedisServer server)
    {
        var s = new StringBuilder();
        foreach (var c in server.Clients.Values.ToArray()) s.Append(server.ClientInfoString(c)).Append('\n');
        return s.ToString();
    }

    /// <summary>Ends the process by <paramref name="signal"/> with its default action.</summary>
    private static void DieBy(int signal)
    {
        signal_(signal, 0);
        raise(signal);
        // Delivery can lag when this thread has the signal blocked; the process-wide kill then lands on
        // another thread. Never return to the caller either way.
        kill(Environment.ProcessId, signal);
        Thread.Sleep(5000);
        Environment.FailFast($"signal {signal}");
    }

    [DllImport("libc", EntryPoint = "signal")] private static extern nint signal_(int signum, nint handler);
    [DllImport("libc")] private static extern int kill(int pid, int sig);
    [DllImport("libc")] private static extern int raise(int sig);
}
