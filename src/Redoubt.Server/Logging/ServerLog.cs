using System.Globalization;
using System.Text;

namespace Redoubt.Server.Logging;

public enum LogLevel { Debug = 0, Verbose = 1, Notice = 2, Warning = 3, Nothing = 4 }

/// <summary>
/// Log lines in Redis's format, "pid:role dd Mon yyyy hh:mm:ss.mmm level message", where role is
/// M (master), S (replica), X (sentinel), C (child) and level is '.', '-', '*' or '#'.
/// Writes to stdout, or appends to the log file (reopened per line so rotation works).
/// </summary>
public sealed class ServerLog
{
    private readonly object _sync = new();
    private readonly int _pid = Environment.ProcessId;
    public LogLevel Level = LogLevel.Notice;
    /// <summary>Empty for standard output.</summary>
    public string File = "";
    /// <summary>Role character: 'M', 'S', 'X' or 'C'.</summary>
    public char Role = 'M';

    public static LogLevel ParseLevel(string name) => name.ToLowerInvariant() switch
    {
        "debug" => LogLevel.Debug,
        "verbose" => LogLevel.Verbose,
        "warning" => LogLevel.Warning,
        "nothing" => LogLevel.Nothing,
        _ => LogLevel.Notice,
    };

    public void Debug(string message) => Write(LogLevel.Debug, message);
    public void Verbose(string message) => Write(LogLevel.Verbose, message);
    public void Notice(string message) => Write(LogLevel.Notice, message);
    public void Warning(string message) => Write(LogLevel.Warning, message);

    public bool Enabled(LogLevel level) => level >= Level && Level != LogLevel.Nothing;

    public void Write(LogLevel level, string message)
    {
        if (!Enabled(level)) return;
        WriteRaw(Format(level, message));
    }

    public string Format(LogLevel level, string message)
    {
        var now = DateTime.Now;
        char mark = level switch { LogLevel.Debug => '.', LogLevel.Verbose => '-', LogLevel.Notice => '*', _ => '#' };
        return string.Create(CultureInfo.InvariantCulture,
            $"{_pid}:{Role} {now:dd MMM yyyy HH:mm:ss}.{now.Millisecond:000} {mark} {message}\n");
    }

    /// <summary>Writes pre-formatted text (the start-up banner) as it is.</summary>
    public void WriteRaw(string text)
    {
        lock (_sync)
        {
            try
            {
                if (File.Length == 0)
                {
                    var stdout = Console.OpenStandardOutput();
                    var bytes = Encoding.UTF8.GetBytes(text);
                    stdout.Write(bytes, 0, bytes.Length);
                    stdout.Flush();
                }
                else System.IO.File.AppendAllText(File, text);
            }
            catch (IOException)
            {
                // A log that cannot be written must never take the server down.
            }
        }
    }
}
