using System.Globalization;
using System.Numerics;

namespace Redoubt.Server.Protocol;

/// <summary>
/// The x86-64 C <c>long double</c> (x87 80-bit extended precision: 64-bit significand, 15-bit exponent)
/// in software, for INCRBYFLOAT. Redis computes INCRBYFLOAT in long double, parses with strtold and
/// prints with "%.17Lf"; doing the same arithmetic bit for bit is what makes results such as
/// 0.1 + 0.2 = "0.3" (and not "0.30000000000000004") come out exactly as Redis's.
///
/// A finite value is (-1)^Negative * Mantissa * 2^Exponent. Normal numbers have the top mantissa bit
/// set; subnormals have <see cref="MinExponent"/> and a smaller mantissa. Rounding is always to nearest,
/// ties to even, as the FPU's default mode.
/// </summary>
public readonly struct LongDouble
{
    private const int MinExponent = -16445;   // 2^-16445: the smallest subnormal
    private const int MaxExponent = 16320;    // (2^64 - 1) * 2^16320: just below 2^16384
    private const int MaxChars = 5 * 1024;    // Redis refuses longer inputs (MAX_LONG_DOUBLE_CHARS)

    public readonly ulong Mantissa;
    public readonly int Exponent;
    public readonly bool Negative;
    public readonly bool IsInfinity;
    public readonly bool IsNaN;

    private LongDouble(ulong mantissa, int exponent, bool negative, bool inf = false, bool nan = false)
    {
        Mantissa = mantissa;
        Exponent = exponent;
        Negative = negative;
        IsInfinity = inf;
        IsNaN = nan;
    }

    public static readonly LongDouble Zero = new(0, 0, false);
    public bool IsFinite => !IsInfinity && !IsNaN;
    public bool IsZero => IsFinite && Mantissa == 0;

    private static LongDouble Infinity(bool negative) => new(0, 0, negative, inf: true);
    private static readonly LongDouble NaN = new(0, 0, false, nan: true);

    // ---- arithmetic -----------------------------------------------------------------------

    public static LongDouble operator +(LongDouble a, LongDouble b)
    {
        if (a.IsNaN || b.IsNaN) return NaN;
        if (a.IsInfinity || b.IsInfinity)
        {
            if (a.IsInfinity && b.IsInfinity && a.Negative != b.Negative) return NaN;
            return a.IsInfinity ? a : b;
        }
        if (a.Mantissa == 0) return b.Mantissa == 0 ? new LongDouble(0, 0, a.Negative && b.Negative) : b;
        if (b.Mantissa == 0) return a;
        if (a.Exponent < b.Exponent) (a, b) = (b, a);

        // Align both significands exactly in 128 bits when the exponents are close; otherwise the
        // smaller operand lies entirely below the result's rounding point and only its presence
        // matters, kept as a sticky low bit (jamming) that rounding then sees.
        int d = a.Exponent - b.Exponent;
        UInt128 x, y;
        int e;
        if (d <= 63)
        {
            x = (UInt128)a.Mantissa << d;
            y = b.Mantissa;
            e = b.Exponent;
        }
        else
        {
            x = (UInt128)a.Mantissa << 64;
            e = a.Exponent - 64;
            int sh = d - 64;
            ulong kept = sh >= 64 ? 0 : b.Mantissa >> sh;
            bool lost = sh >= 64 || (b.Mantissa & ((1UL << sh) - 1)) != 0;
            y = kept | (lost ? 1UL : 0UL);
        }
        if (a.Negative == b.Negative) return Round(x + y, e, false, a.Negative);
        if (x == y) return Zero;
        return x > y ? Round(x - y, e, false, a.Negative) : Round(y - x, e, false, b.Negative);
    }

    /// <summary>
    /// Rounds n * 2^e (+ a bit more when <paramref name="sticky"/>) to the format. Callers that pass
    /// <paramref name="sticky"/> give at least 66 significant bits so the guard bit is in n.
    /// </summary>
    private static LongDouble Round(UInt128 n, long e, bool sticky, bool negative)
    {
        if (n == 0) return new LongDouble(0, 0, negative);
        int len = 128 - (int)UInt128.LeadingZeroCount(n);
        long shift = Math.Max(len - 64, MinExponent - e);
        ulong m;
        if (shift <= 0)
        {
            m = (ulong)(n << (int)-shift);
        }
        else if (shift > 128)
        {
            m = 0; // far below half of the smallest subnormal
        }
        else
        {
            UInt128 kept = shift == 128 ? UInt128.Zero : n >> (int)shift;
            UInt128 dropped = shift == 128 ? n : n & ((UInt128.One << (int)shift) - 1);
            UInt128 half = UInt128.One << (int)(shift - 1);
            m = (ulong)kept;
            if (dropped > half || (dropped == half && (sticky || (m & 1) != 0)))
            {
                m++;
                if (m == 0) // carried out of 64 bits
                {
                    m = 1UL << 63;
                    shift++;
                }
            }
        }
        long exp = e + shift;
        if (m == 0) return new LongDouble(0, 0, negative);
        if (exp > MaxExponent) return Infinity(negative);
        return new LongDouble(m, (int)exp, negative);
    }

    /// <summary>Rounds an arbitrarily large n * 2^e, folding what lies beyond 128 bits into the sticky bit.</summary>
    private static LongDouble Round(BigInteger n, long e, bool sticky, bool negative)
    {
        long len = (long)n.GetBitLength();
        if (len > 128)
        {
            int sh = (int)(len - 128);
            if (!sticky && !(n & ((BigInteger.One << sh) - 1)).IsZero) sticky = true;
            n >>= sh;
            e += sh;
        }
        return Round((UInt128)n, e, sticky, negative);
    }

    // ---- parsing (strtold, as Redis's string2ld accepts it) --------------------------------------

    /// <summary>
    /// Parses like Redis's string2ld: the whole input must be a number strtold accepts (decimal, hex
    /// float, inf/infinity), no leading space, no NaN, no overflow and no underflow to zero.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> s, out LongDouble value)
    {
        value = Zero;
        if (s.Length == 0 || s.Length >= MaxChars) return false;
        int p = 0;
        bool neg = false;
        if (s[0] == '+' || s[0] == '-') { neg = s[0] == '-'; p++; }
        var body = s[p..];
        if (body.Length == 0) return false;
        if (IsWord(body, "inf"u8) || IsWord(body, "infinity"u8))
        {
            value = Infinity(neg);
            return true;
        }
        if (body.Length >= 2 && body[0] == '0' && (body[1] | 0x20) == 'x') return TryParseHex(body[2..], neg, out value);
        return TryParseDecimal(body, neg, out value);
    }

    private static bool IsWord(ReadOnlySpan<byte> s, ReadOnlySpan<byte> lower)
    {
        if (s.Length != lower.Length) return false;
        for (int i = 0; i < s.Length; i++) if ((s[i] | 0x20) != lower[i]) return false;
        return true;
    }

    private static bool TryParseDecimal(ReadOnlySpan<byte> s, bool neg, out LongDouble value)
    {
        value = Zero;
        int i = 0;
        int digits = 0, firstSig = -1, sigCount = 0, dotAt = -1;
        // First pass: validate the syntax and find where the significant digits are.
        for (; i < s.Length; i++)
        {
            byte b = s[i];
            if (b >= '0' && b <= '9')
            {
                digits++;
                if (firstSig < 0 && b != '0') firstSig = i;
                if (firstSig >= 0) sigCount++;
            }
            else if (b == '.' && dotAt < 0) dotAt = i;
            else break;
        }
        if (digits == 0) return false;
        int mantEnd = i;
        long exp10 = 0;
        if (i < s.Length)
        {
            if ((s[i] | 0x20) != 'e') return false;
            i++;
            bool eneg = false;
            if (i < s.Length && (s[i] == '+' || s[i] == '-')) { eneg = s[i] == '-'; i++; }
            if (i == s.Length) return false;
            for (; i < s.Length; i++)
            {
                uint dgt = (uint)(s[i] - '0');
                if (dgt > 9) return false;
                if (exp10 < 1_000_000) exp10 = exp10 * 10 + dgt;
            }
            if (eneg) exp10 = -exp10;
        }
        if (firstSig < 0)
        {
            value = new LongDouble(0, 0, neg);
            return true;
        }
        // The value is D * 10^scale, D being the significant digits read as an integer.
        long fracDigits = dotAt < 0 ? 0 : mantEnd - dotAt - 1;
        long scale = exp10 - fracDigits;
        // 10^(magnitude-1) <= value < 10^magnitude: decide far overflow and underflow without big powers.
        long magnitude = sigCount + scale;
        if (magnitude > 4934) return false;             // overflow: strtold gives HUGE_VALL and ERANGE
        if (magnitude < -4952) return false;            // underflow to zero with ERANGE

        if (sigCount <= 19 && scale >= -18 && scale <= 19)
        {
            ulong d = 0;
            for (int k = firstSig; k < mantEnd; k++) if (s[k] != '.') d = d * 10 + (ulong)(s[k] - '0');
            if (scale >= 0)
                value = Round((UInt128)d * Pow10(scale), 0, false, neg);
            else
            {
                int sh = 127 - (64 - BitOperations.LeadingZeroCount(d));
                UInt128 num = (UInt128)d << sh;
                UInt128 den = Pow10(-scale);
                UInt128 q = num / den;
                value = Round(q, -sh, num - q * den != 0, neg);
            }
        }
        else
        {
            var big = BigInteger.Zero;
            for (int k = firstSig; k < mantEnd; k++) if (s[k] != '.') big = big * 10 + (s[k] - '0');
            if (scale >= 0)
                value = Round(big * BigInteger.Pow(10, (int)scale), 0, false, neg);
            else
            {
                var den = BigInteger.Pow(10, (int)-scale);
                // Enough quotient bits for the significand, a guard bit and a round bit.
                long sh = Math.Max(0, (long)den.GetBitLength() - (long)big.GetBitLength() + 66);
                var num = big << (int)sh;
                var q = BigInteger.DivRem(num, den, out var rem);
                value = Round(q, -sh, !rem.IsZero, neg);
            }
        }
        return !value.IsInfinity && !value.IsZero;
    }

    private static UInt128 Pow10(long n)
    {
        UInt128 r = 1;
        for (long k = 0; k < n; k++) r *= 10;
        return r;
    }

    private static bool TryParseHex(ReadOnlySpan<byte> s, bool neg, out LongDouble value)
    {
        value = Zero;
        var m = BigInteger.Zero;
        int i = 0, digits = 0;
        long exp2 = 0;
        bool dot = false;
        for (; i < s.Length; i++)
        {
            byte b = s[i];
            int h = b >= '0' && b <= '9' ? b - '0' : (b | 0x20) >= 'a' && (b | 0x20) <= 'f' ? (b | 0x20) - 'a' + 10 : -1;
            if (h >= 0)
            {
                m = (m << 4) | h;
                digits++;
                if (dot) exp2 -= 4;
            }
            else if (b == '.' && !dot) dot = true;
            else break;
        }
        // "0x" without digits is read by strtold as "0" followed by junk: rejected.
        if (digits == 0) return false;
        if (i < s.Length)
        {
            if ((s[i] | 0x20) != 'p') return false;
            i++;
            bool eneg = false;
            if (i < s.Length && (s[i] == '+' || s[i] == '-')) { eneg = s[i] == '-'; i++; }
            if (i == s.Length) return false;
            long e = 0;
            for (; i < s.Length; i++)
            {
                uint dgt = (uint)(s[i] - '0');
                if (dgt > 9) return false;
                if (e < 10_000_000) e = e * 10 + dgt;
            }
            exp2 += eneg ? -e : e;
        }
        if (m.IsZero)
        {
            value = new LongDouble(0, 0, neg);
            return true;
        }
        long top = exp2 + (long)m.GetBitLength();
        if (top > 16400) return false;
        if (top < -16500) return false;
        value = Round(m, exp2, false, neg);
        return !value.IsInfinity && !value.IsZero;
    }

    // ---- formatting ("%.17Lf" with trailing zeros removed: Redis's LD_STR_HUMAN) ----------------

    private const ulong Frac17 = 100_000_000_000_000_000UL; // 10^17

    /// <summary>
    /// Formats as Redis stores an INCRBYFLOAT result: "%.17Lf" with trailing fractional zeros (and a
    /// bare '.') removed and "-0" printed as "0"; infinities as "inf"/"-inf".
    /// </summary>
    public string ToHumanString()
    {
        if (IsNaN) return "nan";
        if (IsInfinity) return Negative ? "-inf" : "inf";
        string sign = Negative ? "-" : "";
        string result;
        if (Exponent >= 0)
        {
            // An integer: no fractional digits survive the trimming.
            result = Exponent <= 63
                ? sign + ((UInt128)Mantissa << Exponent).ToString(CultureInfo.InvariantCulture)
                : sign + (new BigInteger(Mantissa) << Exponent).ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            int s = -Exponent;
            UInt128 intPart = s >= 64 ? UInt128.Zero : (UInt128)(Mantissa >> s);
            ulong frac = s >= 64 ? Mantissa : Mantissa & ((1UL << s) - 1);
            ulong q = 0;
            if (s < 128)
            {
                // frac * 10^17 < 2^121: the exact 17-digit fraction and what is left over.
                UInt128 scaled = (UInt128)frac * Frac17;
                UInt128 qq = scaled >> s;
                UInt128 rem = scaled & ((UInt128.One << s) - 1);
                UInt128 half = UInt128.One << (s - 1);
                q = (ulong)qq;
                if (rem > half || (rem == half && (q & 1) != 0)) q++;
                if (q == Frac17) { q = 0; intPart++; }
            }
            Span<char> fracDigits = stackalloc char[17];
            ulong t = q;
            for (int k = 16; k >= 0; k--) { fracDigits[k] = (char)('0' + (int)(t % 10)); t /= 10; }
            int used = 17;
            while (used > 0 && fracDigits[used - 1] == '0') used--;
            result = sign + intPart.ToString(CultureInfo.InvariantCulture) + (used > 0 ? "." + new string(fracDigits[..used]) : "");
        }
        return result == "-0" ? "0" : result;
    }

    public override string ToString() => ToHumanString();
}
