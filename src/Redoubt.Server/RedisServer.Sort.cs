using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>
/// SORT's links to the list type, which lives in its own family: SORT reads lists as a source and
/// STORE writes its result as a list. The list family sets both when it is linked in.
/// </summary>
public sealed partial class RedisServer
{
    /// <summary>A list value's elements from head to tail (SORT over a list).</summary>
    public Func<RedisObject, List<byte[]>>? ListItems;

    /// <summary>A new list value under <c>key</c> holding <c>items</c> from head to tail (SORT ... STORE).</summary>
    public Func<byte[], List<byte[]>, RedisObject>? CreateListFromItems;

    /// <summary>
    /// True while a script runs the command (Redis's CLIENT_SCRIPT): SORT of a set with a constant BY
    /// then sorts anyway, so a script's result does not depend on the set's internal order. Set by the
    /// scripting subsystem.
    /// </summary>
    public Func<Client, bool>? IsScriptClient;
}
