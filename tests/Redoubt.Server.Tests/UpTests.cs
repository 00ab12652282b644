using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Redoubt.Server.Tests.Support;
using Xunit;
using static Redoubt.Server.Tests.Support.ReplicationKit;

namespace Redoubt.Server.Tests;

/// <summary>`redoubt up`: the local deployment a newcomer starts first.</summary>
[Collection("Serial")]
public sealed class UpTests
{
    private static bool PortFree(int port)
    {
        try
        {
            var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            l.Stop();
            return true;
        }
        catch (SocketException) { return false; }
    }

    /// <summary>A base port whose next two ports are free too.</summary>
    private static int FreePortRun()
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            int p = ServerProcess.FreePort();
            if (p + 2 < 65535 && PortFree(p + 1) && PortFree(p + 2)) return p;
        }
        throw new InvalidOperationException("no three consecutive free ports");
    }

    [Fact]
    public void UpStartsAMasterWithTwoReplicasAndStopsThemAll()
    {
        int port = FreePortRun();
        string dir = Directory.CreateTempSubdirectory("redoubt-up-").FullName;
        var psi = new ProcessStartInfo(ServerProcess.Launcher) { WorkingDirectory = dir, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "up", "--port", port.ToString() }) psi.ArgumentList.Add(a);
        using var up = Process.Start(psi)!;
        up.OutputDataReceived += (_, _) => { };
        up.ErrorDataReceived += (_, _) => { };
        up.BeginOutputReadLine();
        up.BeginErrorReadLine();
        try
        {
            RespClient Connect(int p)
            {
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (true)
                {
                    try { return new RespClient(p); }
                    catch (SocketException) when (DateTime.UtcNow < deadline) { Thread.Sleep(50); }
                }
            }
            using var m = Connect(port);
            using var r1 = Connect(port + 1);
            using var r2 = Connect(port + 2);
            WaitFor(() => LinkUp(r1) && LinkUp(r2), "both replicas up", 60);
            Assert.Equal("master", Info(m, "role"));
            Assert.Equal("2", Info(m, "connected_slaves"));
            m.Call("SET", "hello", "world");
            WaitFor(() => Equals(r1.Call("GET", "hello"), "world") && Equals(r2.Call("GET", "hello"), "world"), "write replicated");
            foreach (var p in new[] { port, port + 1, port + 2 }) Assert.True(Directory.Exists(Path.Combine(dir, "var", p.ToString())));

            Process.Start("kill", ["-TERM", up.Id.ToString()])!.WaitForExit();
            Assert.True(up.WaitForExit(30000), "up did not stop");
            WaitFor(() => PortFree(port + 1) && PortFree(port + 2), "replicas stopped with the master", 30);
            // The master saved on its way out (default save points), as redis-server does.
            Assert.True(File.Exists(Path.Combine(dir, "var", port.ToString(), "dump.rdb")));
        }
        finally
        {
            try { if (!up.HasExited) up.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            foreach (var p in Process.GetProcesses())
            {
                try
                {
                    if (p.ProcessName.Contains("Redoubt", StringComparison.OrdinalIgnoreCase) && File.ReadAllText($"/proc/{p.Id}/cmdline").Contains($"{port + 1}\0")) p.Kill();
                    if (p.ProcessName.Contains("Redoubt", StringComparison.OrdinalIgnoreCase) && File.ReadAllText($"/proc/{p.Id}/cmdline").Contains($"{port + 2}\0")) p.Kill();
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or System.ComponentModel.Win32Exception) { }
            }
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
