using System.Text.RegularExpressions;
using Xunit;

namespace Redoubt.Server.Tests.Support;

/// <summary>Replies rendered as text, and the same commands compared on our server and on real Redis.</summary>
public static class ReplyComparison
{
    /// <summary>A reply as one line: nil, ERR:message, [a,b], or the value; a script's SHA1 in an error reads SHA.</summary>
    public static string Show(object? reply) => reply switch
    {
        null => "nil",
        RespError e => "ERR:" + Regex.Replace(e.Message, "script: [0-9a-f]{40}", "script: SHA"),
        object?[] items => "[" + string.Join(",", items.Select(Show)) + "]",
        _ => reply.ToString()!,
    };

    /// <summary>Runs each command on both servers of <paramref name="pair"/> and asserts identical replies.</summary>
    public static void SameOnBoth(ServerPair pair, params object[][] commands)
    {
        using var ours = pair.Ours.Connect();
        using var real = pair.Real.Connect();
        foreach (var cmd in commands)
        {
            string r = Show(real.Call(cmd)), o = Show(ours.Call(cmd));
            Assert.True(r == o, $"{string.Join(' ', cmd)}\n real: {r}\n ours: {o}");
        }
    }
}
