using System.Text;

namespace Redoubt.Server.Security;

/// <summary>Thrown when start-up cannot apply the configured users or ACL file (the server exits with status 1).</summary>
public sealed class AclStartupException(string message) : Exception(message);

/// <summary>The ACL file (ACL LOAD / ACL SAVE, aclfile at start-up) and the "user" directives of redis.conf.</summary>
public sealed partial class AclRegistry
{
    /// <summary>
    /// Replaces every user with the file's, all or nothing: any error leaves the current users untouched
    /// and is described in the returned text (null on success). Clients authenticated as replaced users
    /// are disconnected; the default user keeps its identity and takes the file's rules (or the built-in
    /// ones when the file has no default user).
    /// </summary>
    public string? LoadFromFile(string path, Client? current = null)
    {
        string text;
        try { text = File.ReadAllText(path, Encoding.Latin1); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"Error loading ACLs, opening file '{path}': {ErrnoText(e)}";
        }
        int nul = text.IndexOf('\0');
        if (nul >= 0) text = text[..nul];

        var oldUsers = Users;
        var newUsers = new SortedDictionary<string, AclUser>(StringComparer.Ordinal);
        Users = newUsers;
        var errors = new StringBuilder();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int lineNumber = i + 1;
            string line = lines[i].Trim(' ', '\t', '\r', '\n');
            if (line.Length == 0) continue;
            // ACL files are split on single spaces, without quoting.
            string[] argv = line.Split(' ');
            if (argv[0] != "user" || argv.Length < 2)
            {
                errors.Append($"{path}:{lineNumber} should start with user keyword followed by the username. ");
                continue;
            }
            if (AclSelector.HasSpaces(argv[1]))
            {
                errors.Append($"'{path}:{lineNumber}: username '{argv[1]}' contains invalid characters. ");
                continue;
            }
            var u = CreateUser(argv[1]);
            if (u is null)
            {
                errors.Append($"WARNING: Duplicate user '{argv[1]}' found on line {lineNumber}. ");
                continue;
            }
            var merged = MergeSelectorArguments(argv[2..], out _);
            if (merged is null)
            {
                errors.Append($"{path}:{lineNumber}: Unmatched parenthesis in selector definition.");
                continue;
            }
            bool syntaxError = false;
            foreach (var raw in merged)
            {
                string op = raw.Trim('\t', '\r', '\n');
                var err = u.Apply(op);
                if (err == AclRuleError.None) continue;
                if (err == AclRuleError.UnknownCommand)
                    errors.Append($"{path}:{lineNumber}: Error in applying operation '{op}': {RuleErrorText(err)}. ");
                else if (!syntaxError)
                {
                    // Later errors may only be consequences of the first: report one per line.
                    errors.Append($"{path}:{lineNumber}: {RuleErrorText(err)}. ");
                    syntaxError = true;
                }
            }
        }

        if (errors.Length > 0)
        {
            Users = oldUsers;
            return errors.Append("WARNING: ACL errors detected, no change to the previously active ACL rules was performed").ToString();
        }
        var newDefault = newUsers.GetValueOrDefault("default") ?? CreateDefaultUser();
        DefaultUser.CopyFrom(newDefault);
        newUsers["default"] = DefaultUser;
        oldUsers.Remove("default");
        foreach (var old in oldUsers.Values) DisconnectClientsOf(old, current);
        return null;
    }

    private static string ErrnoText(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        _ => e.Message,
    };

    /// <summary>The file form of every user, one "user name rules" line each.</summary>
    public string Serialize()
    {
        var sb = new StringBuilder();
        foreach (var u in Users.Values) sb.Append("user ").Append(u.Name).Append(' ').Append(u.Describe()).Append('\n');
        return sb.ToString();
    }

    /// <summary>Lines for CONFIG REWRITE's "user" directives: none when an ACL file holds the users.</summary>
    public IEnumerable<string> ConfigRewriteLines()
    {
        if ((_server?.Config.AclFile ?? "").Length > 0) return [];
        return Users.Values.Select(u => "user " + u.Name + " " + u.Describe()).ToList();
    }

    /// <summary>ACL SAVE: writes a temporary file and renames it over the ACL file; false (and logged) on failure.</summary>
    public bool SaveToFile(string path)
    {
        string tmp = $"{path}.tmp-{Environment.ProcessId}-{Storage.Database.NowMs()}";
        try
        {
            File.WriteAllBytes(tmp, Encoding.Latin1.GetBytes(Serialize()));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log?.Warning("Opening temp ACL file for ACL SAVE: " + ErrnoText(e));
            TryDelete(tmp);
            return false;
        }
        try
        {
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log?.Warning("Renaming ACL file for ACL SAVE: " + ErrnoText(e));
            TryDelete(tmp);
            return false;
        }
        return true;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    // ---- start-up ---------------------------------------------------------------------

    /// <summary>
    /// Applies requirepass, then the config file's users, then the ACL file. Users declared in the config
    /// file and an ACL file cannot be combined. Throws <see cref="AclStartupException"/> after logging the
    /// cause when the server must not start.
    /// </summary>
    public void LoadAtStartup()
    {
        var config = _server?.Config;
        SetRequirePass(config?.RequirePass ?? "");
        string aclFile = config?.AclFile ?? "";
        if (aclFile.Length > 0 && UsersToLoad.Count > 0)
        {
            throw new AclStartupException(
                "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. " +
                "This setup is very likely to lead to configuration errors and security holes, please define either an ACL file " +
                "or declare users directly in your redis.conf, but not both.");
        }
        if (!LoadConfiguredUsers()) throw new AclStartupException("Critical error while loading ACLs. Exiting.");
        if (aclFile.Length > 0 && LoadFromFile(aclFile) is string errors)
            throw new AclStartupException("Aborting Redis startup because of ACL errors: " + errors);
    }

    private bool LoadConfiguredUsers()
    {
        foreach (var rules in UsersToLoad)
        {
            string name = rules[0];
            if (AclSelector.HasSpaces(name))
            {
                Log?.Warning("Spaces not allowed in ACL usernames");
                return false;
            }
            var u = CreateUser(name);
            if (u is null)
            {
                // Only "default" already exists: its declaration starts from scratch.
                u = DefaultUser;
                u.Apply("reset");
            }
            var merged = MergeSelectorArguments(rules[1..], out _) ?? new List<string>();
            foreach (var op in merged)
            {
                var err = u.Apply(op);
                if (err != AclRuleError.None)
                {
                    Log?.Warning($"Error loading ACL rule '{op}' for the user named '{name}': {RuleErrorText(err)}");
                    return false;
                }
            }
            if (!u.Enabled)
                Log?.Notice($"The user '{name}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.");
        }
        return true;
    }

    private static AclRegistry? _validator;

    /// <summary>
    /// Checks a "user" line of the config file as it is read (argv[0] is "user"): duplicates and rules
    /// that can never be valid are errors at that line; unknown commands are only reported at start-up.
    /// The argument named in the error is picked as Redis picks it.
    /// </summary>
    public static string? ValidateUserDirective(string[] argv, IReadOnlyList<string[]> declared)
    {
        foreach (var d in declared)
            if (d[0] == argv[1])
                return $"Error in user declaration '{argv[1]}': {RuleErrorText(AclRuleError.DuplicateUser)}";
        var validator = _validator ??= new AclRegistry();
        var merged = MergeSelectorArguments(argv[2..], out int openIndex);
        if (merged is null)
            return $"Error in user declaration '{argv[openIndex]}': {RuleErrorText(AclRuleError.UnknownCommand)}";
        var fake = validator.CreateUnlinkedUser();
        for (int j = 0; j < merged.Count; j++)
        {
            var err = fake.Apply(merged[j]);
            if (err != AclRuleError.None && err != AclRuleError.UnknownCommand)
                return $"Error in user declaration '{argv[j]}': {RuleErrorText(err)}";
        }
        return null;
    }
}
