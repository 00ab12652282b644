using System.Security.Cryptography;
using System.Text;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Security;

/// <summary>
/// An ACL user: on/off, passwords (SHA-256 hex, in the order added), and its selectors, the first of
/// which is the root selector holding the rules written outside parentheses. Names, passwords and
/// patterns are byte strings, carried as Latin-1 strings so every byte survives.
/// </summary>
public sealed class AclUser
{
    [Flags]
    public enum UserFlags { None = 0, Enabled = 1, Disabled = 2, NoPass = 4, SkipSanitizePayload = 8, SanitizePayload = 16 }

    /// <summary>Flag names in the order ACL LIST and ACL GETUSER print them.</summary>
    private static readonly (string Name, UserFlags Flag)[] FlagNames =
    [
        ("on", UserFlags.Enabled), ("off", UserFlags.Disabled), ("nopass", UserFlags.NoPass),
        ("skip-sanitize-payload", UserFlags.SkipSanitizePayload), ("sanitize-payload", UserFlags.SanitizePayload),
    ];

    public const int HashLength = 64;

    public readonly string Name;
    private readonly AclRegistry _acl;
    public UserFlags Flags = UserFlags.Disabled;
    public List<string> Passwords = new();
    public List<AclSelector> Selectors = new();

    internal AclUser(AclRegistry acl, string name)
    {
        _acl = acl;
        Name = name;
        Selectors.Add(acl.NewSelector(AclSelector.SelectorFlags.Root));
    }

    /// <summary>Users start disabled; "on" enables them.</summary>
    public bool Enabled => (Flags & UserFlags.Disabled) == 0;
    public bool NoPass => (Flags & UserFlags.NoPass) != 0;
    public AclSelector Root => Selectors[0];

    /// <summary>Every command, key and channel: the permission check can be skipped.</summary>
    public bool Unrestricted
    {
        get
        {
            if (Selectors.Count != 1) return false;
            const AclSelector.SelectorFlags all = AclSelector.SelectorFlags.AllCommands | AclSelector.SelectorFlags.AllKeys | AclSelector.SelectorFlags.AllChannels;
            return (Selectors[0].Flags & all) == all;
        }
    }

    public static string HashPassword(ReadOnlySpan<byte> password) => Convert.ToHexStringLower(SHA256.HashData(password));

    public static string HashPassword(string password) => HashPassword(Encoding.Latin1.GetBytes(password));

    private static bool IsValidHash(string hash)
    {
        if (hash.Length != HashLength) return false;
        foreach (char ch in hash)
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
        return true;
    }

    /// <summary>
    /// Checks a password against every stored hash without stopping at the first match or the first
    /// differing byte, so the time taken says nothing about the secret.
    /// </summary>
    public bool CheckPassword(ReadOnlySpan<byte> password)
    {
        if (NoPass) return true;
        Span<byte> candidate = stackalloc byte[HashLength];
        Encoding.ASCII.GetBytes(HashPassword(password), candidate);
        Span<byte> stored = stackalloc byte[HashLength];
        bool ok = false;
        foreach (var h in Passwords)
        {
            Encoding.ASCII.GetBytes(h, stored);
            ok |= CryptographicOperations.FixedTimeEquals(stored, candidate);
        }
        return ok;
    }

    public bool CheckPassword(string password) => CheckPassword(Encoding.Latin1.GetBytes(password));

    /// <summary>Makes this user's rules identical to <paramref name="src"/>'s (the name stays).</summary>
    public void CopyFrom(AclUser src)
    {
        Flags = src.Flags;
        Passwords = new List<string>(src.Passwords);
        Selectors = src.Selectors.Select(s => s.Clone()).ToList();
    }

    /// <summary>Applies one rule (Redis's ACLSetUser); returns why it was refused, or None.</summary>
    public AclRuleError Apply(string op)
    {
        if (op.Length == 0) return AclRuleError.None;
        if (Is(op, "on")) Flags = (Flags | UserFlags.Enabled) & ~UserFlags.Disabled;
        else if (Is(op, "off")) Flags = (Flags | UserFlags.Disabled) & ~UserFlags.Enabled;
        else if (Is(op, "skip-sanitize-payload")) Flags = (Flags | UserFlags.SkipSanitizePayload) & ~UserFlags.SanitizePayload;
        else if (Is(op, "sanitize-payload")) Flags = (Flags | UserFlags.SanitizePayload) & ~UserFlags.SkipSanitizePayload;
        else if (Is(op, "nopass"))
        {
            Flags |= UserFlags.NoPass;
            Passwords.Clear();
        }
        else if (Is(op, "resetpass"))
        {
            Flags &= ~UserFlags.NoPass;
            Passwords.Clear();
        }
        else if (op[0] == '>' || op[0] == '#')
        {
            string hash;
            if (op[0] == '>') hash = HashPassword(op[1..]);
            else
            {
                hash = op[1..];
                if (!IsValidHash(hash)) return AclRuleError.BadHash;
            }
            if (!Passwords.Contains(hash)) Passwords.Add(hash);
            Flags &= ~UserFlags.NoPass;
        }
        else if (op[0] == '<' || op[0] == '!')
        {
            string hash;
            if (op[0] == '<') hash = HashPassword(op[1..]);
            else
            {
                hash = op[1..];
                if (!IsValidHash(hash)) return AclRuleError.BadHash;
            }
            if (!Passwords.Remove(hash)) return AclRuleError.NoSuchPassword;
        }
        else if (op[0] == '(' && op[^1] == ')')
        {
            var selector = _acl.NewSelector(AclSelector.SelectorFlags.None);
            // Unbalanced quotes inside the parentheses leave an empty selector, as Redis does.
            if (InlineSplitter.Split(op[1..^1], out List<string> parts))
            {
                foreach (var part in parts)
                    if (selector.Apply(part) is var err && err != AclRuleError.None) return err;
            }
            Selectors.Add(selector);
        }
        else if (Is(op, "clearselectors")) Selectors.RemoveRange(1, Selectors.Count - 1);
        else if (Is(op, "reset"))
        {
            Apply("resetpass");
            Apply("resetkeys");
            Apply("resetchannels");
            if (_acl.PubSubDefaultAllChannels) Apply("allchannels");
            Apply("off");
            Apply("sanitize-payload");
            Apply("clearselectors");
            Apply("-@all");
        }
        else return Root.Apply(op);
        return AclRuleError.None;
    }

    private static bool Is(string op, string word) => string.Equals(op, word, StringComparison.OrdinalIgnoreCase);

    /// <summary>The rules in ACL LIST / ACL SAVE form: flags, password hashes, root selector, "(...)" selectors.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        foreach (var (name, flag) in FlagNames)
            if ((Flags & flag) != 0) sb.Append(name).Append(' ');
        foreach (var p in Passwords) sb.Append('#').Append(p).Append(' ');
        foreach (var s in Selectors)
        {
            if (s.IsRoot) sb.Append(s.Describe());
            else sb.Append(" (").Append(s.Describe()).Append(')');
        }
        return sb.ToString();
    }

    /// <summary>The flag names set on this user, in display order (ACL GETUSER "flags").</summary>
    public IEnumerable<string> FlagList()
    {
        foreach (var (name, flag) in FlagNames)
            if ((Flags & flag) != 0) yield return name;
    }
}
