using System.Globalization;
using System.Text;

namespace Redoubt.Server.Config;

/// <summary>Hard/soft output buffer limits of one client class (0 = no limit).</summary>
public struct OutputBufferLimit
{
    public ulong HardBytes;
    public ulong SoftBytes;
    public long SoftSeconds;

    public OutputBufferLimit(ulong hard, ulong soft, long seconds)
    {
        HardBytes = hard;
        SoftBytes = soft;
        SoftSeconds = seconds;
    }

    public readonly bool IsUnlimited => HardBytes == 0 && SoftBytes == 0;
}

/// <summary>
/// Client classes as Redis numbers them (CLIENT LIST TYPE, CLIENT KILL TYPE, output buffer limits).
/// Only the first three have output buffer limits; masters use the normal class.
/// </summary>
public enum ClientType { Normal = 0, Replica = 1, PubSub = 2, Master = 3 }

/// <summary>Directives of the introspection area: slow log, latency monitor, latency tracking, output buffer limits.</summary>
public sealed partial class ServerConfig
{
    public long SlowlogLogSlowerThan;
    public long SlowlogMaxLen;
    public long LatencyMonitorThreshold;
    public bool LatencyTracking;
    /// <summary>Percentiles INFO latencystats prints for each command.</summary>
    public double[] LatencyTrackingInfoPercentiles = [];

    /// <summary>Indexed by <see cref="ClientType"/> (normal, replica, pubsub).</summary>
    public readonly OutputBufferLimit[] ClientOutputBufferLimits = new OutputBufferLimit[3];

    partial void DeclareIntrospection()
    {
        Add(new NumberConfig("slowlog-log-slower-than", () => SlowlogLogSlowerThan, v => SlowlogLogSlowerThan = v, 10000, -1, long.MaxValue));
        Add(new NumberConfig("slowlog-max-len", () => SlowlogMaxLen, v => SlowlogMaxLen = v, 128, 0, long.MaxValue));
        Add(new NumberConfig("latency-monitor-threshold", () => LatencyMonitorThreshold, v => LatencyMonitorThreshold = v, 0, 0, long.MaxValue));
        Add(new BoolConfig("latency-tracking", () => LatencyTracking, v => LatencyTracking = v, true));
        Add(new CustomConfig("latency-tracking-info-percentiles", FormatPercentiles, SetPercentiles, "50 99 99.9",
            () => [LatencyTrackingInfoPercentiles.Length == 0
                ? "latency-tracking-info-percentiles \"\""
                : "latency-tracking-info-percentiles " + FormatPercentiles()]) { Flags = ConfigFlags.MultiArg });
        Add(new CustomConfig("client-output-buffer-limit", FormatOutputBufferLimits, SetOutputBufferLimits,
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", RewriteOutputBufferLimits) { Flags = ConfigFlags.MultiArg });
    }

    // ---- latency-tracking-info-percentiles -----------------------------------

    private string FormatPercentiles()
    {
        var sb = new StringBuilder();
        foreach (double p in LatencyTrackingInfoPercentiles)
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(FormatPercentile(p));
        }
        return sb.ToString();
    }

    /// <summary>"%f" with the trailing zeros (and a bare dot) removed: 50 -> "50", 99.9 -> "99.9".</summary>
    public static string FormatPercentile(double p)
    {
        string s = p.ToString("F6", CultureInfo.InvariantCulture);
        if (s.Contains('.')) s = s.TrimEnd('0').TrimEnd('.');
        return s;
    }

    private string? SetPercentiles(string[] args)
    {
        // A single empty argument means "no percentiles".
        if (args.Length == 1 && args[0].Length == 0)
        {
            LatencyTrackingInfoPercentiles = [];
            return null;
        }
        var values = new double[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            if (!Protocol.NumberParser.TryParseDouble(Encoding.Latin1.GetBytes(args[i]), out double p))
                return "Invalid latency-tracking-info-percentiles parameters";
            if (p > 100.0 || p < 0.0)
                return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
            values[i] = p;
        }
        LatencyTrackingInfoPercentiles = values;
        return null;
    }

    // ---- client-output-buffer-limit ------------------------------------------

    /// <summary>"normal", "slave", "pubsub": the names CONFIG GET prints.</summary>
    public static string ClientTypeName(ClientType t) => t switch
    {
        ClientType.Normal => "normal",
        ClientType.Replica => "slave",
        ClientType.PubSub => "pubsub",
        _ => "master",
    };

    /// <summary>Parses a client class name as CLIENT LIST/KILL TYPE and the buffer limit directive accept it.</summary>
    public static ClientType? ParseClientType(ReadOnlySpan<char> name)
    {
        if (name.Equals("normal", StringComparison.OrdinalIgnoreCase)) return ClientType.Normal;
        if (name.Equals("slave", StringComparison.OrdinalIgnoreCase) || name.Equals("replica", StringComparison.OrdinalIgnoreCase)) return ClientType.Replica;
        if (name.Equals("pubsub", StringComparison.OrdinalIgnoreCase)) return ClientType.PubSub;
        if (name.Equals("master", StringComparison.OrdinalIgnoreCase)) return ClientType.Master;
        return null;
    }

    private string FormatOutputBufferLimits()
    {
        var sb = new StringBuilder();
        for (int j = 0; j < ClientOutputBufferLimits.Length; j++)
        {
            var l = ClientOutputBufferLimits[j];
            if (j > 0) sb.Append(' ');
            sb.Append(CultureInfo.InvariantCulture, $"{ClientTypeName((ClientType)j)} {l.HardBytes} {l.SoftBytes} {l.SoftSeconds}");
        }
        return sb.ToString();
    }

    private IEnumerable<string> RewriteOutputBufferLimits()
    {
        for (int j = 0; j < ClientOutputBufferLimits.Length; j++)
        {
            var l = ClientOutputBufferLimits[j];
            string type = j == (int)ClientType.Replica ? "replica" : ClientTypeName((ClientType)j);
            yield return $"client-output-buffer-limit {type} {MemoryUnits.Format((long)l.HardBytes)} {MemoryUnits.Format((long)l.SoftBytes)} {l.SoftSeconds}";
        }
    }

    /// <summary>
    /// Groups of four: class, hard limit, soft limit, soft seconds. The whole line is validated before
    /// anything changes; classes not named keep their limits.
    /// </summary>
    private string? SetOutputBufferLimits(string[] args)
    {
        if (args.Length % 4 != 0) return "Wrong number of arguments in buffer limit configuration.";
        var values = new OutputBufferLimit?[ClientOutputBufferLimits.Length];
        for (int j = 0; j < args.Length; j += 4)
        {
            var type = ParseClientType(args[j]);
            if (type is null || type == ClientType.Master) return "Invalid client class specified in buffer limit configuration.";
            if (!TryParseUnsignedMemory(args[j + 1], out ulong hard) || !TryParseUnsignedMemory(args[j + 2], out ulong soft)
                || !TryParseSeconds(args[j + 3], out long seconds))
                return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            values[(int)type] = new OutputBufferLimit(hard, soft, seconds);
        }
        for (int j = 0; j < values.Length; j++)
            if (values[j] is OutputBufferLimit v) ClientOutputBufferLimits[j] = v;
        return null;
    }

    /// <summary>Redis's memtoull: digits with an optional b/k/kb/m/mb/g/gb unit; no sign.</summary>
    private static bool TryParseUnsignedMemory(string s, out ulong value)
    {
        value = 0;
        if (s.StartsWith('-')) return false;
        int u = 0;
        while (u < s.Length && char.IsAsciiDigit(s[u])) u++;
        string unit = s[u..].ToLowerInvariant();
        ulong mul = unit switch
        {
            "" or "b" => 1,
            "k" => 1000,
            "kb" => 1024,
            "m" => 1000 * 1000,
            "mb" => 1024 * 1024,
            "g" => 1000UL * 1000 * 1000,
            "gb" => 1024UL * 1024 * 1024,
            _ => 0,
        };
        if (mul == 0) return false;
        // An empty digit run reads as 0, as strtoull does.
        if (u == 0) return true;
        if (!ulong.TryParse(s.AsSpan(0, u), NumberStyles.None, CultureInfo.InvariantCulture, out ulong n)) n = ulong.MaxValue;
        value = unchecked(n * mul);
        return true;
    }

    /// <summary>strtoll over the whole string, then "not negative".</summary>
    private static bool TryParseSeconds(string s, out long value)
    {
        value = 0;
        var span = s.AsSpan().TrimStart(" \t\n\v\f\r");
        bool neg = false;
        if (span.Length > 0 && (span[0] == '+' || span[0] == '-')) { neg = span[0] == '-'; span = span[1..]; }
        // No digits at all: strtoll stops at the start, so only an empty string passes.
        if (span.Length == 0) return s.Length == 0;
        foreach (char ch in span) if (!char.IsAsciiDigit(ch)) return false;
        if (!long.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out long n)) n = long.MaxValue;
        // Redis stores the seconds in an int: larger values wrap, negative ones are refused.
        int asInt = unchecked((int)(neg ? -n : n));
        if (asInt < 0) return false;
        value = asInt;
        return true;
    }
}
