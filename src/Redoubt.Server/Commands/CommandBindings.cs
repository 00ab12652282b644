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
        HashCommands.Bind(t);
        SetCommands.Bind(t);
        SortedSetCommands.Bind(t);
        KeyspaceCommands.Bind(t);
        ServerCommands.Bind(t);
        Transactions.Bind(t);
        AclCommands.Bind(t);
        ClientCommands.Bind(t);
        MonitorCommands.Bind(t);
        SlowlogCommands.Bind(t);
        LatencyCommands.Bind(t);
        server.AttachClientManagement();
        ConfigCommands.Bind(t);
        ConfigCommands.Attach(server);
        PubSubCommands.Bind(t);
        server.AttachPubSub();
        HyperLogLogCommands.Bind(t);
        GeoCommands.Bind(t);
        SortCommands.Bind(t);
        server.AttachMemory();
        ListCommands.Bind(t);
        server.AttachLists();
        server.AttachBlocking();
        StreamCommands.Bind(t);
        server.AttachStreams();
        AofCommands.Bind(t);
        PersistenceCommands.Bind(t);
        server.AttachPersistence();
        RdbCommands.Bind(t);
        RdbCommands.Attach(server);
        Persistence.RdbStreamAdapter.Attach(server);
        ReplicationCommands.Bind(t);
        ReplicationCommands.Attach(server);
        server.AttachDigests();
        ScriptingCommands.Bind(t);
        FunctionCommands.Bind(t);
        MigrateCommand.Bind(t);
        server.AttachScripting();
    }
}
