using System.Globalization;
using System.Text;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Scripting;

/// <summary>
/// The conversions between replies and Lua values, as Redis documents them: a command's RESP reply
/// becomes a Lua value for the script, and the script's return value becomes the caller's reply.
/// </summary>
internal static unsafe class LuaReplies
{
    /// <summary>Deepest nesting converted; deeper values are cut short instead of overflowing the stacks.</summary>
    private const int MaxDepth = 1000;

    public readonly record struct ErrorInformation(string Message, string? Source, string? Line, bool IgnoreStats);

    /// <summary>
    /// Pushes {err = "CODE message"} built as Redis's luaPushErrorBuff does: a message starting with
    /// '-' carries its own code, otherwise ERR; surrounding CR/LF are trimmed.
    /// </summary>
    public static void PushErrorTable(IntPtr L, string text, bool ignoreStats)
    {
        string code, msg;
        if (text.StartsWith('-'))
        {
            int sp = text.IndexOf(' ');
            if (sp < 0) { code = "ERR"; msg = text[1..]; }
            else { code = text[1..sp]; msg = text[(sp + 1)..]; }
        }
        else
        {
            code = "ERR";
            msg = text;
        }
        msg = msg.Trim('\r', '\n');
        Lua.lua_createtable(L, 0, 2);
        Lua.PushString(L, code + " " + msg);
        Lua.RawSetField(L, -2, "err");
        if (ignoreStats)
        {
            Lua.lua_pushboolean(L, 1);
            Lua.RawSetField(L, -2, "ignore_error_stats_update");
        }
    }

    /// <summary>Pushes the Lua value for one complete RESP reply.</summary>
    public static void PushReply(IntPtr L, ReadOnlySpan<byte> reply)
    {
        int pos = 0;
        if (reply.Length == 0)
        {
            Lua.lua_pushnil(L);
            return;
        }
        Push(L, reply, ref pos, 0);
    }

    private static long ReadNumber(ReadOnlySpan<byte> r, ref int pos)
    {
        int end = r[pos..].IndexOf((byte)'\r') + pos;
        long.TryParse(r[pos..end], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v);
        pos = end + 2;
        return v;
    }

    private static ReadOnlySpan<byte> ReadLine(ReadOnlySpan<byte> r, ref int pos)
    {
        int end = r[pos..].IndexOf((byte)'\r') + pos;
        var line = r[pos..end];
        pos = end + 2;
        return line;
    }

    private static void Push(IntPtr L, ReadOnlySpan<byte> r, ref int pos, int depth)
    {
        bool push = depth < MaxDepth;
        if (push) Lua.lua_checkstack(L, 4);
        byte kind = r[pos++];
        switch (kind)
        {
            case (byte)'+':
            {
                var s = ReadLine(r, ref pos);
                if (!push) return;
                Lua.lua_createtable(L, 0, 1);
                Lua.PushBytes(L, s);
                Lua.RawSetField(L, -2, "ok");
                return;
            }
            case (byte)'-':
            {
                var s = ReadLine(r, ref pos);
                if (!push) return;
                PushErrorTable(L, "-" + Encoding.UTF8.GetString(s), ignoreStats: true);
                return;
            }
            case (byte)':':
            {
                long v = ReadNumber(r, ref pos);
                if (push) Lua.lua_pushnumber(L, v);
                return;
            }
            case (byte)'$':
            case (byte)'=':
            {
                long len = ReadNumber(r, ref pos);
                if (len < 0)
                {
                    if (push) Lua.lua_pushboolean(L, 0);
                    return;
                }
                var s = r.Slice(pos, (int)len);
                pos += (int)len + 2;
                if (!push) return;
                if (kind == (byte)'$')
                {
                    Lua.PushBytes(L, s);
                    return;
                }
                // Verbatim: {verbatim_string = {format = "txt", string = "..."}}.
                Lua.lua_createtable(L, 0, 1);
                Lua.lua_createtable(L, 0, 2);
                Lua.PushBytes(L, s[4..]);
                Lua.RawSetField(L, -2, "string");
                Lua.PushBytes(L, s[..3]);
                Lua.RawSetField(L, -2, "format");
                Lua.RawSetField(L, -2, "verbatim_string");
                return;
            }
            case (byte)'*':
            case (byte)'>':
            {
                long n = ReadNumber(r, ref pos);
                if (n < 0)
                {
                    if (push) Lua.lua_pushboolean(L, 0);
                    return;
                }
                if (push) Lua.lua_createtable(L, (int)Math.Min(n, 1 << 20), 0);
                for (int i = 0; i < n; i++)
                {
                    Push(L, r, ref pos, depth + 1);
                    if (push) Lua.lua_rawseti(L, -2, i + 1);
                }
                return;
            }
            case (byte)'%':
            case (byte)'~':
            {
                long n = ReadNumber(r, ref pos);
                if (push)
                {
                    Lua.lua_createtable(L, 0, 1);
                    Lua.lua_createtable(L, 0, (int)Math.Min(n, 1 << 20));
                }
                for (int i = 0; i < n; i++)
                {
                    Push(L, r, ref pos, depth + 1);
                    if (kind == (byte)'%') Push(L, r, ref pos, depth + 1);
                    else if (push) Lua.lua_pushboolean(L, 1);
                    if (!push) continue;
                    // A nil key would make lua_rawset raise here, inside a managed frame: drop the pair.
                    if (Lua.lua_type(L, -2) == Lua.TNil) Lua.Pop(L, 2);
                    else Lua.lua_rawset(L, -3);
                }
                if (push) Lua.RawSetField(L, -2, kind == (byte)'%' ? "map" : "set");
                return;
            }
            case (byte)'|':
            {
                // Attributes are not exposed to scripts: skip them and push the reply they annotate.
                long n = ReadNumber(r, ref pos);
                for (int i = 0; i < 2 * n; i++) Push(L, r, ref pos, MaxDepth);
                Push(L, r, ref pos, depth);
                return;
            }
            case (byte)'_':
                pos += 2;
                if (push) Lua.lua_pushnil(L);
                return;
            case (byte)'#':
            {
                bool b = r[pos] == (byte)'t';
                pos += 3;
                if (push) Lua.lua_pushboolean(L, b ? 1 : 0);
                return;
            }
            case (byte)',':
            {
                var s = ReadLine(r, ref pos);
                if (!push) return;
                double d = ParseRespDouble(s);
                Lua.lua_createtable(L, 0, 1);
                Lua.lua_pushnumber(L, d);
                Lua.RawSetField(L, -2, "double");
                return;
            }
            case (byte)'(':
            {
                var s = ReadLine(r, ref pos);
                if (!push) return;
                Lua.lua_createtable(L, 0, 1);
                Lua.PushBytes(L, s);
                Lua.RawSetField(L, -2, "big_number");
                return;
            }
            default:
                // Not a reply (should not happen): stop converting.
                pos = r.Length;
                if (push) Lua.lua_pushnil(L);
                return;
        }
    }

    private static double ParseRespDouble(ReadOnlySpan<byte> s)
    {
        if (s.SequenceEqual("inf"u8)) return double.PositiveInfinity;
        if (s.SequenceEqual("-inf"u8)) return double.NegativeInfinity;
        if (s.SequenceEqual("nan"u8)) return double.NaN;
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d);
        return d;
    }

    /// <summary>
    /// Writes the value on top of the stack as the caller's reply and pops it (luaReplyToRedisReply).
    /// <paramref name="scriptResp"/> is the protocol the script chose with redis.setresp: it decides
    /// how booleans convert.
    /// </summary>
    public static void WriteReply(IntPtr L, Client caller, int scriptResp, int depth = 0)
    {
        var w = caller.Reply;
        if (depth > MaxDepth || Lua.lua_checkstack(L, 4) == 0)
        {
            w.Error("reached lua stack limit");
            Lua.Pop(L, 1);
            return;
        }
        switch (Lua.lua_type(L, -1))
        {
            case Lua.TString:
                w.Bulk(Lua.ToBytes(L, -1, out _));
                break;
            case Lua.TBoolean:
                bool b = Lua.lua_toboolean(L, -1) != 0;
                if (scriptResp == 2)
                {
                    if (b) w.Integer(1);
                    else w.Null();
                }
                else if (w.IsResp3) w.Boolean(b);
                else w.Integer(b ? 1 : 0);
                break;
            case Lua.TNumber:
                w.Integer(ToLongLong(Lua.lua_tonumber(L, -1)));
                break;
            case Lua.TTable:
                WriteTable(L, caller, scriptResp, depth);
                return;
            default:
                w.Null();
                break;
        }
        Lua.Pop(L, 1);
    }

    /// <summary>C's (long long) cast of a double, saturating where C's behaviour is undefined.</summary>
    private static long ToLongLong(double d)
    {
        if (double.IsNaN(d)) return long.MinValue;
        if (d >= 9.2233720368547758E18) return long.MinValue;
        if (d <= -9.2233720368547758E18) return long.MinValue;
        return (long)d;
    }

    private static void WriteTable(IntPtr L, Client caller, int scriptResp, int depth)
    {
        var w = caller.Reply;
        // An error table, a status table, double, big number, verbatim, map, set: else an array.
        if (Lua.RawGetField(L, -1, "err") == Lua.TString)
        {
            Lua.Pop(L, 1);
            var info = ExtractErrorInformation(L);
            WriteError(caller, "-" + info.Message, info.IgnoreStats);
            Lua.Pop(L, 1);
            return;
        }
        Lua.Pop(L, 1);
        if (Lua.RawGetField(L, -1, "ok") == Lua.TString)
        {
            var s = Lua.ToBytes(L, -1, out _).ToArray();
            for (int i = 0; i < s.Length; i++) if (s[i] == '\r' || s[i] == '\n') s[i] = (byte)' ';
            // Like sdsnew(lua_tostring()): the status ends at the first NUL.
            int nul = Array.IndexOf(s, (byte)0);
            w.Simple(nul >= 0 ? s.AsSpan(0, nul) : s);
            Lua.Pop(L, 2);
            return;
        }
        Lua.Pop(L, 1);
        if (Lua.RawGetField(L, -1, "double") == Lua.TNumber)
        {
            w.Double(Lua.lua_tonumber(L, -1));
            Lua.Pop(L, 2);
            return;
        }
        Lua.Pop(L, 1);
        if (Lua.RawGetField(L, -1, "big_number") == Lua.TString)
        {
            var s = Lua.ToBytes(L, -1, out _).ToArray();
            for (int i = 0; i < s.Length; i++) if (s[i] == '\r' || s[i] == '\n') s[i] = (byte)' ';
            w.BigNumber(s);
            Lua.Pop(L, 2);
            return;
        }
        Lua.Pop(L, 1);
        if (Lua.RawGetField(L, -1, "verbatim_string") == Lua.TTable)
        {
            if (Lua.RawGetField(L, -1, "format") == Lua.TString)
            {
                string format = Lua.ToStringOrNull(L, -1)!;
                if (Lua.RawGetField(L, -2, "string") == Lua.TString)
                {
                    w.Verbatim(Lua.ToBytes(L, -1, out _), format);
                    Lua.Pop(L, 4);
                    return;
                }
                Lua.Pop(L, 1);
            }
            Lua.Pop(L, 1);
        }
        Lua.Pop(L, 1);
        if (Lua.RawGetField(L, -1, "map") == Lua.TTable)
        {
            int mark = w.BeginDeferred();
            int n = 0;
            Lua.lua_pushnil(L);
            while (Lua.lua_next(L, -2) != 0)
            {
                Lua.lua_pushvalue(L, -2);
                WriteReply(L, caller, scriptResp, depth + 1); // the key
                WriteReply(L, caller, scriptResp, depth + 1); // the value
                n++;
            }
            w.EndDeferred(mark, n, (byte)'%');
            Lua.Pop(L, 2);
            return;
        }
        Lua.Pop(L, 1);
        if (Lua.RawGetField(L, -1, "set") == Lua.TTable)
        {
            int mark = w.BeginDeferred();
            int n = 0;
            Lua.lua_pushnil(L);
            while (Lua.lua_next(L, -2) != 0)
            {
                Lua.Pop(L, 1);
                Lua.lua_pushvalue(L, -1);
                WriteReply(L, caller, scriptResp, depth + 1);
                n++;
            }
            w.EndDeferred(mark, n, (byte)'~');
            Lua.Pop(L, 2);
            return;
        }
        Lua.Pop(L, 1);
        {
            int mark = w.BeginDeferred();
            int n = 0;
            for (int j = 1; ; j++)
            {
                Lua.lua_rawgeti(L, -1, j);
                if (Lua.lua_type(L, -1) == Lua.TNil)
                {
                    Lua.Pop(L, 1);
                    break;
                }
                WriteReply(L, caller, scriptResp, depth + 1);
                n++;
            }
            w.EndDeferred(mark, n);
            Lua.Pop(L, 1);
        }
    }

    /// <summary>
    /// An error reply to the script's caller. One the script relays from a command it ran was counted
    /// then; it is not counted again, but the caller's command still counts as failed (afterErrorReply).
    /// </summary>
    public static void WriteError(Client caller, string message, bool alreadyCounted)
    {
        caller.Reply.Error(message, countStats: !alreadyCounted);
        if (alreadyCounted && caller.Cmd is { } cmd) cmd.FailedCalls++;
    }

    /// <summary>The err, source, line and ignore_error_stats_update fields of the error table on top.</summary>
    public static ErrorInformation ExtractErrorInformation(IntPtr L)
    {
        string? msg = null, source = null, line = null;
        bool ignore = false;
        if (Lua.RawGetField(L, -1, "err") is Lua.TString or Lua.TNumber) msg = Lua.ToStringOrNull(L, -1);
        Lua.Pop(L, 1);
        if (Lua.RawGetField(L, -1, "source") is Lua.TString or Lua.TNumber) source = Lua.ToStringOrNull(L, -1);
        Lua.Pop(L, 1);
        if (Lua.RawGetField(L, -1, "line") is Lua.TString or Lua.TNumber) line = Lua.ToStringOrNull(L, -1);
        Lua.Pop(L, 1);
        if (Lua.RawGetField(L, -1, "ignore_error_stats_update") == Lua.TBoolean) ignore = Lua.lua_toboolean(L, -1) != 0;
        Lua.Pop(L, 1);
        return new ErrorInformation(msg ?? "(null)", source, line, ignore);
    }
}
