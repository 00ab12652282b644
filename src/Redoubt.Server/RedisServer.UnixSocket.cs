using System.Net.Sockets;
using Redoubt.Server.Config;

namespace Redoubt.Server;

/// <summary>
/// The unix domain socket listener (unixsocket, unixsocketperm). It is kept apart from the TCP
/// listeners, which CONFIG SET port/bind replace, and lives until shutdown, which removes its file.
/// </summary>
public sealed partial class RedisServer
{
    private Socket? _unixListener;

    /// <summary>Opens the unix socket listener when one is configured; throws with the message to exit with.</summary>
    private void OpenUnixSocket()
    {
        string path = Config.UnixSocket;
        if (path.Length == 0) return;
        // A file left by a previous run would make bind fail; like Redis, any error here is ignored.
        try { File.Delete(path); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        string stage = "bind";
        try
        {
            s.Bind(new UnixDomainSocketEndPoint(path));
            if (Config.UnixSocketPerm != 0)
            {
                stage = "chmod";
                File.SetUnixFileMode(path, (UnixFileMode)Config.UnixSocketPerm);
            }
            stage = "listen";
            s.Listen((int)Math.Min(Config.TcpBacklog, int.MaxValue));
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            s.Dispose();
            string reason = e is SocketException ? e.Message : Errno.Describe(e);
            throw new InvalidOperationException($"Failed opening Unix socket: {stage}: {reason}");
        }
        _unixListener = s;
    }

    /// <summary>Closes the unix socket listener and removes its file (shutdown).</summary>
    private void CloseUnixSocket()
    {
        if (_unixListener is null) return;
        _unixListener.Dispose();
        _unixListener = null;
        Log.Notice("Removing the unix socket file.");
        try { File.Delete(Config.UnixSocket); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning("Error removing the unix socket file: " + Errno.Describe(e));
        }
    }
}
