using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Redoubt.Server.Tests.Support;

/// <summary>
/// Helpers for AOF tests: servers (ours or real Redis) started on a data directory the test owns, so
/// a test can stop one, look at or damage its files, and start another on the same directory.
/// </summary>
public static class AofHarness
{
    public static string FixturePath(params string[] parts)
        => Path.Combine([AppContext.BaseDirectory, "Fixtures", .. parts]);

    public static string NewDataDir() => Directory.CreateTempSubdirectory("redoubt-aof-").FullName;

    /// <summary>Copies a directory tree (fixtures are read-only in the repository's copy).</summary>
    public static void CopyDir(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from))
        {
            string dst = Path.Combine(to, Path.GetFileName(f));
            File.Copy(f, dst, overwrite: true);
            File.SetAttributes(dst, FileAttributes.Normal);
        }
        foreach (var d in Directory.GetDirectories(from)) CopyDir(d, Path.Combine(to, Path.GetFileName(d)));
    }

    /// <summary>Parses RESP commands from AOF bytes (annotations skipped).</summary>
    public static List<string[]> ParseCommands(byte[] data)
    {
        var list = new List<string[]>();
        int i = 0;
        while (i < data.Length)
        {
            if (data[i] == '#')
            {
                i = Array.IndexOf(data, (byte)'\n', i) + 1;
                continue;
            }
            int j = IndexOfCrlf(data, i);
            int n = int.Parse(Encoding.ASCII.GetString(data, i + 1, j - i - 1));
            i = j + 2;
            var args = new string[n];
            for (int k = 0; k < n; k++)
            {
                j = IndexOfCrlf(data, i);
                int len = int.Parse(Encoding.ASCII.GetString(data, i + 1, j - i - 1));
                i = j + 2;
                args[k] = Encoding.Latin1.GetString(data, i, len);
                i += len + 2;
            }
            list.Add(args);
        }
        return list;
    }

    private static int IndexOfCrlf(byte[] d, int from)
    {
        for (int i = from; i + 1 < d.Length; i++) if (d[i] == '\r' && d[i + 1] == '\n') return i;
        throw new InvalidDataException("no CRLF");
    }

    /// <summary>A canonical text of the whole dataset (every database, type, value, TTL) for comparisons.</summary>
    public static string Dump(RespClient c, int databases = 16)
    {
        var sb = new StringBuilder();
        for (int db = 0; db < databases; db++)
        {
            c.Call("SELECT", db.ToString());
            var keys = new List<string>();
            string cursor = "0";
            do
            {
                var r = (object?[])c.Call("SCAN", cursor, "COUNT", "1000")!;
                cursor = (string)r[0]!;
                foreach (var k in (object?[])r[1]!) keys.Add((string)k!);
            } while (cursor != "0");
            keys.Sort(StringComparer.Ordinal);
            foreach (var k in keys)
            {
                string type = (string)c.Call("TYPE", k)!;
                sb.Append(db).Append(' ').Append(k).Append(' ').Append(type).Append(" ttl=").Append(c.Call("PEXPIRETIME", k)).Append(" = ");
                switch (type)
                {
                    case "string": sb.Append(c.Call("GET", k)); break;
                    case "list": sb.Append(string.Join(",", (object?[])c.Call("LRANGE", k, "0", "-1")!)); break;
                    case "set": sb.Append(string.Join(",", ((object?[])c.Call("SMEMBERS", k)!).Select(x => (string)x!).Order(StringComparer.Ordinal))); break;
                    case "zset": sb.Append(string.Join(",", (object?[])c.Call("ZRANGE", k, "0", "-1", "WITHSCORES")!)); break;
                    case "hash":
                        var h = (object?[])c.Call("HGETALL", k)!;
                        var pairs = new List<string>();
                        for (int i = 0; i < h.Length; i += 2) pairs.Add(h[i] + "=" + h[i + 1]);
                        pairs.Sort(StringComparer.Ordinal);
                        sb.Append(string.Join(",", pairs));
                        break;
                    default: sb.Append("(type not compared)"); break;
                }
                sb.Append('\n');
            }
        }
        c.Call("SELECT", "0");
        return sb.ToString();
    }

    /// <summary>SHUTDOWN NOSAVE (the AOF is still flushed and fsynced) and waits for the process to end.</summary>
    public static void Shutdown(RespClient c, Process p)
    {
        try { c.Call("SHUTDOWN", "NOSAVE"); }
        catch (Exception e) when (e is IOException or EndOfStreamException or SocketException) { }
        if (!p.WaitForExit(15000)) throw new TimeoutException("server did not exit");
    }

    /// <summary>Waits until a TCP connection to the port succeeds (or the process has exited).</summary>
    public static bool WaitForPort(int port, Process p, int timeoutMs = 30000)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs && !p.HasExited)
        {
            try
            {
                using var probe = new TcpClient("127.0.0.1", port);
                return true;
            }
            catch (SocketException) { Thread.Sleep(50); }
        }
        return false;
    }
}

/// <summary>A server process (ours through the launcher, or redis-server) on a given data directory.</summary>
public sealed class DirServer : IDisposable
{
    public int Port { get; }
    public string Dir { get; }
    public Process Process { get; }
    private readonly StringBuilder _output = new();
    public string Output { get { lock (_output) return _output.ToString(); } }

    private DirServer(bool real, string dir, string[] args, bool waitReady)
    {
        Port = ServerProcess.FreePort();
        Dir = dir;
        var psi = new ProcessStartInfo(real ? "redis-server" : ServerProcess.Launcher)
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (!real) psi.ArgumentList.Add("server");
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--dir", dir, "--enable-debug-command", "yes" })
            psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process = Process.Start(psi)!;
        Process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.AppendLine(e.Data); };
        Process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.AppendLine(e.Data); };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
        if (waitReady && !AofHarness.WaitForPort(Port, Process, 90000))
        {
            Thread.Sleep(200);
            throw new InvalidOperationException("server did not start:\n" + Output);
        }
    }

    public static DirServer Ours(string dir, params string[] args) => new(false, dir, args, true);
    public static DirServer Real(string dir, params string[] args) => new(true, dir, args, true);

    /// <summary>Starts ours and waits for it to exit (a start-up that must fail); returns the exit code.</summary>
    public static (int ExitCode, string Output) OursExpectingExit(string dir, params string[] args)
    {
        var s = new DirServer(false, dir, args, false);
        if (!s.Process.WaitForExit(90000))
        {
            s.Dispose();
            throw new InvalidOperationException("server did not exit:\n" + s.Output);
        }
        s.Process.WaitForExit();
        return (s.Process.ExitCode, s.Output);
    }

    public RespClient Connect() => new RespClient(Port);

    /// <summary>Asserts a log line arrived, waiting for it: the log comes through a pipe, after the replies it may explain.</summary>
    public void AssertOutput(string text, int timeoutMs = 10000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!Output.Contains(text) && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Xunit.Assert.Contains(text, Output);
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a crash.</summary>
    public void Kill()
    {
        try { Process.Kill(entireProcessTree: true); } catch { }
        Process.WaitForExit(10000);
    }

    public void Dispose() => Kill();
}
