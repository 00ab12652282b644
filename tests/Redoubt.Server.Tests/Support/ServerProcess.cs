using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Redoubt.Server.Tests.Support;

/// <summary>
/// Starts `./redoubt server` (the real launcher and binary) on a free loopback port with its own
/// working directory, waits for "Ready to accept connections", and kills it on dispose.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    public int Port { get; }
    public string Dir { get; }
    public Process Process { get; }
    private readonly System.Text.StringBuilder _output = new();

    public string Output { get { lock (_output) return _output.ToString(); } }

    public static string RepoRoot { get; } = FindRepoRoot();

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "redoubt"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    public static string Launcher => Path.Combine(RepoRoot, "redoubt");

    public ServerProcess(params string[] extraArgs) : this(null, extraArgs) { }

    public ServerProcess(string? configText, params string[] extraArgs)
    {
        Port = FreePort();
        Dir = Directory.CreateTempSubdirectory("redoubt-test-").FullName;
        var psi = new ProcessStartInfo(Launcher)
        {
            WorkingDirectory = Dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("server");
        if (configText != null)
        {
            string conf = Path.Combine(Dir, "redis.conf");
            File.WriteAllText(conf, configText);
            psi.ArgumentList.Add(conf);
        }
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "" }) psi.ArgumentList.Add(a);
        foreach (var a in extraArgs) psi.ArgumentList.Add(a);
        Process = Process.Start(psi)!;
        var ready = new TaskCompletionSource();
        Process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_output) _output.AppendLine(e.Data);
            if (e.Data.Contains("Ready to accept connections")) ready.TrySetResult();
        };
        Process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.AppendLine(e.Data); };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
        if (!ready.Task.Wait(TimeSpan.FromSeconds(60)) )
        {
            Dispose();
            throw new InvalidOperationException("server did not start:\n" + Output);
        }
    }

    public RespClient Connect() => new RespClient(Port);

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public void Dispose()
    {
        try { if (!Process.HasExited) { Process.Kill(entireProcessTree: true); Process.WaitForExit(5000); } } catch { }
        try { Directory.Delete(Dir, recursive: true); } catch { }
    }
}
