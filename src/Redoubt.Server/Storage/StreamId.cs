using System.Buffers.Text;

namespace Redoubt.Server.Storage;

/// <summary>A stream entry ID: milliseconds and sequence, ordered as one 128-bit number.</summary>
public readonly record struct StreamId(ulong Ms, ulong Seq) : IComparable<StreamId>
{
    public static readonly StreamId Zero = new(0, 0);
    public static readonly StreamId Max = new(ulong.MaxValue, ulong.MaxValue);

    public bool IsZero => Ms == 0 && Seq == 0;

    public int CompareTo(StreamId other)
    {
        int c = Ms.CompareTo(other.Ms);
        return c != 0 ? c : Seq.CompareTo(other.Seq);
    }

    public static bool operator <(StreamId a, StreamId b) => a.CompareTo(b) < 0;
    public static bool operator >(StreamId a, StreamId b) => a.CompareTo(b) > 0;
    public static bool operator <=(StreamId a, StreamId b) => a.CompareTo(b) <= 0;
    public static bool operator >=(StreamId a, StreamId b) => a.CompareTo(b) >= 0;

    /// <summary>The ID right after this one; false when this is the largest possible ID.</summary>
    public bool TryIncrement(out StreamId next)
    {
        if (Seq == ulong.MaxValue)
        {
            if (Ms == ulong.MaxValue) { next = this; return false; }
            next = new StreamId(Ms + 1, 0);
            return true;
        }
        next = new StreamId(Ms, Seq + 1);
        return true;
    }

    /// <summary>The ID right before this one; false for 0-0.</summary>
    public bool TryDecrement(out StreamId prev)
    {
        if (Seq == 0)
        {
            if (Ms == 0) { prev = this; return false; }
            prev = new StreamId(Ms - 1, ulong.MaxValue);
            return true;
        }
        prev = new StreamId(Ms, Seq - 1);
        return true;
    }

    /// <summary>Writes "ms-seq" into <paramref name="dest"/> (at least 41 bytes); returns the length.</summary>
    public int Format(Span<byte> dest)
    {
        Utf8Formatter.TryFormat(Ms, dest, out int n);
        dest[n++] = (byte)'-';
        Utf8Formatter.TryFormat(Seq, dest[n..], out int m);
        return n + m;
    }

    public override string ToString() => $"{Ms}-{Seq}";

    /// <summary>strtoull as Redis's string2ull uses it: digits only, no sign, no spaces, no overflow.</summary>
    internal static bool TryParseULong(ReadOnlySpan<byte> s, out ulong v)
    {
        v = 0;
        if (s.Length == 0 || s.Length > 20) return false;
        foreach (byte b in s)
        {
            if (b < '0' || b > '9') return false;
            ulong d = (ulong)(b - '0');
            if (v > (ulong.MaxValue - d) / 10) return false;
            v = v * 10 + d;
        }
        return true;
    }
}
