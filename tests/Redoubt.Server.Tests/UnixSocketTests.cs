using System.Net.Sockets;
using System.Text;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>The unix domain socket listener: unixsocket, unixsocketperm, client naming, removal on shutdown.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class UnixSocketTests
{
    /// <summary>Sends raw commands over the unix socket and returns what arrives until the server goes quiet or closes.</summary>
    private static string Exchange(string path, string request, int expectBytes)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(path));
        s.Send(Encoding.ASCII.GetBytes(request));
        s.ReceiveTimeout = 5000;
        var got = new StringBuilder();
        var buf = new byte[4096];
        while (got.Length < expectBytes)
        {
            int n;
            try { n = s.Receive(buf); } catch (SocketException) { break; }
            if (n == 0) break;
            got.Append(Encoding.ASCII.GetString(buf, 0, n));
        }
        return got.ToString();
    }

    [Fact]
    public void ClientsConnectThroughTheSocketFileWhichShutdownRemoves()
    {
        string dir = Directory.CreateTempSubdirectory("redoubt-unix-").FullName;
        try
        {
            string path = Path.Combine(dir, "redis.sock");
            File.WriteAllText(path, "stale");   // a leftover file is replaced
            using var server = new ServerProcess(null, "--unixsocket", path, "--unixsocketperm", "700");
            // Logged right after the TCP ready line the constructor waits for.
            var sw = System.Diagnostics.Stopwatch.StartNew();
            while (!server.Output.Contains("The server is now ready to accept connections at " + path) && sw.ElapsedMilliseconds < 5000) Thread.Sleep(20);
            Assert.Contains("The server is now ready to accept connections at " + path, server.Output);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(path));

            Assert.Equal("+PONG\r\n", Exchange(path, "PING\r\n", 7));
            string info = Exchange(path, "CLIENT INFO\r\n", 40);
            Assert.Contains($" addr={path}:0 laddr={path}:0 ", info);
            Assert.Contains(" flags=U ", info);
            using var tcp = server.Connect();
            Assert.Equal(new object?[] { "unixsocket", path }, (object?[])tcp.Call("CONFIG", "GET", "unixsocket")!);

            Assert.Equal("", Exchange(path, "SHUTDOWN NOSAVE\r\n", 1));
            Assert.True(server.Process.WaitForExit(10000));
            server.Process.WaitForExit();   // and its output is read to the end
            Assert.False(File.Exists(path));
            Assert.Contains("Removing the unix socket file.", server.Output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
