using System.Diagnostics;
using System.Net.Sockets;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// The logo's "PID:" line is what Redis's test suite waits for before connecting (without waiting
/// for "Ready to accept connections"): as in Redis, the listeners are bound before it is printed.
/// </summary>
public sealed class StartupOrderTests
{
    [Fact]
    public void ThePortsAcceptConnectionsOnceThePidLineIsPrinted()
    {
        int port = ServerProcess.FreePort();
        string dir = Directory.CreateTempSubdirectory("redoubt-test-").FullName;
        string socketPath = Path.Combine(dir, "redis.sock");
        var psi = new ProcessStartInfo(ServerProcess.Launcher)
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "server", "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "",
                     "--always-show-logo", "yes", "--unixsocket", socketPath })
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        try
        {
            process.ErrorDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            var log = new List<string>();
            while (true)
            {
                string? line = process.StandardOutput.ReadLine();
                Assert.True(line != null, "no PID line:\n" + string.Join("\n", log));
                log.Add(line!);
                if (line!.Contains(" PID: ")) break;
            }
            // No wait at all: both listeners must already be bound.
            using (var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
                tcp.Connect("127.0.0.1", port);
            using (var unix = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
                unix.Connect(new UnixDomainSocketEndPoint(socketPath));
            // The log keeps Redis's order: the logo, then the server is initialized and ready.
            var rest = new List<string>();
            string? next;
            while ((next = process.StandardOutput.ReadLine()) != null)
            {
                rest.Add(next);
                if (next.Contains("Ready to accept connections")) break;
            }
            int init = rest.FindIndex(l => l.Contains("Server initialized"));
            int ready = rest.FindIndex(l => l.Contains("Ready to accept connections"));
            Assert.True(init >= 0 && ready > init, string.Join("\n", rest));
        }
        finally
        {
            try { process.Kill(); } catch (InvalidOperationException) { }
            process.WaitForExit(10000);
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
