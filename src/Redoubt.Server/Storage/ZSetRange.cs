using System.Globalization;

namespace Redoubt.Server.Storage;

/// <summary>A score interval of ZRANGEBYSCORE and friends: "(1.5" is exclusive, "-inf"/"+inf" are open ends.</summary>
public readonly struct ScoreRange(double min, double max, bool minExclusive, bool maxExclusive)
{
    public readonly double Min = min, Max = max;
    public readonly bool MinExclusive = minExclusive, MaxExclusive = maxExclusive;

    public bool GteMin(double v) => MinExclusive ? v > Min : v >= Min;
    public bool LteMax(double v) => MaxExclusive ? v < Max : v <= Max;

    /// <summary>False when no score can satisfy both ends (min above max, or equal with an exclusive end).</summary>
    public bool CanMatch => !(Min > Max || (Min == Max && (MinExclusive || MaxExclusive)));

    /// <summary>
    /// Parses min and max as Redis does: an optional '(' then C strtod over the rest, which must end the
    /// string (an embedded NUL ends it too). strtod semantics carry over: leading blanks and hex are
    /// accepted, an empty string reads as 0, overflow gives an infinity; only NaN is refused.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> min, ReadOnlySpan<byte> max, out ScoreRange range)
    {
        range = default;
        if (!TryParseEnd(min, out double lo, out bool loEx) || !TryParseEnd(max, out double hi, out bool hiEx)) return false;
        range = new ScoreRange(lo, hi, loEx, hiEx);
        return true;
    }

    private static bool TryParseEnd(ReadOnlySpan<byte> s, out double value, out bool exclusive)
    {
        exclusive = s.Length > 0 && s[0] == '(';
        if (exclusive) s = s[1..];
        int used = CStrtod.Parse(s, out value, out _);
        if (used < s.Length && s[used] != 0) return false;
        return !double.IsNaN(value);
    }
}

/// <summary>Which end of the string order a lex bound is: "-" (below all), "+" (above all), or a string.</summary>
public enum LexBoundKind : byte { Value, MinusInfinity, PlusInfinity }

/// <summary>
/// A lexicographic interval of ZRANGEBYLEX and friends: "[a" inclusive, "(a" exclusive, "-" and "+" the
/// extremes (which count as exclusive). Bound values are slices of the command's arguments.
/// </summary>
public readonly ref struct LexRange
{
    public readonly ReadOnlySpan<byte> Min, Max;
    public readonly LexBoundKind MinKind, MaxKind;
    public readonly bool MinExclusive, MaxExclusive;

    public LexRange(ReadOnlySpan<byte> min, LexBoundKind minKind, bool minEx, ReadOnlySpan<byte> max, LexBoundKind maxKind, bool maxEx)
    {
        Min = min; MinKind = minKind; MinExclusive = minEx;
        Max = max; MaxKind = maxKind; MaxExclusive = maxEx;
    }

    public static bool TryParse(ReadOnlySpan<byte> min, ReadOnlySpan<byte> max, out LexRange range)
    {
        range = default;
        if (!TryParseItem(min, out var minValue, out var minKind, out bool minEx) ||
            !TryParseItem(max, out var maxValue, out var maxKind, out bool maxEx))
            return false;
        range = new LexRange(minValue, minKind, minEx, maxValue, maxKind, maxEx);
        return true;
    }

    private static bool TryParseItem(ReadOnlySpan<byte> s, out ReadOnlySpan<byte> value, out LexBoundKind kind, out bool exclusive)
    {
        value = default;
        kind = LexBoundKind.Value;
        exclusive = true;
        if (s.Length == 0) return false;
        switch (s[0])
        {
            // The extremes are read as C strings: "+" followed by a NUL still counts as "+".
            case (byte)'+':
                kind = LexBoundKind.PlusInfinity;
                return s.Length == 1 || s[1] == 0;
            case (byte)'-':
                kind = LexBoundKind.MinusInfinity;
                return s.Length == 1 || s[1] == 0;
            case (byte)'(':
                value = s[1..];
                return true;
            case (byte)'[':
                value = s[1..];
                exclusive = false;
                return true;
            default:
                return false;
        }
    }

    /// <summary>Orders two bounds; both extremes of the same kind compare equal, as one shared object would.</summary>
    private static int CompareBounds(ReadOnlySpan<byte> a, LexBoundKind ak, ReadOnlySpan<byte> b, LexBoundKind bk)
    {
        if (ak != LexBoundKind.Value && ak == bk) return 0;
        if (ak == LexBoundKind.MinusInfinity || bk == LexBoundKind.PlusInfinity) return -1;
        if (ak == LexBoundKind.PlusInfinity || bk == LexBoundKind.MinusInfinity) return 1;
        return a.SequenceCompareTo(b);
    }

    public bool GteMin(ReadOnlySpan<byte> member)
    {
        int cmp = CompareBounds(member, LexBoundKind.Value, Min, MinKind);
        return MinExclusive ? cmp > 0 : cmp >= 0;
    }

    public bool LteMax(ReadOnlySpan<byte> member)
    {
        int cmp = CompareBounds(member, LexBoundKind.Value, Max, MaxKind);
        return MaxExclusive ? cmp < 0 : cmp <= 0;
    }

    /// <summary>False for ranges that are empty whatever the set holds.</summary>
    public bool CanMatch
    {
        get
        {
            int cmp = CompareBounds(Min, MinKind, Max, MaxKind);
            return !(cmp > 0 || (cmp == 0 && (MinExclusive || MaxExclusive)));
        }
    }
}

/// <summary>
/// C's strtod as glibc implements it, over a byte span: leading white space, a sign, "inf"/"infinity"/
/// "nan", hexadecimal significands with a binary exponent, or decimal with an optional exponent.
/// Returns how many bytes were consumed (0 when no number was found, as strtod leaves endptr at the
/// start); <paramref name="rangeError"/> reports ERANGE (overflow to infinity, or underflow).
/// </summary>
public static class CStrtod
{
    public static int Parse(ReadOnlySpan<byte> s, out double value, out bool rangeError)
    {
        value = 0;
        rangeError = false;
        int p = 0;
        while (p < s.Length && IsSpace(s[p])) p++;
        bool negative = false;
        if (p < s.Length && (s[p] == '+' || s[p] == '-'))
        {
            negative = s[p] == '-';
            p++;
        }
        int end;
        if (MatchesWord(s, p, "infinity")) { value = double.PositiveInfinity; end = p + 8; }
        else if (MatchesWord(s, p, "inf")) { value = double.PositiveInfinity; end = p + 3; }
        else if (MatchesWord(s, p, "nan"))
        {
            value = double.NaN;
            end = p + 3;
            // "nan(chars)" is one token when the parenthesis closes over letters, digits and '_'.
            if (end < s.Length && s[end] == '(')
            {
                int q = end + 1;
                while (q < s.Length && (char.IsAsciiLetterOrDigit((char)s[q]) || s[q] == '_')) q++;
                if (q < s.Length && s[q] == ')') end = q + 1;
            }
        }
        else if (!(p + 1 < s.Length && s[p] == '0' && (s[p + 1] | 0x20) == 'x' && TryParseHex(s, p + 2, out value, out end, out rangeError)))
        {
            // Not hex ("0x" without digits is the number 0 followed by junk): decimal, or no number at all.
            ParseDecimal(s, p, out value, out end, out rangeError);
            if (end == p) return 0;
        }
        if (negative) value = -value;
        return end;
    }

    private static bool IsSpace(byte b) => b == ' ' || (b >= '\t' && b <= '\r');

    private static bool MatchesWord(ReadOnlySpan<byte> s, int p, string word)
    {
        if (s.Length - p < word.Length) return false;
        for (int i = 0; i < word.Length; i++)
            if ((s[p + i] | 0x20) != word[i]) return false;
        return true;
    }

    private static int HexDigit(byte b)
    {
        if (b >= '0' && b <= '9') return b - '0';
        int l = b | 0x20;
        return l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
    }

    /// <summary>Hex significand after "0x": digits with an optional point, then an optional p-exponent.</summary>
    private static bool TryParseHex(ReadOnlySpan<byte> s, int p, out double value, out int end, out bool rangeError)
    {
        value = 0;
        end = 0;
        rangeError = false;
        ulong mant = 0;
        int exp = 0, digits = 0;
        bool sticky = false, seenPoint = false;
        int q = p;
        for (; q < s.Length; q++)
        {
            if (s[q] == '.' && !seenPoint) { seenPoint = true; continue; }
            int d = HexDigit(s[q]);
            if (d < 0) break;
            digits++;
            // Keep 60 significant bits; later digits only matter for rounding (sticky) and scale.
            if (mant >> 56 == 0) { mant = (mant << 4) | (uint)d; if (seenPoint) exp -= 4; }
            else { if (d != 0) sticky = true; if (!seenPoint) exp += 4; }
        }
        if (digits == 0) return false; // "0x" alone: strtod reads the "0" only
        if (q < s.Length && (s[q] | 0x20) == 'p')
        {
            int r = q + 1;
            bool eneg = false;
            if (r < s.Length && (s[r] == '+' || s[r] == '-')) { eneg = s[r] == '-'; r++; }
            if (r < s.Length && s[r] >= '0' && s[r] <= '9')
            {
                long e = 0;
                while (r < s.Length && s[r] >= '0' && s[r] <= '9') { if (e < 100000) e = e * 10 + (s[r] - '0'); r++; }
                exp += (int)(eneg ? -e : e);
                q = r;
            }
        }
        if (sticky) mant |= 1;
        value = mant == 0 ? 0 : Math.ScaleB((double)mant, exp);
        rangeError = double.IsInfinity(value) || (value == 0 && mant != 0);
        end = q;
        return true;
    }

    /// <summary>Decimal digits with an optional point and exponent; <paramref name="end"/> stays at <paramref name="p"/> when there are no digits.</summary>
    private static void ParseDecimal(ReadOnlySpan<byte> s, int p, out double value, out int end, out bool rangeError)
    {
        value = 0;
        rangeError = false;
        end = p;
        int q = p, digits = 0;
        bool nonZero = false;
        while (q < s.Length && s[q] >= '0' && s[q] <= '9') { nonZero |= s[q] != '0'; q++; digits++; }
        if (q < s.Length && s[q] == '.')
        {
            q++;
            while (q < s.Length && s[q] >= '0' && s[q] <= '9') { nonZero |= s[q] != '0'; q++; digits++; }
        }
        if (digits == 0) return;
        if (q < s.Length && (s[q] | 0x20) == 'e')
        {
            int r = q + 1;
            if (r < s.Length && (s[r] == '+' || s[r] == '-')) r++;
            if (r < s.Length && s[r] >= '0' && s[r] <= '9')
            {
                while (r < s.Length && s[r] >= '0' && s[r] <= '9') r++;
                q = r;
            }
        }
        int len = q - p;
        Span<char> chars = len <= 512 ? stackalloc char[len] : new char[len];
        for (int i = 0; i < len; i++) chars[i] = (char)s[p + i];
        value = double.Parse(chars, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture);
        rangeError = double.IsInfinity(value) || (value == 0 && nonZero);
        end = q;
    }

    /// <summary>
    /// Redis's string2d: the whole span is one number, no leading blank, not NaN, and no overflow or
    /// underflow to zero (subnormal results are kept).
    /// </summary>
    public static bool TryParseWhole(ReadOnlySpan<byte> s, out double value)
    {
        value = 0;
        if (s.Length == 0 || IsSpace(s[0])) return false;
        int used = Parse(s, out value, out bool rangeError);
        if (used != s.Length || double.IsNaN(value)) return false;
        if (rangeError && (double.IsInfinity(value) || value == 0)) return false;
        return true;
    }
}
