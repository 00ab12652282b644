using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Redoubt.Server.Commands;
using Redoubt.Server.Propagation;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Scripting;

/// <summary>
/// The managed primitives behind the <c>redis</c> table. Each returns its result count, or -1 after
/// pushing an error table for its native thunk to raise (a managed frame must not be longjmp'ed over).
/// </summary>
public sealed unsafe partial class LuaEngine
{
    // Redis's rand48 state (48 bits), seeded as drand48's default.
    private ulong _rand48 = 0x1234ABCD330E;

    /// <summary>redis.call: the command's reply, or its error raised.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ApiCall(IntPtr L)
    {
        try { return FromUpvalue(L).CallCommand(L, raise: true); }
        catch (Exception e) { return Fail(L, e.Message); }
    }

    /// <summary>redis.pcall: the command's reply, or its error as an error table.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ApiPcall(IntPtr L)
    {
        try { return FromUpvalue(L).CallCommand(L, raise: false); }
        catch (Exception e) { return Fail(L, e.Message); }
    }

    /// <summary>Runs the command given as the Lua arguments (luaRedisGenericCommand).</summary>
    private int CallCommand(IntPtr L, bool raise)
    {
        int argc = Lua.lua_gettop(L);
        var run = Current;
        if (run is null) return Fail(L, "redis.call/pcall can only be called inside a script invocation");
        if (argc == 0) return Fail(L, "Please specify at least one argument for this redis lib call", raise);
        var argv = ArgsToArgv(L, argc);
        if (argv is null) return Fail(L, "Lua redis lib command arguments must be strings or integers", raise);
        Lua.lua_settop(L, 0);
        var client = ScriptClient;
        {
            client.SetArgs(argv);
            client.Reply.Clear();
            string? error = ScriptCommandChecks.Run(this, run, client);
            Lua.lua_checkstack(L, 4);
            if (error != null)
            {
                client.Reply.Clear();
                LuaReplies.PushErrorTable(L, error, ignoreStats: true);
                return raise ? -1 : 1;
            }
            var reply = client.Reply.Written;
            bool isError = reply.Length > 0 && reply[0] == (byte)'-';
            LuaReplies.PushReply(L, reply);
            client.Reply.Clear();
            return raise && isError ? -1 : 1;
        }
    }

    /// <summary>The Lua arguments as a command line; null when one is neither a string nor a number.</summary>
    private static byte[][]? ArgsToArgv(IntPtr L, int argc)
    {
        var argv = new byte[argc][];
        for (int i = 0; i < argc; i++)
        {
            int t = Lua.lua_type(L, i + 1);
            // %.17g: Lua's own number-to-string conversion (%.14g) would lose precision.
            if (t == Lua.TNumber) argv[i] = Encoding.ASCII.GetBytes(FormatNumber17(Lua.lua_tonumber(L, i + 1)));
            else if (t == Lua.TString) argv[i] = Lua.ToBytes(L, i + 1, out _).ToArray();
            else return null;
        }
        return argv;
    }

    /// <summary>Pushes {err = "ERR msg"} and returns -1, so the thunk raises it (or 1 to return it).</summary>
    internal static int Fail(IntPtr L, string message, bool raise = true)
    {
        Lua.lua_settop(L, 0);
        LuaReplies.PushErrorTable(L, message, ignoreStats: false);
        return raise ? -1 : 1;
    }

    /// <summary>C's "%.17g", which Redis uses to pass Lua numbers as command arguments.</summary>
    public static string FormatNumber17(double d) => NumberFormat.G17(d);

    /// <summary>redis.sha1hex(s).</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ApiSha1Hex(IntPtr L)
    {
        try
        {
            if (Lua.lua_gettop(L) != 1) return Fail(L, "wrong number of arguments");
            var s = Lua.ToBytes(L, 1, out _);
            string hex = Sha1Hex(s);
            Lua.lua_settop(L, 0);
            Lua.PushString(L, hex);
            return 1;
        }
        catch { return 0; }
    }

    public static string Sha1Hex(ReadOnlySpan<byte> s) => Convert.ToHexStringLower(SHA1.HashData(s));

    /// <summary>redis.log(level, message ...): the arguments joined by spaces, at that level.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ApiLog(IntPtr L)
    {
        try
        {
            var engine = FromUpvalue(L);
            int argc = Lua.lua_gettop(L);
            if (argc < 2) return Fail(L, "redis.log() requires two arguments or more.");
            if (Lua.lua_isnumber(L, 1) == 0) return Fail(L, "First argument must be a number (log level).");
            int level = (int)Lua.lua_tonumber(L, 1);
            if (level < 0 || level > 3) return Fail(L, "Invalid debug level.");
            var log = engine._server.Log;
            var sb = new StringBuilder();
            for (int j = 2; j <= argc; j++)
            {
                var part = Lua.ToBytes(L, j, out bool ok);
                if (!ok) continue;
                if (j != 2) sb.Append(' ');
                sb.Append(Encoding.UTF8.GetString(part));
            }
            string msg = sb.ToString();
            switch (level)
            {
                case 0: log.Debug(msg); break;
                case 1: log.Verbose(msg); break;
                case 2: log.Notice(msg); break;
                default: log.Warning(msg); break;
            }
            return 0;
        }
        catch (Exception e) { return Fail(L, e.Message); }
    }

    /// <summary>redis.setresp(2|3): the protocol the script's commands reply in.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ApiSetResp(IntPtr L)
    {
        var engine = FromUpvalue(L);
        if (engine.Current is null) return Fail(L, "redis.setresp can only be called inside a script invocation");
        if (Lua.lua_gettop(L) != 1) return Fail(L, "redis.setresp() requires one argument.");
        int resp = (int)Lua.lua_tonumber(L, 1);
        if (resp != 2 && resp != 3) return Fail(L, "RESP version must be 2 or 3.");
        engine.ScriptClient.Reply.Protocol = resp;
        return 0;
    }

    /// <summary>redis.set_repl(flags): where the script's writes propagate (AOF, replicas, both, none).</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ApiSetRepl(IntPtr L)
    {
        var engine = FromUpvalue(L);
        if (engine.Current is not { } run) return Fail(L, "redis.set_repl can only be called inside a script invocation");
        if (Lua.lua_gettop(L) != 1) return Fail(L, "redis.set_repl() requires two arguments.");
        int flags = (int)Lua.lua_tonumber(L, -1);
        if ((flags & ~3) != 0) return Fail(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
        run.ReplTarget = (PropagationTarget)0;
        if ((flags & 1) != 0) run.ReplTarget |= PropagationTarget.Aof;
        if ((flags & 2) != 0) run.ReplTarget |= PropagationTarget.Replication;
        return 0;
    }

    /// <summary>redis.acl_check_cmd(cmd, args...): whether the calling user may run that command.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ApiAclCheckCmd(IntPtr L)
    {
        try
        {
            var engine = FromUpvalue(L);
            if (engine.Current is not { } run) return Fail(L, "redis.acl_check_cmd can only be called inside a script invocation");
            int argc = Lua.lua_gettop(L);
            if (argc == 0) return Fail(L, "Please specify at least one argument for this redis lib call");
            var argv = ArgsToArgv(L, argc);
            if (argv is null) return Fail(L, "Lua redis lib command arguments must be strings or integers");
            var cmd = ScriptCommandChecks.Lookup(engine._server, argv);
            if (cmd is null || cmd.Handler is null || (cmd.Arity > 0 && cmd.Arity != argc) || argc < -cmd.Arity)
                return Fail(L, "Invalid command passed to redis.acl_check_cmd()");
            bool allowed = engine._server.Acl.MayRun(run.Caller.User, cmd, argv);
            Lua.lua_settop(L, 0);
            Lua.lua_pushboolean(L, allowed ? 1 : 0);
            return 1;
        }
        catch (Exception e) { return Fail(L, e.Message); }
    }

    /// <summary>The next value of Redis's rand48 generator (0 .. 2^31-1), for math.random.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ApiRand(IntPtr L)
    {
        var engine = FromUpvalue(L);
        engine._rand48 = (0x5DEECE66DUL * engine._rand48 + 0xB) & 0xFFFF_FFFF_FFFFUL;
        long r = (long)(engine._rand48 >> 17) % int.MaxValue;
        Lua.lua_pushnumber(L, r);
        return 1;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ApiRandomSeed(IntPtr L)
    {
        var engine = FromUpvalue(L);
        uint seed = (uint)(int)Lua.lua_tonumber(L, 1);
        engine._rand48 = ((ulong)seed << 16) | 0x330E;
        return 0;
    }

    /// <summary>
    /// Called by the count hook every 100000 instructions: checks the busy threshold and SCRIPT KILL.
    /// Returns true and the error message when the script must stop.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ApiInterrupt(IntPtr L)
    {
        try
        {
            var engine = FromUpvalue(L);
            bool kill = engine.Interrupt(out string? message);
            Lua.lua_settop(L, 0);
            Lua.lua_pushboolean(L, kill ? 1 : 0);
            if (kill) Lua.PushString(L, message!);
            return kill ? 2 : 1;
        }
        catch { return 0; }
    }
}
