using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>BITFIELD and BITFIELD_RO: integers of 1..64 bits (u1..u63, i1..i64) at any bit offset.</summary>
public static partial class BitmapCommands
{
    private enum FieldOp : byte { Get, Set, IncrBy }

    private enum Overflow : byte { Wrap, Sat, Fail }

    private struct FieldOperation
    {
        public long Offset;
        public long Value;     // SET value or INCRBY increment
        public FieldOp Op;
        public Overflow Overflow;
        public int Bits;
        public bool Signed;
    }

    private const string TypeError = "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

    /// <summary>Parses a field type: 'i' or 'u' then the width (i1..i64, u1..u63).</summary>
    private static bool TryGetFieldType(Client c, int idx, out bool signed, out int bits)
    {
        var p = c.Arg(idx);
        signed = false;
        bits = 0;
        if (p.Length == 0 || (p[0] != 'i' && p[0] != 'u'))
        {
            c.Reply.Error(TypeError);
            return false;
        }
        signed = p[0] == 'i';
        var width = p[1..];
        int nul = width.IndexOf((byte)0);
        if (nul >= 0) width = width[..nul]; // the width is read as a C string
        if (!NumberParser.TryParseInt64(width, out long w) || w < 1 || (signed && w > 64) || (!signed && w > 63))
        {
            c.Reply.Error(TypeError);
            return false;
        }
        bits = (int)w;
        return true;
    }

    /// <summary>
    /// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
    /// [OVERFLOW WRAP|SAT|FAIL] ...: every operation is parsed before any runs; the string grows to the
    /// farthest written bit first. OVERFLOW applies to the operations after it; FAIL replies null and
    /// skips the write.
    /// </summary>
    private static void Bitfield(Client c, bool readOnlyCommand)
    {
        int maxOps = (c.Argc - 2) / 3 + 1;
        Span<FieldOperation> ops = maxOps <= 32 ? stackalloc FieldOperation[maxOps] : new FieldOperation[maxOps];
        int numOps = 0;
        var overflow = Overflow.Wrap;
        bool readOnly = true;
        long highestWrite = 0;

        for (int j = 2; j < c.Argc; j++)
        {
            int remaining = c.Argc - j - 1;
            FieldOp op;
            if (c.ArgIs(j, "get"u8) && remaining >= 2) op = FieldOp.Get;
            else if (c.ArgIs(j, "set"u8) && remaining >= 3) op = FieldOp.Set;
            else if (c.ArgIs(j, "incrby"u8) && remaining >= 3) op = FieldOp.IncrBy;
            else if (c.ArgIs(j, "overflow"u8) && remaining >= 1)
            {
                j++;
                if (c.ArgIs(j, "wrap"u8)) overflow = Overflow.Wrap;
                else if (c.ArgIs(j, "sat"u8)) overflow = Overflow.Sat;
                else if (c.ArgIs(j, "fail"u8)) overflow = Overflow.Fail;
                else
                {
                    c.Reply.Error("Invalid OVERFLOW type specified");
                    return;
                }
                continue;
            }
            else
            {
                c.SyntaxError();
                return;
            }

            if (!TryGetFieldType(c, j + 1, out bool signed, out int bits)) return;
            if (!TryGetBitOffset(c, j + 2, true, bits, out long offset)) return;
            long value = 0;
            if (op != FieldOp.Get)
            {
                readOnly = false;
                highestWrite = Math.Max(highestWrite, offset + bits - 1);
                if (!c.TryGetLong(j + 3, out value)) return;
            }
            ops[numOps++] = new FieldOperation { Offset = offset, Value = value, Op = op, Overflow = overflow, Bits = bits, Signed = signed };
            j += op == FieldOp.Get ? 2 : 3;
        }

        int slot = -1;
        byte[]? rec = null;
        bool grew = false;
        if (readOnly)
        {
            var obj = c.Db.LookupRead(c.Arg(1), (c.Flags & ClientFlags.NoTouch) != 0);
            if (obj != null && obj is not byte[])
            {
                c.WrongType();
                return;
            }
            rec = obj as byte[];
        }
        else
        {
            if (readOnlyCommand)
            {
                c.Reply.Error("BITFIELD_RO only supports the GET subcommand");
                return;
            }
            if (!LookupForBitWrite(c, highestWrite, out slot, out rec, out grew)) return;
        }

        c.Reply.ArrayHeader(numOps);
        long changes = 0;
        for (int k = 0; k < numOps; k++)
        {
            ref var fo = ref ops[k];
            if (fo.Op == FieldOp.Get)
            {
                var src = rec is null ? ReadOnlySpan<byte>.Empty : StringRecord.Value(rec);
                ulong raw = ReadField(src, fo.Offset, fo.Bits);
                c.Reply.Integer(fo.Signed ? SignExtend(raw, fo.Bits) : (long)raw);
                continue;
            }
            var v = StringRecord.MutableValue(rec!);
            bool failed;
            ulong oldBits, newBits;
            long reply;
            if (fo.Signed)
            {
                long oldVal = SignExtend(ReadField(v, fo.Offset, fo.Bits), fo.Bits);
                long newVal;
                int ovf;
                if (fo.Op == FieldOp.IncrBy)
                {
                    ovf = CheckSignedOverflow(oldVal, fo.Value, fo.Bits, fo.Overflow, out long wrapped);
                    newVal = ovf != 0 ? wrapped : unchecked(oldVal + fo.Value);
                    reply = newVal;
                }
                else
                {
                    ovf = CheckSignedOverflow(fo.Value, 0, fo.Bits, fo.Overflow, out long wrapped);
                    newVal = ovf != 0 ? wrapped : fo.Value;
                    reply = oldVal;
                }
                failed = ovf != 0 && fo.Overflow == Overflow.Fail;
                oldBits = (ulong)oldVal;
                newBits = (ulong)newVal;
            }
            else
            {
                ulong oldVal = ReadField(v, fo.Offset, fo.Bits);
                ulong newVal;
                int ovf;
                if (fo.Op == FieldOp.IncrBy)
                {
                    ovf = CheckUnsignedOverflow(oldVal, fo.Value, fo.Bits, fo.Overflow, out ulong wrapped);
                    newVal = ovf != 0 ? wrapped : unchecked(oldVal + (ulong)fo.Value);
                    reply = (long)newVal;
                }
                else
                {
                    ovf = CheckUnsignedOverflow((ulong)fo.Value, 0, fo.Bits, fo.Overflow, out ulong wrapped);
                    newVal = ovf != 0 ? wrapped : (ulong)fo.Value;
                    reply = (long)oldVal;
                }
                failed = ovf != 0 && fo.Overflow == Overflow.Fail;
                oldBits = oldVal;
                newBits = newVal;
            }
            if (failed)
            {
                c.Reply.Null();
                continue;
            }
            c.Reply.Integer(reply);
            WriteField(v, fo.Offset, fo.Bits, newBits);
            if (grew || oldBits != newBits) changes++;
        }

        if (changes > 0)
        {
            var key = c.Arg(1);
            c.Db.ReplaceAt(slot, rec!);
            c.Server.SignalModifiedKey(c.Db, key);
            c.Server.Notify(KeyspaceEventClass.String, "setbit", key, c.Db.Id);
            c.Server.Dirty(changes);
        }
    }

    /// <summary>The <paramref name="bits"/>-bit unsigned field at bit <paramref name="offset"/>; bytes past the end read as zero.</summary>
    private static ulong ReadField(ReadOnlySpan<byte> v, long offset, int bits)
    {
        long first = offset >> 3;
        int skip = (int)(offset & 7);
        int nb = (skip + bits + 7) >> 3;
        UInt128 acc = 0;
        for (int k = 0; k < nb; k++)
        {
            long i = first + k;
            acc = (acc << 8) | (i < v.Length ? v[(int)i] : (byte)0);
        }
        int shift = nb * 8 - skip - bits;
        return (ulong)(acc >> shift) & (bits == 64 ? ulong.MaxValue : (1UL << bits) - 1);
    }

    /// <summary>Writes the low <paramref name="bits"/> bits of <paramref name="value"/> at bit <paramref name="offset"/> (in range).</summary>
    private static void WriteField(Span<byte> v, long offset, int bits, ulong value)
    {
        int first = (int)(offset >> 3);
        int skip = (int)(offset & 7);
        int nb = (skip + bits + 7) >> 3;
        UInt128 acc = 0;
        for (int k = 0; k < nb; k++) acc = (acc << 8) | v[first + k];
        int shift = nb * 8 - skip - bits;
        UInt128 mask = ((UInt128.One << bits) - 1) << shift;
        acc = (acc & ~mask) | (((UInt128)value << shift) & mask);
        for (int k = nb - 1; k >= 0; k--)
        {
            v[first + k] = (byte)acc;
            acc >>= 8;
        }
    }

    private static long SignExtend(ulong raw, int bits)
        => bits < 64 && (raw & (1UL << (bits - 1))) != 0 ? (long)(raw | (ulong.MaxValue << bits)) : (long)raw;

    /// <summary>
    /// Whether value + incr leaves the unsigned range of <paramref name="bits"/> bits: 1 above, -1 below,
    /// 0 inside. On overflow <paramref name="limit"/> is the WRAP or SAT result.
    /// </summary>
    private static int CheckUnsignedOverflow(ulong value, long incr, int bits, Overflow ow, out ulong limit)
    {
        limit = 0;
        ulong max = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        long maxIncr = unchecked((long)(max - value));
        long minIncr = unchecked(-(long)value);
        int result;
        if (value > max || (incr > 0 && incr > maxIncr)) result = 1;
        else if (incr < 0 && incr < minIncr) result = -1;
        else return 0;
        if (ow == Overflow.Wrap) limit = unchecked(value + (ulong)incr) & max;
        else if (ow == Overflow.Sat) limit = result > 0 ? max : 0;
        return ow == Overflow.Wrap ? 1 : result;
    }

    /// <summary>
    /// The signed counterpart of <see cref="CheckUnsignedOverflow"/>, with the same two's complement
    /// arithmetic as Redis (so values far outside the range classify exactly as there).
    /// </summary>
    private static int CheckSignedOverflow(long value, long incr, int bits, Overflow ow, out long limit)
    {
        limit = 0;
        long max = bits == 64 ? long.MaxValue : (1L << (bits - 1)) - 1;
        long min = -max - 1;
        long maxIncr = unchecked((long)((ulong)max - (ulong)value));
        long minIncr = unchecked(min - value);
        int result;
        if (value > max || (bits != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr)) result = 1;
        else if (value < min || (bits != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr)) result = -1;
        else return 0;
        if (ow == Overflow.Wrap)
        {
            ulong sum = unchecked((ulong)value + (ulong)incr);
            if (bits < 64)
            {
                ulong mask = ulong.MaxValue << bits;
                sum = (sum & (1UL << (bits - 1))) != 0 ? sum | mask : sum & ~mask;
            }
            limit = (long)sum;
            return 1;
        }
        if (ow == Overflow.Sat) limit = result > 0 ? max : min;
        return result;
    }
}
