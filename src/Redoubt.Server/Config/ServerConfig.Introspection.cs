using System.Globalization;

namespace Redoubt.Server.Config;

/// <summary>Directives read by INFO and the per-command latency statistics.</summary>
public sealed partial class ServerConfig
{
    /// <summary>latency-tracking: whether every call feeds its command's latency histogram.</summary>
    public bool LatencyTracking;
    /// <summary>latency-tracking-info-percentiles: the percentiles INFO latencystats prints.</summary>
    public double[] LatencyTrackingInfoPercentiles = [];

    partial void DeclareIntrospection()
    {
        Add(new BoolConfig("latency-tracking", () => LatencyTracking, v => LatencyTracking = v, true));
        Add(new CustomConfig("latency-tracking-info-percentiles",
            () => string.Join(' ', LatencyTrackingInfoPercentiles.Select(FormatPercentile)),
            SetLatencyPercentiles, "50 99 99.9") { Flags = ConfigFlags.MultiArg });
    }

    private string? SetLatencyPercentiles(string[] args)
    {
        // A single empty argument means no percentiles at all.
        if (args.Length == 1 && args[0].Length == 0)
        {
            LatencyTrackingInfoPercentiles = [];
            return null;
        }
        var values = new double[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            if (!Protocol.NumberParser.TryParseDouble(System.Text.Encoding.ASCII.GetBytes(args[i]), out double p))
                return "Invalid latency-tracking-info-percentiles parameters";
            if (p > 100.0 || p < 0.0)
                return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
            values[i] = p;
        }
        LatencyTrackingInfoPercentiles = values;
        return null;
    }

    /// <summary>A percentile as "%f" with trailing zeros (and a bare point) removed: 50, 99.9.</summary>
    public static string FormatPercentile(double p)
    {
        string s = p.ToString("F6", CultureInfo.InvariantCulture);
        if (s.Contains('.')) s = s.TrimEnd('0').TrimEnd('.');
        return s;
    }
}
