namespace Redoubt.Server.Commands;

/// <summary>Binds every command family's handlers into the server's command table.</summary>
public static class CommandBindings
{
    public static void BindAll(RedisServer server)
    {
        var t = server.Commands;
        ConnectionCommands.Bind(t);
        StringCommands.Bind(t);
        BitmapCommands.Bind(t);
        KeyspaceCommands.Bind(t);
        ServerCommands.Bind(t);
        Transactions.Bind(t);
        ListCommands.Bind(t);
        ClientUnblockCommand.Bind(t);
    }
}
