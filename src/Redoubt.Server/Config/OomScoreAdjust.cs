using System.Globalization;
using Redoubt.Server.Logging;

namespace Redoubt.Server.Config;

/// <summary>
/// oom-score-adj: writes the process's /proc/self/oom_score_adj from oom-score-adj-values (the master or
/// replica entry), relative to the score the process started with or absolute, and restores the original
/// score when the feature is turned off again.
/// </summary>
public static class OomScoreAdjust
{
    private const string ProcFile = "/proc/self/oom_score_adj";
    private static bool _adjusted;
    private static int _base;

    /// <summary>Returns null, or the CONFIG SET error when the score could not be read or written.</summary>
    public static string? Apply(ServerConfig config, ServerLog? log)
    {
        int val;
        if (config.OomScoreAdj != "no")
        {
            if (!_adjusted)
            {
                try { _base = int.Parse(File.ReadAllText(ProcFile).Trim(), CultureInfo.InvariantCulture); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
                {
                    log?.Warning("Unable to read oom_score_adj: " + Errno.Describe(e));
                    return Failure;
                }
                _adjusted = true;
            }
            val = config.OomScoreAdjValues[config.MasterHost != null ? 1 : 0];
            if (config.OomScoreAdj == "yes") val += _base;
            val = Math.Clamp(val, -1000, 1000);
        }
        else if (_adjusted)
        {
            _adjusted = false;
            val = _base;
        }
        else return null;

        try { File.WriteAllText(ProcFile, val.ToString(CultureInfo.InvariantCulture) + "\n"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log?.Warning("Unable to write oom_score_adj: " + Errno.Describe(e));
            return Failure;
        }
        return null;
    }

    private const string Failure = "Failed to set current oom_score_adj. Check server logs.";
}
