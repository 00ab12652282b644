using System.Text;
using Redoubt.Server.Monitoring;

namespace Redoubt.Server.Commands;

/// <summary>
/// LATENCY LATEST / HISTORY / RESET / GRAPH / DOCTOR / HISTOGRAM / HELP over the latency monitor
/// (per-event samples) and the per-command latency histograms. DOCTOR is in LatencyCommands.Doctor.cs.
/// </summary>
public static partial class LatencyCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("latency|latest", Latest);
        t.Bind("latency|history", History);
        t.Bind("latency|reset", Reset);
        t.Bind("latency|graph", Graph);
        t.Bind("latency|doctor", c => c.Reply.Verbatim(CreateReport(c.Server)));
        t.Bind("latency|histogram", Histogram);
        t.Bind("latency|help", c => ClientCommands.WriteHelp(c, HelpLines));
    }

    private static readonly string[] HelpLines =
    [
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
    ];

    /// <summary>For each event: name, time of the latest sample, its latency, and the all-time maximum.</summary>
    private static void Latest(Client c)
    {
        var mon = c.Server.Latency;
        var r = c.Reply;
        r.ArrayHeader(mon.Count);
        foreach (var (evt, ts) in mon.Events)
        {
            var last = ts.Latest;
            r.ArrayHeader(4);
            r.Bulk(Encoding.ASCII.GetBytes(evt));
            r.Integer(last.Time);
            r.Integer(last.Latency);
            r.Integer(ts.Max);
        }
    }

    /// <summary>The event's (time, latency) samples, oldest first; empty for an unknown event.</summary>
    private static void History(Client c)
    {
        var ts = c.Server.Latency.Find(Encoding.Latin1.GetString(c.Arg(2)));
        var r = c.Reply;
        if (ts is null)
        {
            r.EmptyArray();
            return;
        }
        var samples = ts.Chronological().ToList();
        r.ArrayHeader(samples.Count);
        foreach (var s in samples)
        {
            r.ArrayHeader(2);
            r.Integer(s.Time);
            r.Integer(s.Latency);
        }
    }

    private static void Reset(Client c)
    {
        var mon = c.Server.Latency;
        if (c.Argc == 2)
        {
            c.Reply.Integer(mon.Reset(null));
            return;
        }
        int resets = 0;
        for (int j = 2; j < c.Argc; j++) resets += mon.Reset(Encoding.Latin1.GetString(c.Arg(j)));
        c.Reply.Integer(resets);
    }

    private const int GraphColumns = 80;

    /// <summary>An ASCII sparkline of the event's samples, labelled with how long ago each was taken.</summary>
    private static void Graph(Client c)
    {
        string evt = Encoding.Latin1.GetString(c.Arg(2));
        var ts = c.Server.Latency.Find(evt);
        if (ts is null)
        {
            c.Reply.Error($"No samples available for event '{evt}'");
            return;
        }
        var line = new Sparkline();
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        long min = 0, max = 0;
        bool first = true;
        foreach (var s in ts.Chronological())
        {
            if (first)
            {
                min = max = s.Latency;
                first = false;
            }
            else
            {
                if (s.Latency > max) max = s.Latency;
                if (s.Latency < min) min = s.Latency;
            }
            long elapsed = now - s.Time;
            string label = elapsed < 60 ? $"{elapsed}s"
                : elapsed < 3600 ? $"{elapsed / 60}m"
                : elapsed < 3600 * 24 ? $"{elapsed / 3600}h"
                : $"{elapsed / (3600 * 24)}d";
            line.Add(s.Latency, label);
        }
        var sb = new StringBuilder();
        sb.Append(evt).Append(" - high ").Append(max).Append(" ms, low ").Append(min)
          .Append(" ms (all time high ").Append(ts.Max).Append(" ms)\n");
        sb.Append('-', GraphColumns).Append('\n');
        line.Render(sb, GraphColumns, 4);
        c.Reply.Verbatim(sb.ToString());
    }

    /// <summary>
    /// LATENCY HISTOGRAM [command ...]: for each command (and subcommand) with recorded calls, a map
    /// of "calls" and "histogram_usec" (bucket upper bound in µs -> cumulative calls). Unknown names
    /// are skipped; a container name includes its subcommands.
    /// </summary>
    private static void Histogram(Client c)
    {
        var server = c.Server;
        var r = c.Reply;
        int mark = r.BeginDeferred();
        int withData = 0;
        if (c.Argc == 2)
        {
            foreach (var cmd in server.Commands.AllCommands)
                if (server.CommandHistogram(cmd) is { } h) { WriteCommandHistogram(c, cmd, h); withData++; }
        }
        else
        {
            for (int j = 2; j < c.Argc; j++)
            {
                var cmd = server.Commands.FindByFullName(Encoding.Latin1.GetString(c.Arg(j)));
                if (cmd is null) continue;
                if (server.CommandHistogram(cmd) is { } h) { WriteCommandHistogram(c, cmd, h); withData++; }
                if (cmd.Subcommands is { } subs)
                    foreach (var sub in subs.Values)
                        if (server.CommandHistogram(sub) is { } sh) { WriteCommandHistogram(c, sub, sh); withData++; }
            }
        }
        r.EndDeferred(mark, withData, (byte)'%');
    }

    private static void WriteCommandHistogram(Client c, Command cmd, LatencyHistogram h)
    {
        var r = c.Reply;
        r.Bulk(cmd.NameBytes);
        r.MapHeader(2);
        r.Bulk("calls"u8);
        r.Integer(h.TotalCount);
        r.Bulk("histogram_usec"u8);
        var points = h.CumulativeDistribution();
        r.MapHeader(points.Count);
        foreach (var (micros, cumulative) in points)
        {
            r.Integer(micros);
            r.Integer(cumulative);
        }
    }
}
