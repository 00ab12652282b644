namespace Redoubt.Server.Monitoring;

/// <summary>One latency sample: the second it was taken and the worst latency seen in that second (ms).</summary>
public struct LatencySample
{
    public long Time;
    public long Latency;
}

/// <summary>The last <see cref="LatencyMonitor.SeriesLength"/> per-second samples of one event, plus its all-time maximum.</summary>
public sealed class LatencySeries
{
    public readonly LatencySample[] Samples = new LatencySample[LatencyMonitor.SeriesLength];
    /// <summary>Where the next sample goes (the ring's oldest slot).</summary>
    public int Index;
    public long Max;

    /// <summary>Samples oldest first, skipping unused slots.</summary>
    public IEnumerable<LatencySample> Chronological()
    {
        for (int j = 0; j < Samples.Length; j++)
        {
            var s = Samples[(Index + j) % Samples.Length];
            if (s.Time != 0) yield return s;
        }
    }

    public LatencySample Latest => Samples[(Index + Samples.Length - 1) % Samples.Length];
}

/// <summary>
/// The latency monitor behind LATENCY LATEST/HISTORY/GRAPH/DOCTOR/RESET: a series per event name
/// ("command", "fast-command", "expire-cycle", ...), created on first use, one sample per second.
/// Events are kept in creation order.
/// </summary>
public sealed class LatencyMonitor
{
    public const int SeriesLength = 160;

    private readonly Dictionary<string, LatencySeries> _byName = new(StringComparer.Ordinal);
    private readonly List<string> _order = new();

    public int Count => _order.Count;

    public IEnumerable<(string Event, LatencySeries Series)> Events
    {
        get { foreach (var e in _order) yield return (e, _byName[e]); }
    }

    public LatencySeries? Find(string evt) => _byName.GetValueOrDefault(evt);

    /// <summary>Adds a sample when monitoring is enabled and the latency reaches the threshold.</summary>
    public void AddSampleIfNeeded(string evt, long latencyMs, long thresholdMs)
    {
        if (thresholdMs != 0 && latencyMs >= thresholdMs) AddSample(evt, latencyMs);
    }

    public void AddSample(string evt, long latencyMs)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!_byName.TryGetValue(evt, out var ts))
        {
            ts = new LatencySeries();
            _byName[evt] = ts;
            _order.Add(evt);
        }
        if (latencyMs > ts.Max) ts.Max = latencyMs;
        // Within the same second only the worst latency is kept.
        ref var prev = ref ts.Samples[(ts.Index + SeriesLength - 1) % SeriesLength];
        if (prev.Time == now)
        {
            if (latencyMs > prev.Latency) prev.Latency = latencyMs;
            return;
        }
        ts.Samples[ts.Index] = new LatencySample { Time = now, Latency = latencyMs };
        ts.Index = (ts.Index + 1) % SeriesLength;
    }

    /// <summary>Deletes one event's data (case-insensitive name) or all of it when <paramref name="evt"/> is null; returns how many were reset.</summary>
    public int Reset(string? evt)
    {
        int resets = 0;
        for (int i = _order.Count - 1; i >= 0; i--)
        {
            string name = _order[i];
            if (evt is null || string.Equals(name, evt, StringComparison.OrdinalIgnoreCase))
            {
                _byName.Remove(name);
                _order.RemoveAt(i);
                resets++;
            }
        }
        return resets;
    }

    /// <summary>Average, mean absolute deviation, extremes, count and period of an event's samples (LATENCY DOCTOR).</summary>
    public readonly record struct Stats(long AllTimeHigh, long Avg, long Min, long Max, long Mad, int Samples, long Period);

    public Stats Analyze(string evt)
    {
        var ts = Find(evt);
        if (ts is null) return default;
        long sum = 0, min = 0, max = 0, oldest = 0;
        int n = 0;
        foreach (var s in ts.Samples)
        {
            if (s.Time == 0) continue;
            n++;
            if (n == 1) min = max = s.Latency;
            else
            {
                if (s.Latency < min) min = s.Latency;
                if (s.Latency > max) max = s.Latency;
            }
            sum += s.Latency;
            if (oldest == 0 || s.Time < oldest) oldest = s.Time;
        }
        long avg = 0, period = 0, mad = 0;
        if (n > 0)
        {
            avg = sum / n;
            period = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - oldest;
            if (period == 0) period = 1;
            long dev = 0;
            foreach (var s in ts.Samples)
                if (s.Time != 0) dev += Math.Abs(avg - s.Latency);
            mad = dev / n;
        }
        return new Stats(ts.Max, avg, min, max, mad, n, period);
    }
}
