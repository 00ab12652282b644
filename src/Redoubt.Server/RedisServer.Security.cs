using System.Net;
using Redoubt.Server.Commands;

namespace Redoubt.Server;

/// <summary>Protected mode and the protected commands/configs (enable-debug-command and friends).</summary>
public sealed partial class RedisServer
{
    /// <summary>
    /// A "local" client for protected mode and the enable-*-command "local" setting: a unix socket, or a
    /// TCP peer whose address is exactly 127.0.0.1 or ::1 (not the rest of 127/8).
    /// </summary>
    public static bool IsLocalAddress(EndPoint? remote)
    {
        if (remote is not IPEndPoint ip) return true;
        var a = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        return a.Equals(IPAddress.Loopback) || a.Equals(IPAddress.IPv6Loopback);
    }

    /// <summary>
    /// Protected mode turns away non-local clients while the default user needs no password, whatever
    /// the bind addresses.
    /// </summary>
    public bool ProtectedModeRejects(bool isLocal) => Config.ProtectedMode && Acl.DefaultUser.NoPass && !isLocal;

    public const string ProtectedModeMessage =
        "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. " +
        "In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you " +
        "may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the " +
        "loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible " +
        "from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode " +
        "by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you " +
        "started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password " +
        "for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from " +
        "the outside.\r\n";

    /// <summary>An enable-protected-configs / enable-debug-command / enable-module-command value allows this client.</summary>
    public static bool AllowProtectedAction(string setting, Client c)
        => setting == "yes" || (setting == "local" && (c.IsUnixSocket || c.IsLoopback));

    /// <summary>CONFIG SET of a protected directive (dir, dbfilename...) is refused unless enable-protected-configs allows it.</summary>
    public bool AllowProtectedConfig(Client c) => AllowProtectedAction(Config.EnableProtectedConfigs, c);

    /// <summary>The gate's refusal of DEBUG or MODULE when their enable-*-command setting does not allow this client.</summary>
    public string? ProtectedCommandError(Client c, Command cmd)
    {
        bool isDebug = (cmd.Parent ?? cmd).Name == "debug";
        bool isModule = (cmd.Parent ?? cmd).Name == "module";
        if ((isDebug && !AllowProtectedAction(Config.EnableDebugCommand, c)) ||
            (isModule && !AllowProtectedAction(Config.EnableModuleCommand, c)))
        {
            return $"{(isDebug ? "DEBUG" : "MODULE")} command not allowed. If the {(isDebug ? "enable-debug-command" : "enable-module-command")} " +
                   "option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the " +
                   "configuration file, and then restart the server.";
        }
        return null;
    }
}
