using System.Text.RegularExpressions;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// EVAL, SCRIPT and functions against a real redis-server 7.0: replies and error strings compared
/// one for one, effects propagated as MULTI/EXEC, busy scripts killed, libraries in RDB files read by
/// real Redis and the other way round.
/// </summary>
public sealed class ScriptingTests : IClassFixture<ServerPair>
{
    private readonly ServerPair _pair;
    public ScriptingTests(ServerPair pair) => _pair = pair;

    private static string Show(object? reply) => ReplyComparison.Show(reply);

    private void SameOnBoth(params object[][] commands) => ReplyComparison.SameOnBoth(_pair, commands);

    private static object[] Eval(string script, params string[] keysAndArgs) => ["EVAL", script, .. keysAndArgs];

    [Fact]
    public void ConversionsBothWaysMatchRealRedis()
    {
        SameOnBoth(
            ["FLUSHALL"],
            Eval("return {1,2,3.7,'x',{ok='fine'},nil,4}", "0"),
            Eval("return 3.99", "0"),
            Eval("return -3.99", "0"),
            Eval("return tostring(3.0)", "0"),
            Eval("return {true,false,'a'}", "0"),
            Eval("return {err='MY custom'}", "0"),
            Eval("return redis.error_reply('FOO bar')", "0"),
            Eval("return redis.error_reply('-FOO bar')", "0"),
            Eval("return redis.status_reply('PONG')", "0"),
            Eval("return {double=3.5}", "0"),
            Eval("return redis.call('set','foo','bar')", "0"),
            Eval("return redis.call('get','foo')", "0"),
            Eval("return redis.call('get','nokey')", "0"),
            Eval("return type(redis.call('get','nokey'))", "0"),
            Eval("return redis.call('hset','h','a',1.5,'b',10)", "0"),
            Eval("return redis.call('hgetall','h')", "0"),
            Eval("redis.setresp(3); return redis.call('hgetall','h')", "0"),
            Eval("redis.setresp(3); return {double=3.5}", "0"),
            Eval("redis.setresp(3); return redis.call('hgetall','h')['map']['a']", "0"),
            Eval("return redis.call('incrbyfloat','fl','0.1')", "0"),
            Eval("return redis.call('set','n',1/3)", "0"),
            Eval("return redis.call('get','n')", "0"),
            Eval("return {KEYS[1], KEYS[2], ARGV[1], #ARGV}", "2", "k1", "k2", "a1", "a2"),
            Eval("return redis.sha1hex('')", "0"),
            Eval("return cjson.encode({1,2,{a=1}})", "0"),
            Eval("return cjson.decode('[1,2,{\"a\":3}]')[3].a", "0"),
            Eval("return bit.band(7,3)", "0"),
            Eval("return {math.huge, -math.huge}", "0"),
            Eval("return string.format('%d %s %.2f', 5, 'x', 1/3)", "0"),
            Eval("return redis.REDIS_VERSION_NUM", "0"),
            Eval("return redis.pcall('incr','foo')", "0"),
            Eval("return select('#', redis.call('ping'))", "0"));
    }

    [Fact]
    public void ErrorsAndSandboxMatchRealRedis()
    {
        SameOnBoth(
            ["FLUSHALL"],
            ["SET", "str", "x"],
            Eval("return a", "0"),
            Eval("a = 1", "0"),
            Eval("return redis.call('nosuch')", "0"),
            Eval("return redis.call('get')", "0"),
            Eval("error('x')", "0"),
            Eval("error({err='MY thing'})", "0"),
            Eval("return redis.call('lpush','str','x')", "0"),
            Eval("return redis.call('set','k',{})", "0"),
            Eval("return redis.call()", "0"),
            Eval("return pcall(function() redis.call('nosuch') end)", "0"),
            Eval("return {pcall(function() error({err='E1 boom'}) end)}", "0"),
            Eval("return redis.call('eval','return 1','0')", "0"),
            Eval("return redis.call('blpop','nolist','0')", "0"),
            Eval("setmetatable(_G, {})", "0"),
            Eval("local g = getmetatable(_G) g.__index = {}", "0"),
            Eval("redis = function() return 1 end", "0"),
            Eval("_G = {}", "0"),
            Eval("redis.call = function() return 1 end", "0"),
            Eval("cjson.encode = function() return 1 end", "0"),
            Eval("bit.lshift = function() return 1 end", "0"),
            Eval("string.x = 1", "0"),
            Eval("loadfile('x')", "0"),
            Eval("dofile('x')", "0"),
            Eval("print('x')", "0"),
            Eval("return getfenv(0)", "0"),
            Eval("return loadstring(string.dump(function() return 1 end))()", "0"),
            Eval("local f = loadstring('x = 1'); f()", "0"),
            Eval("redis.setresp(4)", "0"),
            Eval("redis.log(9, 'x')", "0"),
            Eval("redis.log(redis.LOG_WARNING)", "0"),
            Eval("redis.set_repl(8)", "0"),
            Eval("return redis.acl_check_cmd('nosuch')", "0"),
            Eval("return redis.acl_check_cmd('set','x','y')", "0"),
            Eval("return 1 +", "0"),
            Eval("return 1", "-1"),
            Eval("return 1", "2", "onlyone"),
            Eval("return 1", "x"),
            ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
            ["EVALSHA", "short", "0"],
            Eval("#!lua flags=no-writes\nreturn redis.call('set','x','y')", "0"),
            Eval("#!lua flags=nosuch\nreturn 1", "0"),
            Eval("#!notlua\nreturn 1", "0"),
            Eval("#!lua", "0"),
            ["EVAL_RO", "return redis.call('set','x','y')", "0"],
            ["EVAL_RO", "#!lua\nreturn 1", "0"],
            ["EVAL_RO", "return redis.call('get','str')", "0"]);
    }

    [Fact]
    public void ScriptCacheCommandsMatchRealRedis()
    {
        SameOnBoth(
            ["SCRIPT", "FLUSH"],
            ["SCRIPT", "LOAD", "return 'loaded'"],
            ["EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"],
            ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8", "ffffffffffffffffffffffffffffffffffffffff"],
            ["SCRIPT", "LOAD", "return +"],
            ["SCRIPT", "FLUSH", "BOGUS"],
            ["SCRIPT", "FLUSH", "ASYNC"],
            ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8"],
            ["SCRIPT", "KILL"],
            ["SCRIPT", "BOGUS"]);
        using var ours = _pair.Ours.Connect();
        var info = (string)ours.Call("INFO", "memory")!;
        Assert.Contains("number_of_cached_scripts:0", info);
        ours.Call("SCRIPT", "LOAD", "return 1");
        Assert.Contains("number_of_cached_scripts:1", (string)ours.Call("INFO", "memory")!);
    }

    [Fact]
    public void FunctionsMatchRealRedis()
    {
        const string lib = "#!lua name=mylib\n" +
                           "redis.register_function('myfunc', function(keys, args) return redis.call('set', keys[1], args[1]) end)\n" +
                           "redis.register_function{function_name='ro', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='read it'}";
        SameOnBoth(
            ["FUNCTION", "FLUSH"],
            ["FUNCTION", "LOAD", lib],
            ["FCALL", "myfunc", "1", "k", "v"],
            ["FCALL", "MYFUNC", "1", "k", "v2"],
            ["FCALL", "ro", "1", "k"],
            ["FCALL_RO", "myfunc", "1", "k", "v"],
            ["FCALL_RO", "ro", "1", "k"],
            ["FCALL", "nosuch", "0"],
            ["FCALL", "myfunc", "x"],
            ["FUNCTION", "LOAD", lib],
            ["FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function('myfunc', function() return 1 end)"],
            ["FUNCTION", "LOAD", "#!lua name=lib3\nreturn 1"],
            ["FUNCTION", "LOAD", "#!lua\nreturn 1"],
            ["FUNCTION", "LOAD", "#!lua name=a foo=b\nreturn 1"],
            ["FUNCTION", "LOAD", "return 1"],
            ["FUNCTION", "LOAD", "#!lua name=lib4\nlocal x = string.rep('a', 2)"],
            ["FUNCTION", "LOAD", "#!lua name=lib5\nredis.call('set','a','b')"],
            ["FUNCTION", "LOAD", "#!lua name=lib6\nredis.register_function('bad name', function() end)"],
            ["FUNCTION", "LOAD", "#!lua name=lib7\nredis.register_function{function_name='f7', callback=function() end, flags={'nosuch'}}"],
            ["FUNCTION", "LOAD", "#!lua name=lib8\nredis.register_function('f8', function() return a end)"],
            ["FCALL", "f8", "0"],
            ["FUNCTION", "LOAD", "#!lua name=lib9\nwhile true do end"],
            // (Redis lists libraries and their functions in hash order: compare single-function ones.)
            ["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "lib*"],
            ["FUNCTION", "STATS"],
            ["FUNCTION", "DELETE", "lib8"],
            ["FUNCTION", "DELETE", "lib8"],
            ["FUNCTION", "RESTORE", "bad"],
            ["FUNCTION", "RESTORE", "bad", "BOGUS"]);
    }

    [Fact]
    public void FunctionDumpRestoresInRealRedisAndBack()
    {
        using var ours = _pair.Ours.Connect();
        using var real = _pair.Real.Connect();
        ours.Call("FUNCTION", "FLUSH");
        real.Call("FUNCTION", "FLUSH");
        ours.Call("FUNCTION", "LOAD", "#!lua name=dumped\nredis.register_function('dumped_fn', function() return 'from ours' end)");
        var payload = (string)ours.Call("FUNCTION", "DUMP")!;
        Assert.Equal("OK", real.Call("FUNCTION", "RESTORE", System.Text.Encoding.Latin1.GetBytes(payload)));
        Assert.Equal("from ours", real.Call("FCALL", "dumped_fn", "0"));
        Assert.Equal("ERR:ERR Library dumped already exists", Show(ours.Call("FUNCTION", "RESTORE", System.Text.Encoding.Latin1.GetBytes(payload))));

        real.Call("FUNCTION", "LOAD", "REPLACE", "#!lua name=dumped\nredis.register_function('dumped_fn', function() return 'from real' end)");
        var back = (string)real.Call("FUNCTION", "DUMP")!;
        Assert.Equal("OK", ours.Call("FUNCTION", "RESTORE", System.Text.Encoding.Latin1.GetBytes(back), "REPLACE"));
        Assert.Equal("from real", ours.Call("FCALL", "dumped_fn", "0"));
        ours.Call("FUNCTION", "FLUSH");
        real.Call("FUNCTION", "FLUSH");
    }

    [Fact]
    public void LibrariesTravelInRdbFilesBothWays()
    {
        const string lib = "#!lua name=persisted\nredis.register_function('persisted_fn', function(keys) return redis.call('get', keys[1]) end)";
        using (var ours = new ServerProcess(configText: null))
        {
            using (var c = ours.Connect())
            {
                c.Call("FUNCTION", "LOAD", lib);
                c.Call("SET", "key", "value");
                Assert.Equal("OK", c.Call("SAVE"));
            }
            using var real = new RealRedisServer("--dir", ours.Dir, "--dbfilename", "dump.rdb");
            using var r = real.Connect();
            Assert.Equal("value", r.Call("FCALL", "persisted_fn", "1", "key"));
        }

        using var realSaver = new RealRedisServer();
        using (var r = realSaver.Connect())
        {
            r.Call("FUNCTION", "LOAD", lib.Replace("persisted_fn", "from_real"));
            r.Call("SET", "key", "real value");
            Assert.Equal("OK", r.Call("SAVE"));
        }
        using var loader = new ServerProcess(null, "--dir", realSaver.Dir, "--dbfilename", "dump.rdb");
        using var l = loader.Connect();
        Assert.Equal("real value", l.Call("FCALL", "from_real", "1", "key"));
        Assert.Single((object?[])l.Call("FUNCTION", "LIST")!);
    }

    [Fact]
    public void ScriptEffectsReachTheAofAsOneTransactionWithoutTheScript()
    {
        using var server = new ServerProcess(null, "--appendonly", "yes");
        using var c = server.Connect();
        c.Call("EVAL", "redis.call('set', KEYS[1], 'a') redis.call('incr', KEYS[2]) return redis.call('get', 'nothing')", "2", "k1", "k2");
        c.Call("EVAL", "redis.call('set', 'single', '1')", "0");
        c.Call("EVAL", "redis.set_repl(redis.REPL_NONE) redis.call('set', 'hidden', '1')", "0");
        c.Call("EVAL", "return redis.call('get', 'k1')", "0");
        var incr = Directory.GetFiles(Path.Combine(server.Dir, "appendonlydir"), "*.incr.aof").Single();
        string aof = "";
        for (int i = 0; i < 50 && !aof.Contains("single"); i++)
        {
            Thread.Sleep(100);
            aof = File.ReadAllText(incr);
        }
        Assert.DoesNotContain("EVAL", aof, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("hidden", aof);
        Assert.Contains("*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$2\r\nk1\r\n$1\r\na\r\n*2\r\n$4\r\nincr\r\n$2\r\nk2\r\n*1\r\n$4\r\nEXEC\r\n", aof);
        // A single write is not wrapped.
        Assert.Contains("*3\r\n$3\r\nset\r\n$6\r\nsingle\r\n$1\r\n1\r\n", aof);
        Assert.Single(Regex.Matches(aof, "MULTI"));
    }

    [Fact]
    public void BusyScriptAnswersBusyToOthersAndIsKilled()
    {
        using var server = new ServerProcess(null, "--busy-reply-threshold", "50");
        using var runner = server.Connect();
        using var other = server.Connect();
        runner.SendRaw(RespClient.Encode("EVAL", "local i = 0 while true do i = i + 1 end", "0"));
        Thread.Sleep(300);
        Assert.StartsWith("BUSY Redis is busy running a script", Show(other.Call("PING"))[4..]);
        Assert.Equal("ERR:BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", Show(other.Call("GET", "x")));
        Assert.Equal("OK", other.Call("SCRIPT", "KILL"));
        Assert.Matches("^ERR:ERR Script killed by user with SCRIPT KILL\\.\\.\\. script: SHA, on @user_script:1\\.$", Show(runner.Read()));
        Assert.Equal("PONG", other.Call("PING"));
        Assert.Equal("PONG", runner.Call("PING"));
        Assert.Contains("Slow script detected: still in execution after", server.Output);

        // A script that wrote cannot be killed; only SHUTDOWN NOSAVE stops the server.
        runner.SendRaw(RespClient.Encode("EVAL", "redis.call('set', 'x', '1') while true do end", "0"));
        Thread.Sleep(300);
        Assert.StartsWith("ERR:UNKILLABLE Sorry the script already executed write commands", Show(other.Call("SCRIPT", "KILL")));
        Assert.Equal("ERR:BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", Show(other.Call("SHUTDOWN")));
        other.SendRaw(RespClient.Encode("SHUTDOWN", "NOSAVE"));
        Assert.True(server.Process.WaitForExit(10000));
    }

    [Fact]
    public void ScriptThatFinishesAfterTheThresholdRepliesAndLetsItsClientContinue()
    {
        using var server = new ServerProcess(null, "--busy-reply-threshold", "20");
        using var runner = server.Connect();
        using var other = server.Connect();
        // The script and a pipelined command after it: the reply order must hold.
        runner.SendRaw([.. RespClient.Encode("EVAL", "local t = redis.call('time')[1] + 0 local n = 0 while n < 30000000 do n = n + 1 end redis.call('set', 'done', n) return n", "0"),
            .. RespClient.Encode("GET", "done")]);
        Thread.Sleep(100);
        var busy = Show(other.Call("GET", "done"));
        Assert.Equal(30000000L, runner.Read());
        Assert.Equal("30000000", runner.Read());
        Assert.True(busy.StartsWith("ERR:BUSY") || busy == "30000000", busy);
        Assert.Equal("30000000", other.Call("GET", "done"));
    }

    [Fact]
    public void FunctionKillStopsABusyFunction()
    {
        using var server = new ServerProcess(null, "--busy-reply-threshold", "50");
        using var runner = server.Connect();
        using var other = server.Connect();
        runner.Call("FUNCTION", "LOAD", "#!lua name=spin\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}");
        runner.SendRaw(RespClient.Encode("FCALL_RO", "spin", "0"));
        Thread.Sleep(300);
        Assert.Equal("ERR:BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.", Show(other.Call("PING")));
        Assert.StartsWith("ERR:BUSY", Show(other.Call("SCRIPT", "KILL")));
        var stats = (object?[])other.Call("FUNCTION", "STATS")!;
        Assert.Contains("spin", Show(stats[1]));
        Assert.Equal("OK", other.Call("FUNCTION", "KILL"));
        Assert.StartsWith("ERR:ERR Script killed by user", Show(runner.Read()));
        Assert.Equal("PONG", other.Call("PING"));
    }
}
