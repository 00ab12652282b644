using System.Globalization;
using System.Numerics;
using System.Text;

namespace Redoubt.Server.Protocol;

/// <summary>
/// C's fixed-point printf conversions of a double, exact as glibc prints them: the binary value's full
/// decimal expansion rounded to the requested digits, ties to even. Used where Redis prints with
/// "%f" (error messages) or "%.17Lf" of a double widened to long double (GEO coordinates).
/// </summary>
public static class FixedPointFormat
{
    /// <summary>Bytes enough for <see cref="Human"/> of any value below 2^64 in magnitude.</summary>
    public const int HumanMaxBytes = 48;

    /// <summary>"%.{digits}f" of <paramref name="d"/> ("inf", "-inf", "nan", "-nan" for the special values).</summary>
    public static string Fixed(double d, int digits)
    {
        if (double.IsNaN(d)) return double.IsNegative(d) ? "-nan" : "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        Split(d, out bool negative, out BigInteger intPart, out BigInteger frac, digits);
        var sb = new StringBuilder();
        if (negative) sb.Append('-');
        sb.Append(intPart.ToString(CultureInfo.InvariantCulture));
        if (digits > 0)
        {
            sb.Append('.');
            sb.Append(frac.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0'));
        }
        return sb.ToString();
    }

    /// <summary>
    /// Redis's "human" long double text: "%.17Lf" with trailing fractional zeros (and then a bare '.')
    /// removed, "-0" printed as "0", infinities as "inf"/"-inf". Writes into <paramref name="dest"/>
    /// (at least <see cref="HumanMaxBytes"/> long for values below 2^64, more for larger ones) and
    /// returns the length.
    /// </summary>
    public static int Human(double d, Span<byte> dest)
    {
        if (double.IsInfinity(d))
        {
            var inf = d > 0 ? "inf"u8 : "-inf"u8;
            inf.CopyTo(dest);
            return inf.Length;
        }
        if (double.IsNaN(d) || Math.Abs(d) >= 18446744073709551616.0)
        {
            string s = Trim(Fixed(d, 17));
            return Encoding.ASCII.GetBytes(s, dest);
        }
        const ulong Frac17 = 100_000_000_000_000_000UL;
        long bits = BitConverter.DoubleToInt64Bits(d);
        bool negative = bits < 0;
        int exp = (int)((bits >> 52) & 0x7FF);
        ulong mant = (ulong)bits & 0xFFFFFFFFFFFFFUL;
        if (exp == 0) exp = 1;
        else mant |= 1UL << 52;
        int shift = 1075 - exp;                  // |d| = mant / 2^shift
        ulong intPart;
        ulong q = 0;
        if (shift <= 0) intPart = mant << -shift; // below 2^64 by the check above
        else
        {
            intPart = shift >= 64 ? 0 : mant >> shift;
            if (shift < 128)
            {
                UInt128 fracBits = shift >= 64 ? mant : mant & ((1UL << shift) - 1);
                UInt128 scaled = fracBits * Frac17;
                UInt128 qq = scaled >> shift;
                UInt128 rem = scaled & ((UInt128.One << shift) - 1);
                UInt128 half = UInt128.One << (shift - 1);
                q = (ulong)qq;
                if (rem > half || (rem == half && (q & 1) != 0)) q++;
                if (q == Frac17)
                {
                    q = 0;
                    intPart++;
                }
            }
            // Beyond 2^-128 the fraction times 10^17 is far below half a unit: it prints as zeros.
        }
        int p = 0;
        if (negative && (intPart != 0 || q != 0)) dest[p++] = (byte)'-';
        intPart.TryFormat(dest[p..], out int n, default, CultureInfo.InvariantCulture);
        p += n;
        if (q != 0)
        {
            dest[p++] = (byte)'.';
            Span<byte> digits = stackalloc byte[17];
            for (int k = 16; k >= 0; k--)
            {
                digits[k] = (byte)('0' + (int)(q % 10));
                q /= 10;
            }
            int used = 17;
            while (digits[used - 1] == '0') used--;
            digits[..used].CopyTo(dest[p..]);
            p += used;
        }
        return p;
    }

    private static string Trim(string s)
    {
        if (s.Contains('.'))
        {
            s = s.TrimEnd('0');
            if (s.EndsWith('.')) s = s[..^1];
        }
        return s == "-0" ? "0" : s;
    }

    /// <summary>|d| split into its integer part and its fraction rounded (ties to even) to <paramref name="digits"/> decimal digits.</summary>
    private static void Split(double d, out bool negative, out BigInteger intPart, out BigInteger frac, int digits)
    {
        long bits = BitConverter.DoubleToInt64Bits(d);
        negative = bits < 0;
        int exp = (int)((bits >> 52) & 0x7FF);
        ulong mant = (ulong)bits & 0xFFFFFFFFFFFFFUL;
        if (exp == 0) exp = 1;
        else mant |= 1UL << 52;
        int shift = 1075 - exp;
        var scale = BigInteger.Pow(10, digits);
        if (shift <= 0)
        {
            intPart = new BigInteger(mant) << -shift;
            frac = BigInteger.Zero;
            return;
        }
        var m = new BigInteger(mant);
        intPart = m >> shift;
        var fracBits = m - (intPart << shift);
        var scaled = fracBits * scale;
        var q = scaled >> shift;
        var rem = scaled - (q << shift);
        var half = BigInteger.One << (shift - 1);
        if (rem > half || (rem == half && !q.IsEven)) q += 1;
        if (q == scale)
        {
            q = BigInteger.Zero;
            intPart += 1;
        }
        frac = q;
    }
}
