namespace Redoubt.Server;

/// <summary>Keyspace notification classes (notify-keyspace-events letters).</summary>
[Flags]
public enum KeyspaceEventClass
{
    None = 0,
    Keyspace = 1 << 0,   // K
    Keyevent = 1 << 1,   // E
    Generic = 1 << 2,    // g
    String = 1 << 3,     // $
    List = 1 << 4,       // l
    Set = 1 << 5,        // s
    Hash = 1 << 6,       // h
    ZSet = 1 << 7,       // z
    Expired = 1 << 8,    // x
    Evicted = 1 << 9,    // e
    Stream = 1 << 10,    // t
    KeyMiss = 1 << 11,   // m
    New = 1 << 12,       // n
    Module = 1 << 13,    // d (module key types)
    All = Generic | String | List | Set | Hash | ZSet | Expired | Evicted | Stream | Module, // A
}

public sealed partial class RedisServer
{
    /// <summary>Enabled notification classes (from notify-keyspace-events).</summary>
    public KeyspaceEventClass NotifyFlags;

    /// <summary>Publishes a notification through pub/sub; set by the pub/sub subsystem.</summary>
    public Action<string, byte[]>? PublishHook;

    /// <summary>Redis's notifyKeyspaceEvent: publishes __keyspace@db__:key and/or __keyevent@db__:event.</summary>
    public void Notify(KeyspaceEventClass type, string evt, ReadOnlySpan<byte> key, int dbId)
    {
        var flags = NotifyFlags;
        if ((flags & type) == 0 || PublishHook is null) return;
        var eventBytes = System.Text.Encoding.ASCII.GetBytes(evt);
        if ((flags & KeyspaceEventClass.Keyspace) != 0)
            PublishHook($"__keyspace@{dbId}__:" + System.Text.Encoding.Latin1.GetString(key), eventBytes);
        if ((flags & KeyspaceEventClass.Keyevent) != 0)
            PublishHook($"__keyevent@{dbId}__:" + evt, key.ToArray());
    }

    public static KeyspaceEventClass ParseNotifyFlags(string s, out bool ok)
    {
        ok = true;
        var f = KeyspaceEventClass.None;
        foreach (char ch in s)
        {
            f |= ch switch
            {
                'A' => KeyspaceEventClass.All,
                'g' => KeyspaceEventClass.Generic,
                '$' => KeyspaceEventClass.String,
                'l' => KeyspaceEventClass.List,
                's' => KeyspaceEventClass.Set,
                'h' => KeyspaceEventClass.Hash,
                'z' => KeyspaceEventClass.ZSet,
                'x' => KeyspaceEventClass.Expired,
                'e' => KeyspaceEventClass.Evicted,
                'K' => KeyspaceEventClass.Keyspace,
                'E' => KeyspaceEventClass.Keyevent,
                't' => KeyspaceEventClass.Stream,
                'm' => KeyspaceEventClass.KeyMiss,
                'n' => KeyspaceEventClass.New,
                'd' => KeyspaceEventClass.Module,
                _ => Fail(out ok),
            };
        }
        return f;

        static KeyspaceEventClass Fail(out bool ok) { ok = false; return KeyspaceEventClass.None; }
    }

    /// <summary>The flags as CONFIG GET prints them (Redis's keyspaceEventsFlagsToString).</summary>
    public static string NotifyFlagsToString(KeyspaceEventClass f)
    {
        var sb = new System.Text.StringBuilder();
        if ((f & KeyspaceEventClass.All) == KeyspaceEventClass.All) sb.Append('A');
        else
        {
            if ((f & KeyspaceEventClass.Generic) != 0) sb.Append('g');
            if ((f & KeyspaceEventClass.String) != 0) sb.Append('$');
            if ((f & KeyspaceEventClass.List) != 0) sb.Append('l');
            if ((f & KeyspaceEventClass.Set) != 0) sb.Append('s');
            if ((f & KeyspaceEventClass.Hash) != 0) sb.Append('h');
            if ((f & KeyspaceEventClass.ZSet) != 0) sb.Append('z');
            if ((f & KeyspaceEventClass.Expired) != 0) sb.Append('x');
            if ((f & KeyspaceEventClass.Evicted) != 0) sb.Append('e');
            if ((f & KeyspaceEventClass.Stream) != 0) sb.Append('t');
            if ((f & KeyspaceEventClass.Module) != 0) sb.Append('d');
            if ((f & KeyspaceEventClass.New) != 0) sb.Append('n');
        }
        if ((f & KeyspaceEventClass.Keyspace) != 0) sb.Append('K');
        if ((f & KeyspaceEventClass.Keyevent) != 0) sb.Append('E');
        if ((f & KeyspaceEventClass.KeyMiss) != 0) sb.Append('m');
        return sb.ToString();
    }

    /// <summary>True in cluster mode (set by the cluster subsystem).</summary>
    public bool ClusterEnabled;

    /// <summary>Subsystems that keep per-client state (pub/sub, tracking) clear it on RESET.</summary>
    public Action<Client>? ResetClientHooks;
}

public sealed partial class RedisServer
{
    /// <summary>Run by FLUSHALL after the databases are emptied (persistence saves, replication).</summary>
    public Action? FlushAllHooks;
}
