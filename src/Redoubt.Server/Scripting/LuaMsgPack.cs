using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Redoubt.Server.Scripting;

/// <summary>
/// The cmsgpack library scripts use (pack, unpack, unpack_one, unpack_limit), encoding as Redis's
/// lua_cmsgpack does: integral numbers as the smallest integer form, other numbers as float32 when
/// exact and float64 otherwise, tables whose keys are exactly 1..n as arrays and others as maps,
/// tables nested deeper than 16 as nil.
/// </summary>
internal static unsafe class LuaMsgPack
{
    private const int MaxNesting = 16;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static int Pack(IntPtr L)
    {
        try
        {
            int nargs = Lua.lua_gettop(L);
            if (nargs == 0) return Raise(L, "bad argument #0 to 'pack' (MessagePack pack needs input.)");
            var buf = new List<byte>(64);
            for (int i = 1; i <= nargs; i++)
            {
                Lua.lua_checkstack(L, 4);
                Lua.lua_pushvalue(L, i);
                Encode(L, buf, 0);
            }
            Lua.lua_settop(L, 0);
            Lua.PushBytes(L, CollectionsMarshal.AsSpan(buf));
            return 1;
        }
        catch (Exception e) { return Raise(L, e.Message); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static int Unpack(IntPtr L) => UnpackFull(L, 0, 0);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static int UnpackOne(IntPtr L)
    {
        long offset = Lua.lua_type(L, 2) == Lua.TNumber ? (long)Lua.lua_tonumber(L, 2) : 0;
        return UnpackFull(L, 1, offset);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static int UnpackLimit(IntPtr L)
    {
        long limit = Lua.lua_type(L, 2) == Lua.TNumber ? (long)Lua.lua_tonumber(L, 2) : 0;
        long offset = Lua.lua_type(L, 3) == Lua.TNumber ? (long)Lua.lua_tonumber(L, 3) : 0;
        return UnpackFull(L, limit, offset);
    }

    /// <summary>luaL_error: the message prefixed with the calling script's position, raised by the thunk.</summary>
    private static int Raise(IntPtr L, string message)
    {
        Lua.lua_settop(L, 0);
        Lua.luaL_where(L, 1);
        string where = Lua.ToStringOrNull(L, -1) ?? "";
        Lua.lua_settop(L, 0);
        Lua.PushString(L, where + message);
        return -1;
    }

    // ---- encoding ----------------------------------------------------------------------------------

    /// <summary>Encodes the value on top of the stack and pops it.</summary>
    private static void Encode(IntPtr L, List<byte> buf, int level)
    {
        int t = Lua.lua_type(L, -1);
        if (t == Lua.TTable && level == MaxNesting) t = Lua.TNil;
        switch (t)
        {
            case Lua.TString:
                EncodeBytes(buf, Lua.ToBytes(L, -1, out _));
                break;
            case Lua.TBoolean:
                buf.Add(Lua.lua_toboolean(L, -1) != 0 ? (byte)0xc3 : (byte)0xc2);
                break;
            case Lua.TNumber:
            {
                double n = Lua.lua_tonumber(L, -1);
                if (!double.IsInfinity(n) && !double.IsNaN(n) && n >= -9.2233720368547758E18 && n < 9.2233720368547758E18 && (long)n == n)
                    EncodeInt(buf, (long)n);
                else EncodeDouble(buf, n);
                break;
            }
            case Lua.TTable:
                if (IsArray(L)) EncodeArray(L, buf, level);
                else EncodeMap(L, buf, level);
                break;
            default:
                buf.Add(0xc0);
                break;
        }
        Lua.Pop(L, 1);
    }

    private static void Add(List<byte> buf, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes) buf.Add(b);
    }

    private static void EncodeBytes(List<byte> buf, ReadOnlySpan<byte> s)
    {
        Span<byte> h = stackalloc byte[5];
        int n;
        if (s.Length < 32) { h[0] = (byte)(0xa0 | s.Length); n = 1; }
        else if (s.Length <= 0xff) { h[0] = 0xd9; h[1] = (byte)s.Length; n = 2; }
        else if (s.Length <= 0xffff) { h[0] = 0xda; BinaryPrimitives.WriteUInt16BigEndian(h[1..], (ushort)s.Length); n = 3; }
        else { h[0] = 0xdb; BinaryPrimitives.WriteUInt32BigEndian(h[1..], (uint)s.Length); n = 5; }
        Add(buf, h[..n]);
        Add(buf, s);
    }

    private static void EncodeDouble(List<byte> buf, double d)
    {
        Span<byte> b = stackalloc byte[9];
        float f = (float)d;
        if (d == f)
        {
            b[0] = 0xca;
            BinaryPrimitives.WriteSingleBigEndian(b[1..], f);
            Add(buf, b[..5]);
        }
        else
        {
            b[0] = 0xcb;
            BinaryPrimitives.WriteDoubleBigEndian(b[1..], d);
            Add(buf, b);
        }
    }

    private static void EncodeInt(List<byte> buf, long n)
    {
        Span<byte> b = stackalloc byte[9];
        int len;
        if (n >= 0)
        {
            if (n <= 127) { b[0] = (byte)n; len = 1; }
            else if (n <= 0xff) { b[0] = 0xcc; b[1] = (byte)n; len = 2; }
            else if (n <= 0xffff) { b[0] = 0xcd; BinaryPrimitives.WriteUInt16BigEndian(b[1..], (ushort)n); len = 3; }
            else if (n <= 0xffffffffL) { b[0] = 0xce; BinaryPrimitives.WriteUInt32BigEndian(b[1..], (uint)n); len = 5; }
            else { b[0] = 0xcf; BinaryPrimitives.WriteUInt64BigEndian(b[1..], (ulong)n); len = 9; }
        }
        else
        {
            if (n >= -32) { b[0] = (byte)(sbyte)n; len = 1; }
            else if (n >= -128) { b[0] = 0xd0; b[1] = (byte)(sbyte)n; len = 2; }
            else if (n >= -32768) { b[0] = 0xd1; BinaryPrimitives.WriteInt16BigEndian(b[1..], (short)n); len = 3; }
            else if (n >= -2147483648L) { b[0] = 0xd2; BinaryPrimitives.WriteInt32BigEndian(b[1..], (int)n); len = 5; }
            else { b[0] = 0xd3; BinaryPrimitives.WriteInt64BigEndian(b[1..], n); len = 9; }
        }
        Add(buf, b[..len]);
    }

    /// <summary>table_is_an_array: every key a positive integral number and the largest equal to the count.</summary>
    private static bool IsArray(IntPtr L)
    {
        int top = Lua.lua_gettop(L);
        double max = 0;
        long count = 0;
        Lua.lua_pushnil(L);
        while (Lua.lua_next(L, -2) != 0)
        {
            Lua.Pop(L, 1);
            if (Lua.lua_type(L, -1) != Lua.TNumber)
            {
                Lua.lua_settop(L, top);
                return false;
            }
            double n = Lua.lua_tonumber(L, -1);
            if (n <= 0 || n != Math.Floor(n) || n > int.MaxValue)
            {
                Lua.lua_settop(L, top);
                return false;
            }
            if (n > max) max = n;
            count++;
        }
        Lua.lua_settop(L, top);
        return max == count;
    }

    private static void EncodeArray(IntPtr L, List<byte> buf, int level)
    {
        long len = (long)Lua.lua_objlen(L, -1);
        EncodeHeader(buf, len, 0x90, 0xdc, 0xdd);
        Lua.lua_checkstack(L, 2);
        for (int j = 1; j <= len; j++)
        {
            Lua.lua_rawgeti(L, -1, j);
            Encode(L, buf, level + 1);
        }
    }

    private static void EncodeMap(IntPtr L, List<byte> buf, int level)
    {
        long len = 0;
        Lua.lua_checkstack(L, 4);
        Lua.lua_pushnil(L);
        while (Lua.lua_next(L, -2) != 0)
        {
            Lua.Pop(L, 1);
            len++;
        }
        EncodeHeader(buf, len, 0x80, 0xde, 0xdf);
        Lua.lua_pushnil(L);
        while (Lua.lua_next(L, -2) != 0)
        {
            Lua.lua_pushvalue(L, -2);
            Encode(L, buf, level + 1); // the key (a copy: lua_next keeps the original)
            Encode(L, buf, level + 1); // the value
        }
    }

    private static void EncodeHeader(List<byte> buf, long n, byte fix, byte b16, byte b32)
    {
        Span<byte> b = stackalloc byte[5];
        if (n <= 15) { buf.Add((byte)(fix | n)); return; }
        if (n <= 65535) { b[0] = b16; BinaryPrimitives.WriteUInt16BigEndian(b[1..], (ushort)n); Add(buf, b[..3]); return; }
        b[0] = b32;
        BinaryPrimitives.WriteUInt32BigEndian(b[1..], (uint)n);
        Add(buf, b);
    }

    // ---- decoding ----------------------------------------------------------------------------------

    private sealed class FormatError(string message) : Exception(message);

    private static int UnpackFull(IntPtr L, long limit, long offset)
    {
        try
        {
            if (Lua.lua_type(L, 1) is not (Lua.TString or Lua.TNumber))
                return Raise(L, "bad argument #1 to 'unpack' (string expected, got " + (Lua.lua_type(L, 1) == Lua.TNil ? "no value" : "table") + ")");
            var s = Lua.ToBytes(L, 1, out _).ToArray();
            bool decodeAll = limit == 0 && offset == 0;
            if (offset < 0 || limit < 0)
                return Raise(L, $"Invalid request to unpack with offset of {offset} and limit of {s.Length}.");
            if (offset > s.Length)
                return Raise(L, $"Start offset {offset} greater than input length {s.Length}.");
            if (decodeAll) limit = int.MaxValue;
            Lua.lua_settop(L, 1);
            int pos = (int)offset;
            int count = 0;
            while (pos < s.Length && count < limit)
            {
                Lua.lua_checkstack(L, 4);
                Decode(L, s, ref pos);
                count++;
            }
            if (decodeAll) return count;
            Lua.lua_checkstack(L, 1);
            Lua.lua_pushnumber(L, pos >= s.Length ? -1 : pos);
            Lua.lua_insert(L, 2);
            return count + 1;
        }
        catch (FormatError e) { return Raise(L, e.Message); }
        catch (Exception e) { return Raise(L, e.Message); }
    }

    private static ReadOnlySpan<byte> Take(byte[] s, ref int pos, long n)
    {
        if (n < 0 || pos + n > s.Length) throw new FormatError("Missing bytes in input.");
        var span = new ReadOnlySpan<byte>(s, pos, (int)n);
        pos += (int)n;
        return span;
    }

    private static void Decode(IntPtr L, byte[] s, ref int pos)
    {
        byte c = Take(s, ref pos, 1)[0];
        switch (c)
        {
            case 0xcc: Lua.lua_pushnumber(L, Take(s, ref pos, 1)[0]); return;
            case 0xd0: Lua.lua_pushnumber(L, (sbyte)Take(s, ref pos, 1)[0]); return;
            case 0xcd: Lua.lua_pushnumber(L, BinaryPrimitives.ReadUInt16BigEndian(Take(s, ref pos, 2))); return;
            case 0xd1: Lua.lua_pushnumber(L, BinaryPrimitives.ReadInt16BigEndian(Take(s, ref pos, 2))); return;
            case 0xce: Lua.lua_pushnumber(L, BinaryPrimitives.ReadUInt32BigEndian(Take(s, ref pos, 4))); return;
            case 0xd2: Lua.lua_pushnumber(L, BinaryPrimitives.ReadInt32BigEndian(Take(s, ref pos, 4))); return;
            case 0xcf: Lua.lua_pushnumber(L, BinaryPrimitives.ReadUInt64BigEndian(Take(s, ref pos, 8))); return;
            case 0xd3: Lua.lua_pushnumber(L, BinaryPrimitives.ReadInt64BigEndian(Take(s, ref pos, 8))); return;
            case 0xc0: Lua.lua_pushnil(L); return;
            case 0xc3: Lua.lua_pushboolean(L, 1); return;
            case 0xc2: Lua.lua_pushboolean(L, 0); return;
            case 0xca: Lua.lua_pushnumber(L, BinaryPrimitives.ReadSingleBigEndian(Take(s, ref pos, 4))); return;
            case 0xcb: Lua.lua_pushnumber(L, BinaryPrimitives.ReadDoubleBigEndian(Take(s, ref pos, 8))); return;
            case 0xd9 or 0xc4: Lua.PushBytes(L, Take(s, ref pos, Take(s, ref pos, 1)[0])); return;
            case 0xda or 0xc5: Lua.PushBytes(L, Take(s, ref pos, BinaryPrimitives.ReadUInt16BigEndian(Take(s, ref pos, 2)))); return;
            case 0xdb or 0xc6: Lua.PushBytes(L, Take(s, ref pos, BinaryPrimitives.ReadUInt32BigEndian(Take(s, ref pos, 4)))); return;
            case 0xdc: DecodeArray(L, s, ref pos, BinaryPrimitives.ReadUInt16BigEndian(Take(s, ref pos, 2))); return;
            case 0xdd: DecodeArray(L, s, ref pos, BinaryPrimitives.ReadUInt32BigEndian(Take(s, ref pos, 4))); return;
            case 0xde: DecodeMap(L, s, ref pos, BinaryPrimitives.ReadUInt16BigEndian(Take(s, ref pos, 2))); return;
            case 0xdf: DecodeMap(L, s, ref pos, BinaryPrimitives.ReadUInt32BigEndian(Take(s, ref pos, 4))); return;
        }
        if ((c & 0x80) == 0) Lua.lua_pushnumber(L, c);                   // positive fixnum
        else if ((c & 0xe0) == 0xe0) Lua.lua_pushnumber(L, (sbyte)c);    // negative fixnum
        else if ((c & 0xe0) == 0xa0) Lua.PushBytes(L, Take(s, ref pos, c & 0x1f));
        else if ((c & 0xf0) == 0x90) DecodeArray(L, s, ref pos, c & 0xf);
        else if ((c & 0xf0) == 0x80) DecodeMap(L, s, ref pos, c & 0xf);
        else throw new FormatError("Bad data format in input.");
    }

    private static void DecodeArray(IntPtr L, byte[] s, ref int pos, long n)
    {
        if (n > s.Length - pos) throw new FormatError("Missing bytes in input.");
        Lua.lua_createtable(L, (int)n, 0);
        for (int i = 1; i <= n; i++)
        {
            Lua.lua_checkstack(L, 4);
            Decode(L, s, ref pos);
            Lua.lua_rawseti(L, -2, i);
        }
    }

    private static void DecodeMap(IntPtr L, byte[] s, ref int pos, long n)
    {
        if (n > (s.Length - pos) / 2 + 1) throw new FormatError("Missing bytes in input.");
        Lua.lua_createtable(L, 0, (int)n);
        for (int i = 0; i < n; i++)
        {
            Lua.lua_checkstack(L, 4);
            Decode(L, s, ref pos);
            Decode(L, s, ref pos);
            // A nil key cannot be stored: Redis's decoder skips such pairs the same way.
            if (Lua.lua_type(L, -2) == Lua.TNil || (Lua.lua_type(L, -2) == Lua.TNumber && double.IsNaN(Lua.lua_tonumber(L, -2))))
                Lua.Pop(L, 2);
            else Lua.lua_rawset(L, -3);
        }
    }
}
