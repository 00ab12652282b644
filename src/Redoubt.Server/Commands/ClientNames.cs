namespace Redoubt.Server.Commands;

/// <summary>Client name validation shared by CLIENT SETNAME and HELLO SETNAME.</summary>
public static class ServerCommandsClient
{
    public static string? ValidateName(string name)
    {
        foreach (char ch in name)
            if (ch < '!' || ch > '~')
                return "Client names cannot contain spaces, newlines or special characters.";
        return null;
    }
}
