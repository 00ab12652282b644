namespace Redoubt.Server.Commands;

/// <summary>Command flags, named as Redis names them in COMMAND INFO (lower-case there).</summary>
[Flags]
public enum CommandFlags : uint
{
    None = 0,
    Write = 1 << 0,
    ReadOnly = 1 << 1,
    DenyOom = 1 << 2,
    Module = 1 << 3,
    Admin = 1 << 4,
    PubSub = 1 << 5,
    NoScript = 1 << 6,
    Blocking = 1 << 7,
    Loading = 1 << 8,
    Stale = 1 << 9,
    SkipMonitor = 1 << 10,
    SkipSlowlog = 1 << 11,
    Fast = 1 << 12,
    NoAuth = 1 << 13,
    MayReplicate = 1 << 14,
    Sentinel = 1 << 15,
    OnlySentinel = 1 << 16,
    NoMandatoryKeys = 1 << 17,
    Protected = 1 << 18,
    NoAsyncLoading = 1 << 19,
    NoMulti = 1 << 20,
    MovableKeys = 1 << 21,
    AllowBusy = 1 << 22,
    /// <summary>Accepted from a client in the ASKING state of a cluster slot migration (RESTORE-ASKING).</summary>
    Asking = 1 << 23,
}

/// <summary>ACL categories (the @names of ACL CAT). Bit order matches Redis's listing order.</summary>
[Flags]
public enum AclCategories : uint
{
    None = 0,
    Keyspace = 1 << 0,
    Read = 1 << 1,
    Write = 1 << 2,
    Set = 1 << 3,
    SortedSet = 1 << 4,
    List = 1 << 5,
    Hash = 1 << 6,
    String = 1 << 7,
    Bitmap = 1 << 8,
    HyperLogLog = 1 << 9,
    Geo = 1 << 10,
    Stream = 1 << 11,
    PubSub = 1 << 12,
    Admin = 1 << 13,
    Fast = 1 << 14,
    Slow = 1 << 15,
    Blocking = 1 << 16,
    Dangerous = 1 << 17,
    Connection = 1 << 18,
    Transaction = 1 << 19,
    Scripting = 1 << 20,
}

/// <summary>Key-spec flags (Redis 7 key specifications).</summary>
[Flags]
public enum KeySpecFlags : ushort
{
    None = 0,
    RO = 1 << 0,
    RW = 1 << 1,
    OW = 1 << 2,
    RM = 1 << 3,
    Access = 1 << 4,
    Update = 1 << 5,
    Insert = 1 << 6,
    Delete = 1 << 7,
    NotKey = 1 << 8,
    Incomplete = 1 << 9,
    VariableFlags = 1 << 10,
}

/// <summary>
/// One Redis 7 key specification: where the search for keys begins (an argument index, or after a
/// keyword), and how keys are found from there (a range, or a count argument followed by keys).
/// </summary>
public sealed record KeySpec(
    KeySpecFlags Flags,
    // begin_search: exactly one of Index (>0) or Keyword (non-null) is set; neither means "unknown".
    int BeginIndex,
    string? BeginKeyword,
    int KeywordStartFrom,
    // find_keys: Range when KeyNumIndex < 0, otherwise Keynum.
    int LastKey,
    int KeyStep,
    int Limit,
    int KeyNumIndex = -1,
    int FirstKey = 0,
    string? Notes = null)
{
    public bool IsKeyword => BeginKeyword != null;
    public bool IsKeynum => KeyNumIndex >= 0;

    /// <summary>begin_search index(pos), find_keys range(lastkey, step, limit).</summary>
    public static KeySpec Range(KeySpecFlags flags, int pos, int lastKey = 0, int step = 1, int limit = 0, string? notes = null)
        => new(flags, pos, null, 0, lastKey, step, limit, Notes: notes);

    /// <summary>begin_search index(pos), find_keys keynum(keynumidx, firstkey, step).</summary>
    public static KeySpec Keynum(KeySpecFlags flags, int pos, int keyNumIdx, int firstKey, int step, string? notes = null)
        => new(flags, pos, null, 0, 0, step, 0, keyNumIdx, firstKey, notes);

    /// <summary>begin_search keyword(kw, startfrom), find_keys range(lastkey, step, limit).</summary>
    public static KeySpec KeywordRange(KeySpecFlags flags, string keyword, int startFrom, int lastKey = 0, int step = 1, int limit = 0, string? notes = null)
        => new(flags, 0, keyword, startFrom, lastKey, step, limit, Notes: notes);

    /// <summary>begin_search keyword(kw, startfrom), find_keys keynum(keynumidx, firstkey, step).</summary>
    public static KeySpec KeywordKeynum(KeySpecFlags flags, string keyword, int startFrom, int keyNumIdx, int firstKey, int step, string? notes = null)
        => new(flags, 0, keyword, startFrom, 0, step, 0, keyNumIdx, firstKey, notes);
}

/// <summary>
/// Static facts about one command or subcommand: the single source of truth used by dispatch,
/// COMMAND, ACL, the read-only replica check, the proxy's key routing and cluster slots.
/// </summary>
public sealed record CommandSpec(
    string Name,
    int Arity,
    CommandFlags Flags,
    AclCategories Acl,
    KeySpec[] KeySpecs,
    string Group,
    string Since,
    string Summary,
    string Complexity = "",
    CommandSpec[]? Subcommands = null,
    // Legacy (first, last, step) triple reported by COMMAND INFO, derived from the key specs when 0/0/0.
    string? Notes = null);
