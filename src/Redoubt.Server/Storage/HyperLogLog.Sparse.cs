using System.Text;

namespace Redoubt.Server.Storage;

/// <summary>
/// The sparse representation: a run-length sequence after the header.
///   ZERO   00xxxxxx           : 1..64 registers at zero
///   XZERO  01xxxxxx xxxxxxxx  : 1..16384 registers at zero
///   VAL    1vvvvvxx           : 1..4 registers at value 1..32
/// Edits must produce the same bytes Redis produces, so the split and merge rules below follow its
/// exact choices (which opcode a remainder becomes, how far merging looks). Nothing here trusts the
/// payload: every walk checks its bounds, and a byte read one past the end reads as the zero that
/// follows the value in <see cref="HllBuffer"/> (or as zero in read-only walks).
/// A payload is valid when its opcodes cover exactly <see cref="Registers"/> registers: a walk that
/// would pass that count rejects the value whatever follows, as Redis 7.0 releases carrying the fix for
/// CVE-2025-32023 do (earlier ones accepted trailing bytes after a VAL that overflowed).
/// One corner is not reproduced: when an edit splits an XZERO cut short at the very end of a corrupt
/// payload, Redis writes one byte past the new end of its string and later reads of that same cut
/// opcode see it; here the byte past the end always reads as zero. Only values that were already
/// corrupt are concerned, and the stored bytes (what GET returns) are the same.
/// </summary>
public static partial class HyperLogLog
{
    private const int ValMaxValue = 32;
    private const int ValMaxLen = 4;
    private const int ZeroMaxLen = 64;
    private const int XZeroMaxLen = 16384;

    private static bool IsZero(byte op) => (op & 0xc0) == 0;
    private static bool IsXZero(byte op) => (op & 0xc0) == 0x40;
    private static bool IsVal(byte op) => (op & 0x80) != 0;
    private static int ZeroLen(byte op) => (op & 0x3f) + 1;
    private static int XZeroLen(byte op, byte next) => (((op & 0x3f) << 8) | next) + 1;
    private static int ValValue(byte op) => ((op >> 2) & 0x1f) + 1;
    private static int ValLen(byte op) => (op & 0x3) + 1;
    private static byte ValOp(int value, int len) => (byte)(((value - 1) << 2) | (len - 1) | 0x80);

    private static void SetXZero(Span<byte> d, int p, int len)
    {
        int l = len - 1;
        d[p] = (byte)((l >> 8) | 0x40);
        d[p + 1] = (byte)(l & 0xff);
    }

    /// <summary>The second byte of an XZERO at <paramref name="p"/> of a read-only payload: zero past the end.</summary>
    private static byte SecondByte(ReadOnlySpan<byte> body, int p) => p + 1 < body.Length ? body[p + 1] : (byte)0;

    /// <summary>
    /// Raises register <paramref name="index"/> of the sparse HLL in <paramref name="b"/> to
    /// <paramref name="count"/> if lower. Returns 1 when it changed (the cache is then invalidated),
    /// 0 when it was already at least that high, -1 when the payload is corrupt. A value VAL cannot
    /// hold, or a split that would take the value past <paramref name="sparseMaxBytes"/>, promotes
    /// the HLL to dense first.
    /// </summary>
    public static int SparseSet(HllBuffer b, int index, int count, long sparseMaxBytes)
    {
        if (count > ValMaxValue) return Promote(b, index, count);
        b.EnsureSlack();
        byte[] d = b.Data;
        int sparse = HeaderSize, p = sparse, end = b.Length;

        // Find the opcode covering the register, remembering the one before it.
        long first = 0, span = 0;
        int prev = -1;
        while (p < end)
        {
            int oplen = 1;
            byte op = d[p];
            if (IsZero(op)) span = ZeroLen(op);
            else if (IsVal(op)) span = ValLen(op);
            else
            {
                span = XZeroLen(op, d[p + 1]);
                oplen = 2;
            }
            if (index <= first + span - 1) break;
            prev = p;
            p += oplen;
            first += span;
        }
        if (span == 0 || p >= end) return -1;

        byte cur = d[p];
        int next = IsXZero(cur) ? p + 2 : p + 1;
        if (next >= end) next = -1;
        bool isZero = IsZero(cur), isXZero = IsXZero(cur), isVal = IsVal(cur);
        long runlen = isZero ? ZeroLen(cur) : isXZero ? XZeroLen(cur, d[p + 1]) : ValLen(cur);

        if (isVal)
        {
            if (ValValue(cur) >= count) return 0;
            // A VAL covering only this register is rewritten in place.
            if (runlen == 1)
            {
                d[p] = ValOp(count, 1);
                return MergeAdjacent(b, prev, sparse);
            }
        }
        // So is a ZERO covering only this register.
        if (isZero && runlen == 1)
        {
            d[p] = ValOp(count, 1);
            return MergeAdjacent(b, prev, sparse);
        }

        // Otherwise the opcode splits into up to three: what precedes the register, the register's
        // new VAL, and what follows it. The widest case, XZERO-VAL-XZERO, is 5 bytes.
        Span<byte> seq = stackalloc byte[5];
        int n = 0;
        int last = (int)(first + span - 1);
        int at = (int)first;
        if (isZero || isXZero)
        {
            if (index != at) n = WriteZeroRun(seq, n, index - at);
            seq[n++] = ValOp(count, 1);
            if (index != last) n = WriteZeroRun(seq, n, last - index);
        }
        else
        {
            int curval = ValValue(cur);
            if (index != at) seq[n++] = ValOp(curval, index - at);
            seq[n++] = ValOp(count, 1);
            if (index != last) seq[n++] = ValOp(curval, last - index);
        }

        int oldlen = isXZero ? 2 : 1;
        int delta = n - oldlen;
        if (delta > 0 && b.Length + (long)delta > sparseMaxBytes) return Promote(b, index, count);
        if (delta != 0 && next >= 0) Array.Copy(d, next, d, next + delta, end - next);
        b.Length += delta;
        seq[..n].CopyTo(d.AsSpan(p));
        return MergeAdjacent(b, prev, sparse);
    }

    /// <summary>A run of zero registers: ZERO when it fits in one, else XZERO.</summary>
    private static int WriteZeroRun(Span<byte> seq, int n, int len)
    {
        if (len > ZeroMaxLen)
        {
            SetXZero(seq, n, len);
            return n + 2;
        }
        seq[n] = (byte)(len - 1);
        return n + 1;
    }

    /// <summary>
    /// After an edit, joins adjacent VALs of equal value whose lengths fit one opcode, looking at up to
    /// five opcodes from the one before the edit. Invalidates the cached cardinality; returns 1.
    /// </summary>
    private static int MergeAdjacent(HllBuffer b, int prev, int sparse)
    {
        byte[] d = b.Data;
        int end = b.Length;
        int p = prev >= 0 ? prev : sparse;
        int scan = 5;
        while (p < end && scan-- > 0)
        {
            byte op = d[p];
            if (IsXZero(op))
            {
                p += 2;
                continue;
            }
            if (IsZero(op))
            {
                p++;
                continue;
            }
            if (p + 1 < end && IsVal(d[p + 1]))
            {
                int v1 = ValValue(op), v2 = ValValue(d[p + 1]);
                if (v1 == v2)
                {
                    int len = ValLen(op) + ValLen(d[p + 1]);
                    if (len <= ValMaxLen)
                    {
                        d[p + 1] = ValOp(v1, len);
                        Array.Copy(d, p + 1, d, p, end - p);
                        b.Length--;
                        end--;
                        // Stay here: the joined VAL may join the next one too.
                        continue;
                    }
                }
            }
            p++;
        }
        InvalidateCache(d);
        return 1;
    }

    /// <summary>Converts to dense and sets the register there; -1 when the sparse payload is corrupt.</summary>
    private static int Promote(HllBuffer b, int index, int count)
    {
        if (!SparseToDense(b)) return -1;
        return DenseSet(b.Data.AsSpan(HeaderSize, DenseSize - HeaderSize), index, count) ? 1 : 0;
    }

    /// <summary>
    /// Replaces a sparse HLL by its dense form, keeping the header bytes (magic, unused bytes, cache)
    /// but the encoding. Already dense: nothing to do. False when the payload does not describe exactly
    /// <see cref="Registers"/> registers; <paramref name="b"/> is then unchanged.
    /// </summary>
    public static bool SparseToDense(HllBuffer b)
    {
        byte[] d = b.Data;
        if (d[EncodingOffset] == EncodingDense) return true;
        var dense = new byte[DenseSize + HllBuffer.Slack];
        d.AsSpan(0, HeaderSize).CopyTo(dense);
        dense[EncodingOffset] = EncodingDense;
        var regs = dense.AsSpan(HeaderSize, DenseSize - HeaderSize);

        int idx = 0, p = HeaderSize, end = b.Length;
        while (p < end)
        {
            byte op = d[p];
            if (IsZero(op) || IsXZero(op))
            {
                bool x = IsXZero(op);
                idx += x ? XZeroLen(op, d[p + 1]) : ZeroLen(op);
                if (idx > Registers) return false;
                p += x ? 2 : 1;
            }
            else
            {
                int runlen = ValLen(op), regval = ValValue(op);
                if (runlen + idx > Registers) return false;
                for (; runlen > 0; runlen--) SetRegister(regs, idx++, regval);
                p++;
            }
        }
        if (idx != Registers) return false;
        b.Replace(dense, DenseSize);
        return true;
    }

    /// <summary>Register-value histogram of a sparse payload; false unless it covers exactly all registers.</summary>
    public static bool SparseHistogram(ReadOnlySpan<byte> body, Span<int> histo)
    {
        int idx = 0, p = 0;
        while (p < body.Length)
        {
            byte op = body[p];
            int runlen;
            if (IsZero(op))
            {
                runlen = ZeroLen(op);
                histo[0] += runlen;
                p++;
            }
            else if (IsXZero(op))
            {
                runlen = XZeroLen(op, SecondByte(body, p));
                histo[0] += runlen;
                p += 2;
            }
            else
            {
                runlen = ValLen(op);
                histo[ValValue(op)] += runlen;
                p++;
            }
            idx += runlen;
            // Past the register count the payload is already known corrupt; stop before sums overflow.
            if (idx > Registers) return false;
        }
        return idx == Registers;
    }

    /// <summary>Raises each byte of <paramref name="max"/> to the matching sparse register; false when corrupt.</summary>
    private static bool SparseMergeInto(ReadOnlySpan<byte> body, Span<byte> max)
    {
        int i = 0, p = 0;
        while (p < body.Length)
        {
            byte op = body[p];
            if (IsZero(op) || IsXZero(op))
            {
                bool x = IsXZero(op);
                i += x ? XZeroLen(op, SecondByte(body, p)) : ZeroLen(op);
                if (i > Registers) return false;
                p += x ? 2 : 1;
            }
            else
            {
                int runlen = ValLen(op), regval = ValValue(op);
                if (runlen + i > Registers) return false;
                for (; runlen > 0; runlen--, i++)
                    if (regval > max[i]) max[i] = (byte)regval;
                p++;
            }
        }
        return i == Registers;
    }

    /// <summary>
    /// The opcodes of a sparse value as text for PFDEBUG DECODE: "z:len" (ZERO), "Z:len" (XZERO) and
    /// "v:value,len" (VAL), separated by spaces.
    /// </summary>
    public static string DecodeSparse(ReadOnlySpan<byte> value)
    {
        var body = value[HeaderSize..];
        var sb = new StringBuilder();
        int p = 0;
        while (p < body.Length)
        {
            byte op = body[p];
            if (sb.Length > 0) sb.Append(' ');
            if (IsZero(op))
            {
                sb.Append("z:").Append(ZeroLen(op));
                p++;
            }
            else if (IsXZero(op))
            {
                sb.Append("Z:").Append(XZeroLen(op, SecondByte(body, p)));
                p += 2;
            }
            else
            {
                sb.Append("v:").Append(ValValue(op)).Append(',').Append(ValLen(op));
                p++;
            }
        }
        return sb.ToString();
    }
}
