using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Logging;

namespace Redoubt.Server.Security;

/// <summary>
/// The users known to the server, the permission checks the gate (and pub/sub, scripting, SORT) call,
/// and the security log. Everything runs under the server lock.
/// </summary>
public sealed partial class AclRegistry
{
    /// <summary>Users by name, in byte order (ACL LIST, ACL USERS and ACL SAVE list them so).</summary>
    public SortedDictionary<string, AclUser> Users = new(StringComparer.Ordinal);
    /// <summary>The user every new connection starts as; the object stays the same across ACL LOAD.</summary>
    public AclUser DefaultUser { get; }
    public AclCommandIndex Index { get; private set; }
    public readonly AclLog SecurityLog = new();
    private readonly AclKeyCache _keyCache = new();
    private RedisServer? _server;

    /// <summary>
    /// Pub/sub tells which channels (IsPattern false, including shard channels) and patterns a client is
    /// subscribed to, so that revoking channel permissions can disconnect the subscribers it no longer allows.
    /// </summary>
    public Func<Client, IEnumerable<(byte[] Channel, bool IsPattern)>>? ClientSubscriptions;

    /// <summary>"user" directives from the config file, applied by <see cref="LoadAtStartup"/>.</summary>
    public List<string[]> UsersToLoad = new();

    public AclRegistry() : this(new CommandTable()) { }

    public AclRegistry(CommandTable table)
    {
        Index = new AclCommandIndex(table);
        DefaultUser = CreateDefaultUser();
        Users["default"] = DefaultUser;
    }

    /// <summary>
    /// Connects the registry to its server (configuration, clients to disconnect, log) and indexes that
    /// server's command table. Called while the server is built, before any client or rename exists.
    /// </summary>
    public void Attach(RedisServer server)
    {
        _server = server;
        Index = new AclCommandIndex(server.Commands);
        DefaultUser.CopyFrom(CreateDefaultUser());
    }

    internal ServerLog? Log => _server?.Log;

    /// <summary>acl-pubsub-default: whether new users and selectors start with every channel.</summary>
    public bool PubSubDefaultAllChannels => _server?.Config.AclPubsubDefaultAllChannels ?? false;

    internal AclSelector NewSelector(AclSelector.SelectorFlags flags)
        => new(this, flags | (PubSubDefaultAllChannels ? AclSelector.SelectorFlags.AllChannels : AclSelector.SelectorFlags.None));

    private AclUser CreateDefaultUser()
    {
        var u = new AclUser(this, "default");
        u.Apply("+@all");
        u.Apply("~*");
        u.Apply("&*");
        u.Apply("on");
        u.Apply("nopass");
        return u;
    }

    /// <summary>Creates and registers a user (disabled, no permissions); null when the name is taken.</summary>
    public AclUser? CreateUser(string name)
    {
        if (Users.ContainsKey(name)) return null;
        var u = new AclUser(this, name);
        Users[name] = u;
        return u;
    }

    /// <summary>A user not registered anywhere, to validate or stage rules.</summary>
    public AclUser CreateUnlinkedUser() => new(this, "__fakeuser__");

    public AclUser? GetUser(string name) => Users.GetValueOrDefault(name);

    /// <summary>requirepass: resets the default user's passwords to this one ("" = nopass).</summary>
    public void SetRequirePass(string password)
    {
        DefaultUser.Apply("resetpass");
        DefaultUser.Apply(password.Length > 0 ? ">" + password : "nopass");
    }

    /// <summary>Redis's error text for a refused rule.</summary>
    public static string RuleErrorText(AclRuleError e) => e switch
    {
        AclRuleError.UnknownCommand => "Unknown command or category name in ACL",
        AclRuleError.Syntax => "Syntax error",
        AclRuleError.KeyAfterAllKeys => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
        AclRuleError.ChannelAfterAllChannels => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
        AclRuleError.NoSuchPassword => "The password you are trying to remove from the user does not exist",
        AclRuleError.BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
        AclRuleError.DuplicateUser => "Duplicate user found. A user can only be defined once in config files",
        AclRuleError.FirstArgOfSubcommand => "Allowing first-arg of a subcommand is not supported",
        _ => "Wrong format",
    };

    /// <summary>
    /// Joins a selector written over several arguments ("(~key", "+get)") into one; null when a
    /// parenthesis is left open, with <paramref name="openIndex"/> at the argument that opened it.
    /// </summary>
    public static List<string>? MergeSelectorArguments(IReadOnlyList<string> ops, out int openIndex)
    {
        var merged = new List<string>(ops.Count);
        openIndex = -1;
        StringBuilder? selector = null;
        for (int j = 0; j < ops.Count; j++)
        {
            string op = ops[j];
            if (op.Length > 0 && op[0] == '(' && op[^1] != ')')
            {
                selector = new StringBuilder(op);
                openIndex = j;
                continue;
            }
            if (openIndex != -1)
            {
                selector!.Append(' ').Append(op);
                if (op.Length > 0 && op[^1] == ')')
                {
                    openIndex = -1;
                    merged.Add(selector.ToString());
                }
                continue;
            }
            merged.Add(op);
        }
        return openIndex != -1 ? null : merged;
    }

    /// <summary>
    /// ACL SETUSER: applies every rule to a copy of the user (or a new one) and commits only when all
    /// are valid. Returns null or the error text.
    /// </summary>
    public string? SetUser(string name, IReadOnlyList<string> ops)
    {
        var merged = MergeSelectorArguments(ops, out int openIndex);
        if (merged is null) return $"Unmatched parenthesis in acl selector starting at '{ops[openIndex]}'.";
        var existing = GetUser(name);
        var staged = CreateUnlinkedUser();
        if (existing != null) staged.CopyFrom(existing);
        foreach (var op in merged)
        {
            var err = staged.Apply(op);
            if (err != AclRuleError.None) return $"Error in ACL SETUSER modifier '{op}': {RuleErrorText(err)}";
        }
        if (existing != null) DisconnectRevokedSubscribers(staged, existing);
        var target = existing ?? CreateUser(name)!;
        target.CopyFrom(staged);
        return null;
    }

    /// <summary>ACL DELUSER of one user: disconnects the clients authenticated as it. False when unknown.</summary>
    public bool DeleteUser(string name, Client? current)
    {
        if (!Users.Remove(name, out var u)) return false;
        DisconnectClientsOf(u, current);
        return true;
    }

    /// <summary>
    /// Clients authenticated as a user that no longer exists go back to the default user, unauthenticated,
    /// and are closed: the current one after its reply, the others at once.
    /// </summary>
    private void DisconnectClientsOf(AclUser u, Client? current)
    {
        if (_server is null) return;
        List<Client>? victims = null;
        foreach (var c in _server.Clients.Values)
        {
            if (c.User != u) continue;
            c.User = DefaultUser;
            c.Authenticated = false;
            if (c == current) c.Flags |= ClientFlags.CloseAfterReply;
            else (victims ??= new()).Add(c);
        }
        if (victims is null) return;
        foreach (var c in victims) Kill(c);
    }

    private static void Kill(Client c)
    {
        // Stop anything already read from running before the socket goes away.
        c.Flags |= ClientFlags.CloseAsap;
        c.Connection?.Close();
    }

    /// <summary>
    /// After an ACL change that narrows a user's channels, disconnects its subscribers whose
    /// subscriptions the new rules no longer allow. Nothing to do when the new rules keep every old
    /// channel pattern or allow all channels.
    /// </summary>
    private void DisconnectRevokedSubscribers(AclUser updated, AclUser original)
    {
        if (_server is null) return;
        foreach (var s in updated.Selectors)
            if (s.AllChannels) return;
        var upcoming = new List<AclSelector.ChannelPattern>();
        foreach (var s in updated.Selectors) upcoming.AddRange(s.Channels);
        bool superset = true;
        foreach (var s in original.Selectors)
        {
            if (s.AllChannels) { superset = false; break; }
            foreach (var ch in s.Channels)
            {
                if (!upcoming.Exists(u => u.Pattern == ch.Pattern)) { superset = false; break; }
            }
            if (!superset) break;
        }
        if (superset) return;

        var probe = new AclSelector(this, AclSelector.SelectorFlags.None);
        probe.Channels.AddRange(upcoming);
        List<Client>? victims = null;
        foreach (var c in _server.Clients.Values)
        {
            if (c.User != original || (c.Flags & ClientFlags.PubSub) == 0) continue;
            bool kill = false;
            if (ClientSubscriptions != null)
            {
                foreach (var (channel, isPattern) in ClientSubscriptions(c))
                {
                    if (!probe.CheckChannel(channel, isPattern)) { kill = true; break; }
                }
            }
            if (kill) (victims ??= new()).Add(c);
        }
        if (victims is null) return;
        foreach (var c in victims) Kill(c);
    }

    // ---- authentication -----------------------------------------------------------

    /// <summary>The user when it exists, is enabled and the password matches (or it has nopass); otherwise null.</summary>
    public AclUser? Authenticate(ReadOnlySpan<byte> user, ReadOnlySpan<byte> password)
    {
        if (!Users.TryGetValue(Encoding.Latin1.GetString(user), out var u) || !u.Enabled) return null;
        return u.CheckPassword(password) ? u : null;
    }

    public AclUser? Authenticate(string user, string password)
        => Authenticate(Encoding.Latin1.GetBytes(user), Encoding.Latin1.GetBytes(password));

    /// <summary>A failed AUTH/HELLO AUTH: counted and logged with the command name as typed.</summary>
    public void LogAuthFailure(Client c, string user)
    {
        AddLogEntry(c, AclResult.DeniedAuth, c.InMulti ? AclLogContext.Multi : AclLogContext.TopLevel, 0, user, null);
    }

    public long AuthFailures => _server?.Stats.AclAccessDeniedAuth ?? 0;
}
