namespace Redoubt.Server.Commands;

/// <summary>BGREWRITEAOF (the AOF itself lives in RedisServer.Aof.cs and Persistence/Aof*.cs).</summary>
public static class AofCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("bgrewriteaof", c => c.Server.BgRewriteAofCommand(c));
    }
}
