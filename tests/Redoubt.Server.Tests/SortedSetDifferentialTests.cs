using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Random sorted-set command streams sent to our server and to a real redis-server 7.0, comparing the
/// replies byte for byte (RESP2 and RESP3). Replies that Redis itself leaves to chance are kept out:
/// ZRANDMEMBER only with counts that return the whole set, ZSCAN of a hashed set compared as a set,
/// and lex ranges only on a set whose scores are all equal (others are unspecified).
/// </summary>
public sealed class SortedSetDifferentialTests
{
    /// <summary>A real redis-server on a free loopback port, in its own directory.</summary>
    private sealed class RealRedis : IDisposable
    {
        public readonly int Port = ServerProcess.FreePort();
        private readonly Process _process;
        private readonly string _dir = Directory.CreateTempSubdirectory("redoubt-real-").FullName;

        public RealRedis()
        {
            var psi = new ProcessStartInfo("redis-server")
            {
                WorkingDirectory = _dir,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" }) psi.ArgumentList.Add(a);
            _process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server could not be started");
            _process.OutputDataReceived += (_, _) => { };
            _process.BeginOutputReadLine();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (true)
            {
                try
                {
                    using var probe = new TcpClient("127.0.0.1", Port);
                    return;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(50);
                }
            }
        }

        public void Dispose()
        {
            try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(5000); } } catch { }
            try { Directory.Delete(_dir, recursive: true); } catch { }
        }
    }

    /// <summary>Reads whole replies as a canonical text: type byte, payload, nested aggregates in brackets.</summary>
    private sealed class Generator(int seed)
    {
        private readonly Random _rng = new(seed);
        private static readonly string[] Keys = ["z1", "z2", "z3", "str"];
        private static readonly string[] Members = Enumerable.Range(0, 170).Select(i => "m" + i)
            .Concat(["a", "b", "c", "ab", "", "1", "10", "-1", "\0", "\u00ff", new string('x', 70)]).ToArray();
        private static readonly string[] Scores = ["0", "1", "-1", "2.5", "-0", "inf", "-inf", "+inf", "1e300", "0.1", "3e10", "abc", "nan", "", "0x10", " 1", "1e-320", "7"];
        private static readonly string[] RangeEnds = ["-inf", "+inf", "0", "1", "2", "5", "-3", "1.5", "abc", "nan", "", "0x1p2", " 2", "7", "100"];
        private static readonly string[] LexEnds = ["-", "+", "[a", "(a", "[b", "(c", "[m", "(z", "[", "(", "a", "[x", "[m5", "(m12", "[m99", "(m150", "+x"];
        private static readonly string[] Indexes = ["0", "1", "2", "-1", "-2", "5", "10", "-10", "100", "-100", "3", "x"];

        private T Pick<T>(T[] a) => a[_rng.Next(a.Length)];
        private string Key() => Pick(Keys);
        private string Member() => Pick(Members);
        private string Score() => _rng.Next(3) == 0 ? Pick(Scores) : _rng.Next(-5, 20).ToString();
        private string RangeEnd() => (_rng.Next(10) < 3 ? "(" : "") + Pick(RangeEnds);

        private void Options(List<string> cmd, params string[] options)
        {
            foreach (var o in options.OrderBy(_ => _rng.Next()))
                if (_rng.Next(4) == 0) cmd.Add(o);
        }

        private void Limit(List<string> cmd)
        {
            if (_rng.Next(10) < 4) cmd.AddRange(["LIMIT", Pick(Indexes), Pick(Indexes)]);
        }

        private List<string> Pairs(List<string> cmd, bool lexKey)
        {
            int n = Pick(new[] { 1, 1, 2, 4, 20 });
            for (int i = 0; i < n; i++) cmd.AddRange([lexKey ? "0" : Score(), Member()]);
            return cmd;
        }

        public List<string> Next()
        {
            string k = Key();
            int choice = _rng.Next(100);
            var cmd = new List<string>();
            switch (choice)
            {
                case < 25:
                    cmd.AddRange(["ZADD", k]);
                    Options(cmd, "NX", "XX", "GT", "LT", "CH", "INCR");
                    return Pairs(cmd, false);
                case < 30: return Pairs(["ZADD", "zl"], true);
                case < 32: return ["ZINCRBY", k, Score(), Member()];
                case < 35: return ["ZREM", k, Member(), Member()];
                case < 37: return ["ZCARD", k];
                case < 39: return ["ZSCORE", k, Member()];
                case < 40: return ["ZMSCORE", k, Member(), Member()];
                case < 42: return [_rng.Next(2) == 0 ? "ZRANK" : "ZREVRANK", k, Member()];
                case < 44: return ["ZCOUNT", k, RangeEnd(), RangeEnd()];
                case < 46: return ["ZLEXCOUNT", "zl", Pick(LexEnds), Pick(LexEnds)];
                case < 49:
                    cmd.AddRange(["ZRANGE", k, Pick(Indexes), Pick(Indexes)]);
                    Options(cmd, "WITHSCORES", "REV");
                    return cmd;
                case < 53:
                    cmd.AddRange(["ZRANGE", k, RangeEnd(), RangeEnd(), "BYSCORE"]);
                    Options(cmd, "WITHSCORES", "REV");
                    Limit(cmd);
                    return cmd;
                case < 56:
                    cmd.AddRange(["ZRANGE", "zl", Pick(LexEnds), Pick(LexEnds), "BYLEX"]);
                    Options(cmd, "REV", "WITHSCORES");
                    Limit(cmd);
                    return cmd;
                case < 58:
                    cmd.AddRange([_rng.Next(2) == 0 ? "ZRANGEBYSCORE" : "ZREVRANGEBYSCORE", k, RangeEnd(), RangeEnd()]);
                    Options(cmd, "WITHSCORES");
                    Limit(cmd);
                    return cmd;
                case < 60:
                    cmd.AddRange([_rng.Next(2) == 0 ? "ZRANGEBYLEX" : "ZREVRANGEBYLEX", "zl", Pick(LexEnds), Pick(LexEnds)]);
                    Limit(cmd);
                    return cmd;
                case < 61:
                    cmd.AddRange(["ZREVRANGE", k, Pick(Indexes), Pick(Indexes)]);
                    Options(cmd, "WITHSCORES");
                    return cmd;
                case < 63:
                    cmd.AddRange(["ZRANGESTORE", Key(), k, RangeEnd(), RangeEnd(), "BYSCORE"]);
                    Options(cmd, "REV");
                    Limit(cmd);
                    return cmd;
                case < 64: return ["ZRANGESTORE", Key(), k, Pick(Indexes), Pick(Indexes)];
                case < 66: return ["ZREMRANGEBYRANK", k, Pick(Indexes), Pick(Indexes)];
                case < 68: return ["ZREMRANGEBYSCORE", k, RangeEnd(), RangeEnd()];
                case < 69: return ["ZREMRANGEBYLEX", "zl", Pick(LexEnds), Pick(LexEnds)];
                case < 75:
                {
                    bool store = _rng.Next(2) == 0;
                    string op = Pick(new[] { "ZUNION", "ZINTER", "ZDIFF" });
                    if (store) cmd.AddRange([op + "STORE", Key()]);
                    else cmd.Add(op);
                    cmd.Add(_rng.Next(0, 4).ToString());
                    cmd.AddRange(Keys.OrderBy(_ => _rng.Next()).Take(3));
                    if (!store) Options(cmd, "WITHSCORES");
                    if (_rng.Next(10) < 3) cmd.AddRange(["WEIGHTS", Score(), Score(), Score()]);
                    if (_rng.Next(10) < 3) cmd.AddRange(["AGGREGATE", Pick(new[] { "SUM", "MIN", "MAX", "AVG" })]);
                    return cmd;
                }
                case < 77:
                    cmd.AddRange(["ZINTERCARD", _rng.Next(0, 4).ToString()]);
                    cmd.AddRange(Keys.OrderBy(_ => _rng.Next()).Take(3));
                    if (_rng.Next(10) < 4) cmd.AddRange(["LIMIT", Pick(Indexes)]);
                    return cmd;
                case < 82:
                    cmd.AddRange([_rng.Next(2) == 0 ? "ZPOPMIN" : "ZPOPMAX", k]);
                    if (_rng.Next(10) < 6) cmd.Add(Pick(Indexes));
                    return cmd;
                case < 85:
                    cmd.AddRange(["ZMPOP", _rng.Next(0, 4).ToString()]);
                    cmd.AddRange(Keys.OrderBy(_ => _rng.Next()).Take(3));
                    cmd.Add(Pick(new[] { "MIN", "MAX", "MID" }));
                    if (_rng.Next(2) == 0) cmd.AddRange(["COUNT", Pick(Indexes)]);
                    return cmd;
                case < 87:
                    cmd.AddRange(["ZRANDMEMBER", k, Pick(new[] { "0", "1000" })]);
                    Options(cmd, "WITHSCORES");
                    return cmd;
                case < 90:
                    cmd.AddRange(["ZSCAN", k, "0", "COUNT", "1000"]);
                    if (_rng.Next(3) == 0) cmd.AddRange(["MATCH", Pick(new[] { "*", "m1*", "?" })]);
                    return cmd;
                case < 93: return ["OBJECT", "ENCODING", k];
                case < 94: return ["SET", "str", "value"];
                case < 95: return ["DEL", k];
                default: return ["ZRANGE", k, "0", "-1", "WITHSCORES"];
            }
        }
    }

    /// <summary>ZSCAN over a hashed set comes back in hash order: compare its (member, score) pairs as a set.</summary>
    private static string Canonical(List<string> cmd, string reply)
    {
        const string Head = "*[$0,*[", Tail = "]]";
        if (cmd[0] != "ZSCAN" || !reply.StartsWith(Head, StringComparison.Ordinal) || reply.Length == Head.Length + Tail.Length) return reply;
        var items = reply[Head.Length..^Tail.Length].Split(',');
        var pairs = new List<string>();
        for (int i = 0; i + 1 < items.Length; i += 2) pairs.Add(items[i] + "=" + items[i + 1]);
        return "scan:" + string.Join("|", pairs.Order(StringComparer.Ordinal));
    }

    private static List<string> Run(int protocol, int seed, int count)
    {
        using var real = new RealRedis();
        using var ours = new ServerProcess();
        using var a = new RawRespConnection(ours.Port);
        using var b = new RawRespConnection(real.Port);
        if (protocol == 3)
        {
            a.Call(["HELLO", "3"]);
            b.Call(["HELLO", "3"]);
        }
        var gen = new Generator(seed);
        var mismatches = new List<string>();
        for (int i = 0; i < count && mismatches.Count < 5; i++)
        {
            var cmd = gen.Next();
            string ra = Canonical(cmd, a.Call(cmd)), rb = Canonical(cmd, b.Call(cmd));
            if (ra != rb) mismatches.Add($"#{i} {string.Join(' ', cmd)}\n  ours: {Trim(ra)}\n  real: {Trim(rb)}");
        }
        return mismatches;
    }

    private static string Trim(string s) => s.Length > 400 ? s[..400] + "..." : s;

    [Theory]
    [InlineData(2, 1, 3000)]
    [InlineData(3, 2, 2000)]
    public void RandomCommandsMatchRealRedis(int protocol, int seed, int count)
    {
        var mismatches = Run(protocol, seed, count);
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }
}
