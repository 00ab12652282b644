using Redoubt.Server;

namespace Redoubt;

/// <summary>
/// `redoubt up`: brings up the local deployment on defaults. Today that is one server on
/// 127.0.0.1:6379 keeping its data under ./var/6379; replicas, sentinels, the proxy and the virtual IP
/// join it as their roles land.
/// </summary>
internal static class Up
{
    public static int Run(string[] args)
    {
        string dir = Path.GetFullPath(Path.Combine("var", "6379"));
        Directory.CreateDirectory(dir);
        string[] serverArgs = ["--bind", "127.0.0.1", "--port", "6379", "--dir", dir, .. args];
        return ServerMain.Run(serverArgs);
    }
}
