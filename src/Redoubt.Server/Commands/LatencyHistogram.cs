namespace Redoubt.Server.Commands;

/// <summary>
/// Per-command latency distribution for INFO latencystats and LATENCY HISTOGRAM. A log-linear bucket
/// array with the resolution of an HDR histogram of two significant digits over 1 ns .. 1 s: values
/// below 256 are exact, and every power of two above is split into 128 equal buckets. Reported values
/// are the highest value equivalent to a bucket, as Redis reports them. Recording is one index
/// computation and one increment; the array (12 KB) is allocated on a command's first call.
/// </summary>
public sealed class LatencyHistogram
{
    public const long MinValue = 1;
    public const long MaxValue = 1_000_000_000;
    private const int SubBuckets = 128;               // per power of two, above the exact range
    private const int ExactLimit = 2 * SubBuckets;    // 256 values recorded exactly
    private const int MaxMagnitude = 29;              // floor(log2(MaxValue))
    private const int BucketCount = ExactLimit + (MaxMagnitude - 7) * SubBuckets;

    private readonly int[] _counts = new int[BucketCount];
    public long TotalCount { get; private set; }

    /// <summary>Records a duration in nanoseconds, clamped to [1 ns, 1 s].</summary>
    public void Record(long nanoseconds)
    {
        if (nanoseconds < MinValue) nanoseconds = MinValue;
        else if (nanoseconds > MaxValue) nanoseconds = MaxValue;
        _counts[IndexOf(nanoseconds)]++;
        TotalCount++;
    }

    private static int IndexOf(long v)
    {
        if (v < ExactLimit) return (int)v;
        int magnitude = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)v); // >= 8
        int shift = magnitude - 7;
        return ExactLimit + (magnitude - 8) * SubBuckets + (int)((v >> shift) - SubBuckets);
    }

    private static long LowestOf(int index)
    {
        if (index < ExactLimit) return index;
        int rel = index - ExactLimit;
        int magnitude = rel / SubBuckets + 8;
        int shift = magnitude - 7;
        return (long)(rel % SubBuckets + SubBuckets) << shift;
    }

    private static long SizeOf(int index) => index < ExactLimit ? 1 : 1L << ((index - ExactLimit) / SubBuckets + 1);

    /// <summary>The highest value equivalent to the recorded value at <paramref name="percentile"/> (0..100); 0 when empty.</summary>
    public long ValueAtPercentile(double percentile)
    {
        if (TotalCount == 0) return 0;
        double p = Math.Min(percentile, 100.0);
        long target = (long)(p / 100 * TotalCount + 0.5);
        if (target < 1) target = 1;
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= target)
                return percentile == 0.0 ? LowestOf(i) : LowestOf(i) + SizeOf(i) - 1;
        }
        return MaxValue;
    }

    /// <summary>Non-empty buckets as (highest equivalent value, count), ascending (LATENCY HISTOGRAM).</summary>
    public IEnumerable<(long UpperValue, long Count)> Buckets()
    {
        for (int i = 0; i < _counts.Length; i++)
            if (_counts[i] != 0) yield return (LowestOf(i) + SizeOf(i) - 1, _counts[i]);
    }
}
