using System.Globalization;
using System.Text;

namespace Redoubt.Server.Protocol;

/// <summary>
/// Number parsing with Redis's exact acceptance rules: string2ll (no '+', no leading zeros, no spaces,
/// at most 20 characters), string2d/strtod for doubles (no leading space, whole string, no NaN, no overflow).
/// </summary>
public static class NumberParser
{
    public static bool TryParseInt64(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        int len = s.Length;
        if (len == 0 || len >= 21) return false;
        if (len == 1 && s[0] == '0') return true;
        int p = 0;
        bool negative = false;
        if (s[0] == '-')
        {
            negative = true;
            p++;
            if (p == len) return false;
        }
        if (s[p] < '1' || s[p] > '9') return false;
        ulong v = (ulong)(s[p] - '0');
        p++;
        while (p < len)
        {
            uint d = (uint)(s[p] - '0');
            if (d > 9) return false;
            if (v > ulong.MaxValue / 10) return false;
            v *= 10;
            if (v > ulong.MaxValue - d) return false;
            v += d;
            p++;
        }
        if (negative)
        {
            if (v > (ulong)long.MaxValue + 1) return false;
            value = (long)(0 - v);
        }
        else
        {
            if (v > long.MaxValue) return false;
            value = (long)v;
        }
        return true;
    }

    public static bool TryParseInt64(string s, out long value) => TryParseInt64(Encoding.Latin1.GetBytes(s), out value);

    /// <summary>strtod-compatible parse: accepts decimal, exponent, "inf"/"infinity", hex floats are rare and rejected.</summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> s, out double value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > 5000) return false;
        byte first = s[0];
        if (first == ' ' || (first >= '\t' && first <= '\r')) return false;
        Span<char> chars = s.Length <= 256 ? stackalloc char[s.Length] : new char[s.Length];
        for (int i = 0; i < s.Length; i++)
        {
            byte b = s[i];
            if (b >= 0x80 || b == 0) return false;
            chars[i] = (char)b;
        }
        ReadOnlySpan<char> text = chars;
        // strtod understands inf/infinity/nan in any case; Redis then rejects NaN.
        ReadOnlySpan<char> body = text;
        bool neg = false;
        if (body.Length > 0 && (body[0] == '+' || body[0] == '-')) { neg = body[0] == '-'; body = body[1..]; }
        if (body.Equals("inf", StringComparison.OrdinalIgnoreCase) || body.Equals("infinity", StringComparison.OrdinalIgnoreCase))
        {
            value = neg ? double.NegativeInfinity : double.PositiveInfinity;
            return true;
        }
        if (body.Length == 0) return false;
        // Only digits, one dot, and an exponent are valid beyond this point.
        bool sawDigit = false;
        foreach (char c in body)
        {
            if (c >= '0' && c <= '9') { sawDigit = true; continue; }
            if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') continue;
            return false;
        }
        if (!sawDigit) return false;
        if (!double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                CultureInfo.InvariantCulture, out value))
            return false;
        if (double.IsNaN(value)) return false;
        if (double.IsInfinity(value)) return false; // ERANGE overflow
        if (value == 0 && HasNonZeroDigit(body)) return false; // ERANGE underflow
        return true;
    }

    private static bool HasNonZeroDigit(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
        {
            if (c == 'e' || c == 'E') break;
            if (c >= '1' && c <= '9') return true;
        }
        return false;
    }
}

/// <summary>Number formatting as Redis prints numbers (ll2string, %.17g doubles, d2string).</summary>
public static class NumberFormat
{
    /// <summary>Most bytes <see cref="WriteG17"/> and <see cref="WriteD2String"/> write.</summary>
    public const int MaxDoubleLength = 32;

    /// <summary>
    /// C's "%.17g" (what Redis uses for RESP2 double replies) into <paramref name="dest"/> (at least
    /// <see cref="MaxDoubleLength"/> bytes); infinities as "inf"/"-inf", NaN as "nan". Returns the length.
    /// </summary>
    public static int WriteG17(Span<byte> dest, double d)
    {
        if (double.IsPositiveInfinity(d)) { "inf"u8.CopyTo(dest); return 3; }
        if (double.IsNegativeInfinity(d)) { "-inf"u8.CopyTo(dest); return 4; }
        if (double.IsNaN(d)) { "nan"u8.CopyTo(dest); return 3; }
        d.TryFormat(dest, out int n, "G17", CultureInfo.InvariantCulture);
        // .NET writes the exponent as "E+17"; C writes "e+17" (both with at least two digits).
        int e = dest[..n].IndexOf((byte)'E');
        if (e >= 0) dest[e] = (byte)'e';
        return n;
    }

    /// <summary>
    /// Redis's d2string into <paramref name="dest"/>: integers within ±2^62 without exponent or
    /// fraction, others as "%.17g". Returns the length.
    /// </summary>
    public static int WriteD2String(Span<byte> dest, double d)
    {
        if (d == 0) return double.IsNegative(d) ? Copy("-0"u8, dest) : Copy("0"u8, dest);
        if (d >= -(double)(long.MaxValue / 2) && d <= (double)(long.MaxValue / 2))
        {
            long l = (long)d;
            if (l == d) return WriteInt64(dest, l);
        }
        return WriteG17(dest, d);
    }

    private static int Copy(ReadOnlySpan<byte> text, Span<byte> dest)
    {
        text.CopyTo(dest);
        return text.Length;
    }

    /// <summary>C's "%.17g" as a string; see <see cref="WriteG17"/>.</summary>
    public static string G17(double d)
    {
        Span<byte> buf = stackalloc byte[MaxDoubleLength];
        return Encoding.ASCII.GetString(buf[..WriteG17(buf, d)]);
    }

    /// <summary>Redis's d2string as a string; see <see cref="WriteD2String"/>.</summary>
    public static string D2String(double d)
    {
        Span<byte> buf = stackalloc byte[MaxDoubleLength];
        return Encoding.ASCII.GetString(buf[..WriteD2String(buf, d)]);
    }

    /// <summary>Writes a 64-bit integer in decimal into <paramref name="dest"/>; returns the byte count.</summary>
    public static int WriteInt64(Span<byte> dest, long value)
    {
        value.TryFormat(dest, out int written, default, CultureInfo.InvariantCulture);
        return written;
    }

    public static int DigitCount(long v)
    {
        if (v < 0) return v == long.MinValue ? 20 : 1 + DigitCount(-v);
        int n = 1;
        while (v >= 10) { v /= 10; n++; }
        return n;
    }
}
