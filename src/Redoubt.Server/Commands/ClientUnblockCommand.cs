namespace Redoubt.Server.Commands;

/// <summary>
/// CLIENT UNBLOCK id [TIMEOUT|ERROR], bound here only until the CLIENT family exists on this branch;
/// that family's own binding replaces this one (it calls <see cref="Blocking.BlockingRegistry.Unblock"/>).
/// </summary>
public static class ClientUnblockCommand
{
    public static void Bind(CommandTable t)
    {
        if (t.FindByFullName("client|unblock") is { Handler: null }) t.Bind("client|unblock", Unblock);
    }

    private static void Unblock(Client c)
    {
        if (c.Argc > 4)
        {
            c.Reply.Error("unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP.");
            return;
        }
        bool withError = false;
        if (c.Argc == 4)
        {
            if (c.ArgIs(3, "error"u8)) withError = true;
            else if (!c.ArgIs(3, "timeout"u8))
            {
                c.Reply.Error("CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                return;
            }
        }
        if (!c.TryGetLong(2, out long id)) return;
        var target = c.Server.Clients.GetValueOrDefault(id);
        bool released = target != null && (target.Flags & ClientFlags.Blocked) != 0 && c.Server.Blocking.Unblock(target, withError);
        c.Reply.Integer(released ? 1 : 0);
    }
}
