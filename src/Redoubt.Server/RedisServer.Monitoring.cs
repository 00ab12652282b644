using Redoubt.Server.Commands;
using Redoubt.Server.Monitoring;

namespace Redoubt.Server;

/// <summary>
/// What happens after every command for introspection: the latency monitor's "command" and
/// "fast-command" events, the slow log, MONITOR feeds, per-command latency histograms, and the
/// output buffer limit check of the client that ran it.
/// </summary>
public sealed partial class RedisServer
{
    public readonly SlowLog SlowLog = new();
    public readonly LatencyMonitor Latency = new();
    /// <summary>Clients in MONITOR mode, in the order they entered it.</summary>
    public readonly List<Client> Monitors = new();

    /// <summary>The latency histogram of a command or subcommand, or null when it never ran since the last reset.</summary>
    public LatencyHistogram? CommandHistogram(Command cmd)
        => cmd.Latency;

    /// <summary>Forgets every command's latency histogram (CONFIG RESETSTAT).</summary>
    public void ResetCommandHistograms()
    {
        foreach (var cmd in Commands.AllCommands) cmd.Latency = null;
    }

    /// <summary>Adds a latency monitor sample when it reaches latency-monitor-threshold.</summary>
    public void AddLatencySample(string evt, long latencyMs) => Latency.AddSampleIfNeeded(evt, latencyMs, Config.LatencyMonitorThreshold);

    /// <summary>Called by the gate after each command ran (including commands inside EXEC and scripts).</summary>
    internal void OnCommandExecuted(Client c, Command cmd, long micros)
    {
        var config = Config;
        if (config.LatencyMonitorThreshold != 0)
            Latency.AddSampleIfNeeded(cmd.Has(CommandFlags.Fast) ? "fast-command" : "command", micros / 1000, config.LatencyMonitorThreshold);

        // A blocked command is logged and measured when it completes (see OnUnblocked).
        bool blocked = (c.Flags & ClientFlags.Blocked) != 0;
        if (!blocked && config.SlowlogLogSlowerThan >= 0 && !cmd.Has(CommandFlags.SkipSlowlog))
            SlowLog.PushIfNeeded(c, micros, config.SlowlogLogSlowerThan, config.SlowlogMaxLen);

        if (Monitors.Count > 0 && !cmd.Has(CommandFlags.SkipMonitor | CommandFlags.Admin))
            FeedMonitors(c);

        if (config.LatencyTracking && !blocked) RecordLatency(cmd, micros);

        if (c.Connection != null && c.Reply.Length > 0) CloseClientOnOutputBufferLimit(c);
    }

    /// <summary>
    /// For the blocking subsystem: a blocked command finished after <paramref name="totalMicros"/> of
    /// execution (not counting the time it waited); logs it in the slow log and its histogram, and
    /// records how long producing the reply took as the "command-unblocking" latency event. The
    /// client's arguments must be the command's.
    /// </summary>
    public void OnUnblocked(Client c, Command cmd, long totalMicros, long replyMicros)
    {
        if (Config.LatencyTracking) RecordLatency(cmd, totalMicros);
        if (Config.SlowlogLogSlowerThan >= 0 && !cmd.Has(CommandFlags.SkipSlowlog))
            SlowLog.PushIfNeeded(c, totalMicros, Config.SlowlogLogSlowerThan, Config.SlowlogMaxLen);
        AddLatencySample("command-unblocking", replyMicros / 1000);
    }

    private void RecordLatency(Command cmd, long micros)
    {
        // Like Redis, the histogram is fed microsecond durations scaled to nanoseconds.
        (cmd.Latency ??= new LatencyHistogram()).Record(micros * 1000);
    }

    /// <summary>
    /// Sends the client's current command to every MONITOR client, as
    /// "+&lt;unix seconds&gt;.&lt;micros&gt; [&lt;db&gt; &lt;addr&gt;] "arg" ...", with arguments quoted
    /// like Redis's sdscatrepr and redacted ones shown as "(redacted)". Scripts feed the commands they
    /// run (shown as [db lua]) and EVAL/FCALL feed themselves before running, since they skip the
    /// normal feed.
    /// </summary>
    public void FeedMonitors(Client c)
    {
        if (Monitors.Count == 0) return;
        var line = MonitorLine.Format(c, Config.UnixSocket);
        foreach (var m in Monitors)
        {
            m.Reply.Raw(line);
            // The running client's own output is sent when its command batch ends.
            if (m != c) m.Connection?.RequestFlush();
        }
    }
}
