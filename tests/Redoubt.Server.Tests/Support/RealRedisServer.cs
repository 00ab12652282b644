using System.Diagnostics;
using System.Net.Sockets;

namespace Redoubt.Server.Tests.Support;

/// <summary>
/// A real redis-server 7.0 on a free loopback port, for tests that compare replies with Redis's own.
/// Started without persistence and with DEBUG enabled; killed on dispose.
/// </summary>
public sealed class RealRedisServer : IDisposable
{
    public int Port { get; }
    public string Dir { get; }
    private readonly Process _process;

    public RealRedisServer(params string[] extraArgs)
    {
        Port = ServerProcess.FreePort();
        Dir = Directory.CreateTempSubdirectory("redoubt-real-").FullName;
        var psi = new ProcessStartInfo("redis-server")
        {
            WorkingDirectory = Dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--enable-debug-command", "yes" })
            psi.ArgumentList.Add(a);
        foreach (var a in extraArgs) psi.ArgumentList.Add(a);
        _process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server could not be started");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var probe = new TcpClient("127.0.0.1", Port);
                break;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                Thread.Sleep(50);
            }
        }
    }

    public RespClient Connect() => new RespClient(Port);

    public void Dispose()
    {
        try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(5000); } } catch { }
        try { Directory.Delete(Dir, recursive: true); } catch { }
    }
}

/// <summary>Our server and a real Redis side by side, shared by a test class.</summary>
public sealed class ServerPair : IDisposable
{
    public ServerProcess Ours { get; } = new(null, "--enable-debug-command", "yes");
    public RealRedisServer Real { get; } = new();

    public void Dispose()
    {
        Ours.Dispose();
        Real.Dispose();
    }
}
