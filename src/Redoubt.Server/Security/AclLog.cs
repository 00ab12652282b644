namespace Redoubt.Server.Security;

/// <summary>Where a denied action was attempted (ACL LOG "context").</summary>
public enum AclLogContext { TopLevel, Multi, Lua, Module }

/// <summary>One ACL LOG entry: similar denials within a minute are folded into one with a count.</summary>
public sealed class AclLogEntry
{
    public long Count = 1;
    public AclResult Reason;
    public AclLogContext Context;
    public string Object = "";
    public string Username = "";
    public long CreatedMs;
    public string ClientInfo = "";

    public string ReasonName => Reason switch
    {
        AclResult.DeniedCommand => "command",
        AclResult.DeniedKey => "key",
        AclResult.DeniedChannel => "channel",
        AclResult.DeniedAuth => "auth",
        _ => "unknown",
    };

    public string ContextName => Context switch
    {
        AclLogContext.TopLevel => "toplevel",
        AclLogContext.Multi => "multi",
        AclLogContext.Lua => "lua",
        AclLogContext.Module => "module",
        _ => "unknown",
    };
}

/// <summary>
/// The security log behind ACL LOG, newest first. A new denial that matches one of the ten most recent
/// entries (same reason, context, object and user, within 60 seconds) bumps that entry's count and moves
/// it to the front instead of adding a line; the log is trimmed to acllog-max-len.
/// </summary>
public sealed class AclLog
{
    private const long GroupingMaxDeltaMs = 60000;
    private const int GroupingScan = 10;

    private readonly List<AclLogEntry> _entries = new();

    public int Count => _entries.Count;
    public IReadOnlyList<AclLogEntry> Entries => _entries;

    public void Reset() => _entries.Clear();

    public void Add(AclLogEntry entry, long maxLength)
    {
        int scan = Math.Min(GroupingScan, _entries.Count);
        for (int i = 0; i < scan; i++)
        {
            var e = _entries[i];
            if (!Matches(e, entry)) continue;
            e.ClientInfo = entry.ClientInfo;
            e.CreatedMs = entry.CreatedMs;
            e.Count++;
            _entries.RemoveAt(i);
            _entries.Insert(0, e);
            return;
        }
        _entries.Insert(0, entry);
        while (_entries.Count > maxLength) _entries.RemoveAt(_entries.Count - 1);
    }

    private static bool Matches(AclLogEntry a, AclLogEntry b)
        => a.Reason == b.Reason && a.Context == b.Context
           && Math.Abs(a.CreatedMs - b.CreatedMs) <= GroupingMaxDeltaMs
           && a.Object == b.Object && a.Username == b.Username;
}
