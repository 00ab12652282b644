using System.Numerics;
using System.Runtime.InteropServices;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// Bitmaps over string values (bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD[_RO].
/// Bit 0 is the most significant bit of the first byte.
/// </summary>
public static partial class BitmapCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("setbit", SetBit);
        t.Bind("getbit", GetBit);
        t.Bind("bitcount", BitCount);
        t.Bind("bitpos", BitPos);
        t.Bind("bitop", BitOp);
        t.Bind("bitfield", c => Bitfield(c, readOnlyCommand: false));
        t.Bind("bitfield_ro", c => Bitfield(c, readOnlyCommand: true));
    }

    private const string BitOffsetError = "bit offset is not an integer or out of range";

    /// <summary>
    /// Parses a bit offset: non-negative and addressing a byte below proto-max-bulk-len (the master link
    /// is exempt). With <paramref name="hash"/> (BITFIELD), "#n" means n * <paramref name="bits"/>.
    /// </summary>
    private static bool TryGetBitOffset(Client c, int idx, bool hash, int bits, out long offset)
    {
        var p = c.Arg(idx);
        bool useHash = hash && bits > 0 && p.Length > 0 && p[0] == '#';
        offset = 0;
        if (!Protocol.NumberParser.TryParseInt64(useHash ? p[1..] : p, out long v))
        {
            c.Reply.Error(BitOffsetError);
            return false;
        }
        if (useHash) v = unchecked(v * bits);
        if (v < 0 || ((c.Flags & ClientFlags.Master) == 0 && (v >> 3) >= c.Server.Config.ProtoMaxBulkLen))
        {
            c.Reply.Error(BitOffsetError);
            return false;
        }
        offset = v;
        return true;
    }

    /// <summary>
    /// Redis's lookupStringForBitCommand: the string at the key, created or zero-padded so that bit
    /// <paramref name="maxBit"/> exists. <paramref name="grew"/> tells whether the key was created or
    /// lengthened. Returns false after replying (WRONGTYPE, or a length this server cannot hold).
    /// </summary>
    private static bool LookupForBitWrite(Client c, long maxBit, out int slot, out byte[] rec, out bool grew)
    {
        var key = c.Arg(1);
        var db = c.Db;
        long needed = (maxBit >> 3) + 1;
        slot = StringCommands.FindForWrite(c, key);
        rec = null!;
        grew = false;
        if (slot >= 0 && db.ObjectAt(slot) is not byte[])
        {
            c.WrongType();
            return false;
        }
        if (needed > StringRecord.MaxValueLength(key.Length))
        {
            c.Reply.Error("string exceeds maximum allowed size (proto-max-bulk-len)");
            return false;
        }
        if (slot < 0)
        {
            rec = StringRecord.CreateForKey(key, (int)needed);
            slot = db.Add(rec);
            grew = true;
            return true;
        }
        rec = (byte[])db.ObjectAt(slot);
        if (StringRecord.ValueLength(rec) < needed)
        {
            rec = StringRecord.GrowValue(rec, (int)needed);
            db.ReplaceAt(slot, rec);
            grew = true;
        }
        return true;
    }

    /// <summary>SETBIT key offset 0|1: replies the previous bit; a no-op write is not a change.</summary>
    private static void SetBit(Client c)
    {
        if (!TryGetBitOffset(c, 2, false, 0, out long offset)) return;
        const string bitError = "bit is not an integer or out of range";
        if (!c.TryGetLong(3, out long on, bitError)) return;
        if ((on & ~1L) != 0)
        {
            c.Reply.Error(bitError);
            return;
        }
        if (!LookupForBitWrite(c, offset, out int slot, out var rec, out bool grew)) return;
        var value = StringRecord.MutableValue(rec);
        int byteIdx = (int)(offset >> 3);
        int mask = 1 << (7 - (int)(offset & 7));
        bool wasSet = (value[byteIdx] & mask) != 0;
        if (grew || wasSet != (on == 1))
        {
            value[byteIdx] = (byte)(on == 1 ? value[byteIdx] | mask : value[byteIdx] & ~mask);
            var key = c.Arg(1);
            c.Db.ReplaceAt(slot, rec);
            c.Server.SignalModifiedKey(c.Db, key);
            c.Server.Notify(KeyspaceEventClass.String, "setbit", key, c.Db.Id);
            c.Server.Dirty();
        }
        c.Reply.Integer(wasSet ? 1 : 0);
    }

    /// <summary>GETBIT key offset: bits past the end read as 0.</summary>
    private static void GetBit(Client c)
    {
        if (!TryGetBitOffset(c, 2, false, 0, out long offset)) return;
        if (!StringCommands.TryReadString(c, c.Arg(1), out var value, out _)) return;
        long byteIdx = offset >> 3;
        int bit = byteIdx < value.Length ? (value[(int)byteIdx] >> (7 - (int)(offset & 7))) & 1 : 0;
        c.Reply.Integer(bit);
    }

    /// <summary>
    /// Resolves a [start, end] range given in bytes or bits (negative counts from the end) to an
    /// inclusive bit range; false when it is empty.
    /// </summary>
    private static bool ResolveRange(long start, long end, long byteLength, bool isBit, out long firstBit, out long lastBit)
    {
        long total = isBit ? byteLength << 3 : byteLength;
        if (start < 0) start += total;
        if (end < 0) end += total;
        if (start < 0) start = 0;
        if (end < 0) end = 0;
        if (end >= total) end = total - 1;
        firstBit = isBit ? start : start << 3;
        lastBit = isBit ? end : (end << 3) + 7;
        return start <= end;
    }

    /// <summary>Parses BIT|BYTE; false after a syntax error.</summary>
    private static bool TryGetUnit(Client c, int idx, out bool isBit)
    {
        isBit = c.ArgIs(idx, "bit"u8);
        if (isBit || c.ArgIs(idx, "byte"u8)) return true;
        c.SyntaxError();
        return false;
    }

    /// <summary>BITCOUNT key [start end [BYTE|BIT]].</summary>
    private static void BitCount(Client c)
    {
        if (!StringCommands.TryReadString(c, c.Arg(1), out var value, out bool found)) return;
        if (!found)
        {
            c.Reply.Integer(0);
            return;
        }
        long firstBit, lastBit;
        if (c.Argc == 4 || c.Argc == 5)
        {
            if (!c.TryGetLong(2, out long start) || !c.TryGetLong(3, out long end)) return;
            // Both negative and reversed: empty, whatever the unit says.
            if (start < 0 && end < 0 && start > end)
            {
                c.Reply.Integer(0);
                return;
            }
            bool isBit = false;
            if (c.Argc == 5 && !TryGetUnit(c, 4, out isBit)) return;
            if (!ResolveRange(start, end, value.Length, isBit, out firstBit, out lastBit))
            {
                c.Reply.Integer(0);
                return;
            }
        }
        else if (c.Argc == 2)
        {
            if (value.Length == 0)
            {
                c.Reply.Integer(0);
                return;
            }
            firstBit = 0;
            lastBit = ((long)value.Length << 3) - 1;
        }
        else
        {
            c.SyntaxError();
            return;
        }
        c.Reply.Integer(CountBits(value, firstBit, lastBit));
    }

    /// <summary>Set bits among bits [firstBit, lastBit] of <paramref name="v"/>.</summary>
    private static long CountBits(ReadOnlySpan<byte> v, long firstBit, long lastBit)
    {
        int fb = (int)(firstBit >> 3), lb = (int)(lastBit >> 3);
        int headMask = 0xFF >> (int)(firstBit & 7);
        int tailMask = (0xFF << (7 - (int)(lastBit & 7))) & 0xFF;
        if (fb == lb) return BitOperations.PopCount((uint)(v[fb] & headMask & tailMask));
        return BitOperations.PopCount((uint)(v[fb] & headMask)) + PopCount(v[(fb + 1)..lb]) +
               BitOperations.PopCount((uint)(v[lb] & tailMask));
    }

    private static long PopCount(ReadOnlySpan<byte> s)
    {
        long n = 0;
        var words = MemoryMarshal.Cast<byte, ulong>(s);
        foreach (ulong w in words) n += BitOperations.PopCount(w);
        for (int i = words.Length * 8; i < s.Length; i++) n += BitOperations.PopCount((uint)s[i]);
        return n;
    }

    /// <summary>
    /// BITPOS key bit [start [end [BYTE|BIT]]]. A missing key is all zeros. Looking for 0 without an
    /// explicit end treats the string as zero-padded on the right, so the answer may be just past it.
    /// </summary>
    private static void BitPos(Client c)
    {
        if (!c.TryGetLong(2, out long bit)) return;
        if (bit != 0 && bit != 1)
        {
            c.Reply.Error("The bit argument must be 1 or 0.");
            return;
        }
        if (!StringCommands.TryReadString(c, c.Arg(1), out var value, out bool found)) return;
        if (!found)
        {
            c.Reply.Integer(bit == 1 ? -1 : 0);
            return;
        }
        long firstBit = 0, lastBit = ((long)value.Length << 3) - 1;
        bool endGiven = false, nonEmpty = value.Length > 0;
        if (c.Argc >= 4 && c.Argc <= 6)
        {
            if (!c.TryGetLong(3, out long start)) return;
            bool isBit = false;
            if (c.Argc == 6 && !TryGetUnit(c, 5, out isBit)) return;
            long end;
            if (c.Argc >= 5)
            {
                if (!c.TryGetLong(4, out end)) return;
                endGiven = true;
            }
            else end = isBit ? ((long)value.Length << 3) + 7 : value.Length - 1;
            nonEmpty = ResolveRange(start, end, value.Length, isBit, out firstBit, out lastBit);
        }
        else if (c.Argc != 3)
        {
            c.SyntaxError();
            return;
        }
        if (!nonEmpty)
        {
            c.Reply.Integer(-1);
            return;
        }
        long pos = FindBit(value, firstBit, lastBit, (int)bit);
        if (pos < 0 && bit == 0 && !endGiven) pos = lastBit + 1;
        c.Reply.Integer(pos);
    }

    /// <summary>Position of the first bit equal to <paramref name="bit"/> among bits [firstBit, lastBit], or -1.</summary>
    private static long FindBit(ReadOnlySpan<byte> v, long firstBit, long lastBit, int bit)
    {
        int fb = (int)(firstBit >> 3), lb = (int)(lastBit >> 3);
        int flip = bit == 1 ? 0 : 0xFF; // turns the bits we look for into ones
        int headMask = 0xFF >> (int)(firstBit & 7);
        int tailMask = (0xFF << (7 - (int)(lastBit & 7))) & 0xFF;
        int m = (v[fb] ^ flip) & headMask;
        if (fb == lb) m &= tailMask;
        if (m != 0) return ((long)fb << 3) + BitOperations.LeadingZeroCount((uint)m) - 24;
        if (fb == lb) return -1;
        var middle = v[(fb + 1)..lb];
        int i = middle.IndexOfAnyExcept((byte)flip);
        if (i >= 0)
        {
            int b = fb + 1 + i;
            return ((long)b << 3) + BitOperations.LeadingZeroCount((uint)(v[b] ^ flip)) - 24;
        }
        m = (v[lb] ^ flip) & tailMask;
        if (m != 0) return ((long)lb << 3) + BitOperations.LeadingZeroCount((uint)m) - 24;
        return -1;
    }

    private enum BitOpKind { And, Or, Xor, Not }

    /// <summary>
    /// BITOP AND|OR|XOR|NOT destkey key...: missing keys and shorter strings count as zero bytes; the
    /// result has the longest length, and an empty result deletes the destination.
    /// </summary>
    private static void BitOp(Client c)
    {
        BitOpKind op;
        if (c.ArgIs(1, "and"u8)) op = BitOpKind.And;
        else if (c.ArgIs(1, "or"u8)) op = BitOpKind.Or;
        else if (c.ArgIs(1, "xor"u8)) op = BitOpKind.Xor;
        else if (c.ArgIs(1, "not"u8)) op = BitOpKind.Not;
        else
        {
            c.SyntaxError();
            return;
        }
        if (op == BitOpKind.Not && c.Argc != 4)
        {
            c.Reply.Error("BITOP NOT must be called with a single source key.");
            return;
        }

        var db = c.Db;
        bool noTouch = (c.Flags & ClientFlags.NoTouch) != 0;
        int numKeys = c.Argc - 3;
        // Sources stay valid while computing: the destination is a new record stored at the end.
        var sources = new byte[]?[numKeys];
        int maxLen = 0, minLen = int.MaxValue;
        for (int j = 0; j < numKeys; j++)
        {
            var obj = db.LookupRead(c.Arg(j + 3), noTouch);
            if (obj is null)
            {
                minLen = 0;
                continue;
            }
            if (obj is not byte[] rec)
            {
                c.WrongType();
                return;
            }
            sources[j] = rec;
            int len = StringRecord.ValueLength(rec);
            maxLen = Math.Max(maxLen, len);
            minLen = Math.Min(minLen, len);
        }

        var dest = c.Arg(2);
        int slot = StringCommands.FindForWrite(c, dest);
        if (maxLen == 0)
        {
            if (slot >= 0)
            {
                db.RemoveSlot(slot);
                c.Server.SignalModifiedKey(db, dest);
                c.Server.Notify(KeyspaceEventClass.Generic, "del", dest, db.Id);
                c.Server.Dirty();
            }
            c.Reply.Integer(0);
            return;
        }

        var result = StringRecord.CreateForKey(dest, maxLen);
        var res = StringRecord.MutableValue(result);
        switch (op)
        {
            case BitOpKind.Not:
                Not(res, StringRecord.Value(sources[0]!));
                break;
            case BitOpKind.And:
                // Past the shortest input some operand is a zero byte, so only the common prefix is non-zero.
                if (minLen > 0)
                {
                    StringRecord.Value(sources[0]!)[..minLen].CopyTo(res);
                    for (int j = 1; j < numKeys; j++) Combine(res[..minLen], StringRecord.Value(sources[j]!)[..minLen], op);
                }
                break;
            default:
                foreach (var src in sources)
                    if (src != null) Combine(res, StringRecord.Value(src), op);
                break;
        }

        if (slot >= 0)
        {
            db.ReplaceAt(slot, result);
            db.RemoveExpire(slot);
        }
        else db.Add(result);
        c.Server.SignalModifiedKey(db, dest);
        c.Server.Notify(KeyspaceEventClass.String, "set", dest, db.Id);
        c.Server.Dirty();
        c.Reply.Integer(maxLen);
    }

    /// <summary>dst[i] op= src[i] over src's length (dst is at least as long).</summary>
    private static void Combine(Span<byte> dst, ReadOnlySpan<byte> src, BitOpKind op)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<byte>.Count;
            for (; i + width <= src.Length; i += width)
            {
                var a = new Vector<byte>(dst[i..]);
                var b = new Vector<byte>(src[i..]);
                var r = op switch { BitOpKind.And => a & b, BitOpKind.Or => a | b, _ => a ^ b };
                r.CopyTo(dst[i..]);
            }
        }
        for (; i < src.Length; i++)
        {
            dst[i] = op switch
            {
                BitOpKind.And => (byte)(dst[i] & src[i]),
                BitOpKind.Or => (byte)(dst[i] | src[i]),
                _ => (byte)(dst[i] ^ src[i]),
            };
        }
    }

    private static void Not(Span<byte> dst, ReadOnlySpan<byte> src)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<byte>.Count;
            for (; i + width <= src.Length; i += width) (~new Vector<byte>(src[i..])).CopyTo(dst[i..]);
        }
        for (; i < src.Length; i++) dst[i] = (byte)~src[i];
    }
}
