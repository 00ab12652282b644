using Redoubt.Server.Protocol;

namespace Redoubt.Server.Blocking;

/// <summary>
/// Timeout arguments of blocking commands, parsed as Redis's getTimeoutFromObjectOrReply does: seconds
/// are a long double, multiplied by 1000 and rounded up to whole milliseconds; 0 means forever.
/// </summary>
public static class BlockTimeout
{
    /// <summary>
    /// Parses a timeout in seconds (BLPOP, BLMOVE, BZPOPMIN...). On success <paramref name="deadlineMs"/>
    /// is the absolute unix time in ms to give up at, or 0 to wait forever.
    /// </summary>
    public static bool TryParseSeconds(Client c, int idx, out long deadlineMs)
    {
        deadlineMs = 0;
        if (!LongDouble.TryParse(c.Arg(idx), out var seconds))
        {
            c.Reply.Error("timeout is not a float or out of range");
            return false;
        }
        return Finish(c, CeilMilliseconds(seconds), out deadlineMs);
    }

    /// <summary>Parses a timeout in milliseconds (XREAD BLOCK).</summary>
    public static bool TryParseMilliseconds(Client c, int idx, out long deadlineMs)
    {
        deadlineMs = 0;
        if (!NumberParser.TryParseInt64(c.Arg(idx), out long ms))
        {
            c.Reply.Error("timeout is not an integer or out of range");
            return false;
        }
        return Finish(c, ms, out deadlineMs);
    }

    private static bool Finish(Client c, long ms, out long deadlineMs)
    {
        deadlineMs = 0;
        if (ms < 0)
        {
            c.Reply.Error("timeout is negative");
            return false;
        }
        // A deadline past the end of time can never come: such a client waits like with 0.
        if (ms > 0) deadlineMs = ms > long.MaxValue - c.Server.NowMs ? 0 : ms + c.Server.NowMs;
        return true;
    }

    /// <summary>
    /// (long long)ceill(seconds * 1000.0) on x86-64: the product is rounded to the 64-bit significand of a
    /// long double, then rounded up; infinities and values out of range convert to long.MinValue.
    /// </summary>
    internal static long CeilMilliseconds(LongDouble seconds)
    {
        if (!seconds.IsFinite) return long.MinValue;
        if (seconds.Mantissa == 0) return 0;
        UInt128 p = (UInt128)seconds.Mantissa * 1000;
        int e = seconds.Exponent;
        int bits = 128 - (int)UInt128.LeadingZeroCount(p);
        if (bits > 64)
        {
            int shift = bits - 64;
            UInt128 rest = p & ((UInt128.One << shift) - 1), half = UInt128.One << (shift - 1);
            p >>= shift;
            e += shift;
            if (rest > half || (rest == half && (p & 1) == 1)) p++;
            if (p >> 64 != 0)
            {
                p >>= 1;
                e++;
            }
        }
        UInt128 magnitude;
        bool inexact = false;
        if (e >= 0)
        {
            if (e >= 64) return long.MinValue;
            magnitude = p << e;
        }
        else if (-e >= 128)
        {
            magnitude = 0;
            inexact = true;
        }
        else
        {
            magnitude = p >> -e;
            inexact = (p & ((UInt128.One << -e) - 1)) != 0;
        }
        if (!seconds.Negative)
        {
            if (inexact) magnitude++;
            return magnitude > long.MaxValue ? long.MinValue : (long)magnitude;
        }
        // Rounding up a negative value drops its fraction.
        return magnitude > (UInt128)long.MaxValue + 1 ? long.MinValue : (long)(0 - magnitude);
    }
}
