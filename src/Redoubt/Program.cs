using Redoubt.Server;

// The single `redoubt` executable: one subcommand per role.
// Socket completions run on the epoll thread that observed them instead of hopping to the thread pool:
// each batch is parsed, executed and answered without a context switch. One epoll thread serves every
// socket, so commands from different connections execute in the order the kernel reported them, as in
// Redis's event loop (a PUBLISH sent after another client's UNSUBSCRIBE is never run before it).
// Both must be set before the first socket is created.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT") is null)
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT", "1");
return Redoubt.Cli.Main(args);

namespace Redoubt
{
    internal static class Cli
    {
        private const string Usage =
            "Usage: redoubt <role> [arguments]\n\n" +
            "Roles:\n" +
            "  up                                            bring up the local deployment on defaults\n" +
            "  server [redis.conf] [--directive value ...]   a Redis-compatible server (like redis-server)\n" +
            "  check-aof [--fix] <file.manifest|file.aof>    check (and repair) an AOF (like redis-check-aof)\n" +
            "  check-rdb <file>                              check an RDB file (like redis-check-rdb)\n" +
            "  --version                                     print the version\n";

        public static int Main(string[] args)
        {
            if (args.Length == 0)
            {
                Console.Error.Write(Usage);
                return 1;
            }
            string role = args[0];
            string[] rest = args[1..];
            switch (role)
            {
                case "server":
                    return ServerMain.Run(rest);
                case "check-aof":
                    return Redoubt.Server.Persistence.AofChecker.Run(rest, Console.Out, Console.In);
                case "check-rdb":
                    return Redoubt.Server.Persistence.RdbCheck.Run(rest, Console.Out);
                case "up":
                    return Up.Run(rest);
                case "--version" or "-v":
                    Console.WriteLine($"redoubt {RedisServer.Version}");
                    return 0;
                case "--help" or "-h" or "help":
                    Console.Write(Usage);
                    return 0;
                default:
                    Console.Error.Write($"Unknown role '{role}'.\n\n" + Usage);
                    return 1;
            }
        }
    }
}
