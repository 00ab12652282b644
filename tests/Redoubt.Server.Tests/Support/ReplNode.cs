using System.Diagnostics;
using System.Net.Sockets;

namespace Redoubt.Server.Tests.Support;

/// <summary>Which program plays a node of a replication test.</summary>
public enum NodeKind { Ours, Real }

/// <summary>
/// A server of a replication test, ours (<c>./redoubt server</c>) or the real redis-server 7.0.15,
/// started the same way: its own directory and port kept across restarts, its log in a file there, so
/// that the same test body runs with either program in each role.
/// </summary>
public sealed class ReplNode : IDisposable
{
    public NodeKind Kind { get; }
    public int Port { get; } = ServerProcess.FreePort();
    public string Dir { get; } = Directory.CreateTempSubdirectory("redoubt-repl-").FullName;
    public string LogPath => Path.Combine(Dir, "server.log");
    private readonly string[] _args;
    private Process? _process;

    public ReplNode(NodeKind kind, params string[] args)
    {
        Kind = kind;
        _args = args;
        Start();
    }

    /// <summary>Starts (or restarts) the server with its arguments plus <paramref name="extra"/>, and waits until it answers.</summary>
    public void Start(params string[] extra)
    {
        var psi = Kind == NodeKind.Ours
            ? new ProcessStartInfo(ServerProcess.Launcher) { ArgumentList = { "server" } }
            : new ProcessStartInfo("redis-server");
        psi.WorkingDirectory = Dir;
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--enable-debug-command", "yes", "--logfile", LogPath })
            psi.ArgumentList.Add(a);
        foreach (var a in _args) psi.ArgumentList.Add(a);
        foreach (var a in extra) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var probe = new RespClient(Port);
                // Up once it answers other than -LOADING (-NOAUTH included: a password is set).
                if (probe.Call("PING") is not RespError { Message: var e } || !e.StartsWith("LOADING")) break;
            }
            catch (Exception e) when (e is SocketException or IOException) { }
            if (DateTime.UtcNow > deadline)
            {
                // A constructor that throws is never disposed: the process must not outlive the test.
                Kill();
                throw new TimeoutException($"{Kind} server on {Port} did not start:\n{Log}");
            }
            if (_process.HasExited) throw new InvalidOperationException($"{Kind} server on {Port} exited:\n{Log}");
            Thread.Sleep(30);
        }
    }

    public RespClient Connect() => new(Port);

    public int Pid => _process?.Id ?? 0;

    /// <summary>True once the server process has ended (a shutdown, a crash).</summary>
    public bool HasExited => _process is null || _process.HasExited;

    /// <summary>The exit status once the process ended (128 + the signal that killed it).</summary>
    public int ExitCode
    {
        get
        {
            _process!.WaitForExit(10000);
            return _process.ExitCode;
        }
    }

    public string Log => File.Exists(LogPath) ? ReadShared(LogPath) : "";

    private static string ReadShared(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var r = new StreamReader(f);
        return r.ReadToEnd();
    }

    /// <summary>SHUTDOWN (with or without a final save), waiting for the process to end.</summary>
    public void Shutdown(bool save = false)
    {
        try
        {
            using var c = Connect();
            c.SendRaw(RespClient.Encode("SHUTDOWN", save ? "SAVE" : "NOSAVE"));
        }
        catch (Exception e) when (e is SocketException or IOException) { }
        if (_process != null && !_process.WaitForExit(20000)) Kill();
    }

    /// <summary>kill -9.</summary>
    public void Kill()
    {
        try { if (_process is { HasExited: false }) { _process.Kill(); _process.WaitForExit(5000); } } catch (InvalidOperationException) { }
    }

    public void Signal(string signal) => Process.Start("kill", [$"-{signal}", Pid.ToString()])!.WaitForExit();

    public void Dispose()
    {
        Kill();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
