using System.Numerics;

namespace Redoubt.Server.Monitoring;

/// <summary>
/// A per-command latency histogram in nanoseconds from 1 ns to 1 s with two significant digits, laid
/// out as an HDR histogram (256 sub-buckets per power of two, half of them shared with the previous
/// bucket) so that LATENCY HISTOGRAM and INFO latencystats report the same bucket edges as Redis.
/// Recording is one index computation and one increment.
/// </summary>
public sealed class LatencyHistogram
{
    public const long MinValue = 1;
    public const long MaxValue = 1_000_000_000;
    private const int SubBucketHalfCountMagnitude = 7;
    private const int SubBucketHalfCount = 1 << SubBucketHalfCountMagnitude;   // 128
    private const int SubBucketCount = SubBucketHalfCount * 2;                   // 256
    private const long SubBucketMask = SubBucketCount - 1;
    private const int BucketCount = 23;                                          // 256 << 22 > 1e9
    public const int CountsLength = (BucketCount + 1) * SubBucketHalfCount;      // 3072

    private readonly long[] _counts = new long[CountsLength];
    public long TotalCount { get; private set; }

    /// <summary>Records a duration, clamped into [1 ns, 1 s] as Redis does.</summary>
    public void Record(long nanos)
    {
        if (nanos < MinValue) nanos = MinValue;
        if (nanos > MaxValue) nanos = MaxValue;
        _counts[CountsIndex(nanos)]++;
        TotalCount++;
    }

    public void Reset()
    {
        Array.Clear(_counts);
        TotalCount = 0;
    }

    private static int BucketIndex(long value) => 64 - BitOperations.LeadingZeroCount((ulong)(value | SubBucketMask)) - (SubBucketHalfCountMagnitude + 1);

    private static int CountsIndex(long value)
    {
        int bucket = BucketIndex(value);
        int sub = (int)(value >> bucket);
        return ((bucket + 1) << SubBucketHalfCountMagnitude) + (sub - SubBucketHalfCount);
    }

    private static long ValueAtIndex(int index)
    {
        int bucket = (index >> SubBucketHalfCountMagnitude) - 1;
        int sub = (index & (SubBucketHalfCount - 1)) + SubBucketHalfCount;
        if (bucket < 0)
        {
            sub -= SubBucketHalfCount;
            bucket = 0;
        }
        return (long)sub << bucket;
    }

    private static long RangeSize(long value)
    {
        int bucket = BucketIndex(value);
        int sub = (int)(value >> bucket);
        return 1L << (sub >= SubBucketCount ? bucket + 1 : bucket);
    }

    public static long LowestEquivalent(long value)
    {
        int bucket = BucketIndex(value);
        return (value >> bucket) << bucket;
    }

    public static long HighestEquivalent(long value) => LowestEquivalent(value) + RangeSize(value) - 1;

    /// <summary>The value below which <paramref name="percentile"/>% of the recorded samples fall (in ns).</summary>
    public long ValueAtPercentile(double percentile)
    {
        double requested = percentile < 100.0 ? percentile : 100.0;
        long countAt = (long)(requested / 100 * TotalCount + 0.5);
        if (countAt < 1) countAt = 1;
        long value = 0, running = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            running += _counts[i];
            if (running >= countAt)
            {
                value = ValueAtIndex(i);
                break;
            }
        }
        return percentile == 0.0 ? LowestEquivalent(value) : HighestEquivalent(value);
    }

    /// <summary>
    /// The cumulative distribution LATENCY HISTOGRAM prints: reporting levels at 1024 ns doubling each
    /// step, each reported as (highest value equivalent to the level in µs, samples up to it), only
    /// where the cumulative count grew. Samples past the last level inside the range are reported at
    /// the top of the range.
    /// </summary>
    public List<(long Micros, long Cumulative)> CumulativeDistribution()
    {
        var result = new List<(long, long)>();
        if (TotalCount == 0) return result;
        long cumulative = 0, previous = 0;
        int idx = -1;
        for (long level = 1024; ; level *= 2)
        {
            int target = CountsIndex(level);
            long reportedValue;
            if (target >= CountsLength)
            {
                // The level lies past the tracked range: everything left is counted at the last index.
                while (idx < CountsLength - 1) cumulative += _counts[++idx];
                reportedValue = HighestEquivalent(ValueAtIndex(CountsLength - 1));
            }
            else
            {
                while (idx < target) cumulative += _counts[++idx];
                reportedValue = HighestEquivalent(level);
            }
            if (cumulative > previous) result.Add((reportedValue / 1000, cumulative));
            previous = cumulative;
            if (cumulative >= TotalCount || target >= CountsLength) break;
        }
        return result;
    }
}
