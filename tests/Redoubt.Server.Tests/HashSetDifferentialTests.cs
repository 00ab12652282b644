using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Random hash and set commands sent to our server and to a real redis-server 7.0 side by side, in RESP2
/// and RESP3: every reply must match, up to the order of elements where Redis's own order depends on its
/// hash function, and up to the choice of elements for random picks.
/// </summary>
public sealed class HashSetDifferentialTests : IDisposable
{
    private readonly ServerProcess _ours = new();
    private readonly ReferenceRedis _real = new();

    public void Dispose()
    {
        _ours.Dispose();
        _real.Dispose();
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    [InlineData(3, 2)]
    public void RepliesMatchRealRedis(int seed, int protocol)
    {
        using var ours = new TaggedClient(_ours.Port);
        using var real = new TaggedClient(_real.Port);
        foreach (var c in new[] { ours, real })
        {
            c.Call("FLUSHALL");
            if (protocol == 3) c.Call("HELLO", "3");
        }
        var gen = new CommandGenerator(seed);
        for (int i = 0; i < 2500; i++)
        {
            var cmd = gen.Next();
            string name = cmd[0].ToLowerInvariant();
            if (name == "spop" && cmd.Length == 2)
            {
                // Which member pops is random: make the reference drop the same one.
                var popped = ours.Call(cmd);
                var expected = real.Call("SCARD", cmd[1]) is { Type: ':', Text: "0" } ? real.Call(cmd) : popped;
                if (popped.Type == '$') real.Call("SREM", cmd[1], popped.Text!);
                Assert.True(Same(popped, expected), $"#{i} {string.Join(' ', cmd)}: ours {popped}, real {expected}");
                continue;
            }
            if (name is "hscan" or "sscan" && cmd.Length >= 3)
            {
                var (x, y) = (FullScan(ours, cmd), FullScan(real, cmd));
                Assert.True(x == y, $"#{i} {string.Join(' ', cmd)}:\n ours {x}\n real {y}");
                continue;
            }
            var a = ours.Call(cmd);
            var b = real.Call(cmd);
            Assert.True(Compare(name, cmd, a, b), $"#{i} {string.Join(' ', cmd)}:\n ours {a}\n real {b}");
            if (i % 250 == 0) CompareState(ours, real, i);
        }
        CompareState(ours, real, -1);
    }

    /// <summary>
    /// A scan from cursor 0 followed to its end, as a sorted bag of what it returned (field=value pairs for
    /// HSCAN). Cursors inside a hash table depend on the hash function, so a scan started elsewhere is only
    /// checked for its shape.
    /// </summary>
    private static string FullScan(TaggedClient c, string[] cmd)
    {
        var reply = c.Call(cmd);
        if (reply.Type == '-') return reply.ToString();
        if (cmd[2] is not ("0" or "" or "+0" or "-0")) return reply.Type + "" + reply.Items!.Length;
        var found = new List<string>();
        while (true)
        {
            var items = reply.Items![1].Items!;
            if (cmd[0] == "HSCAN") found.AddRange(Enumerable.Range(0, items.Length / 2).Select(i => items[2 * i] + "=" + items[2 * i + 1]));
            else found.AddRange(items.Select(x => x.ToString()));
            if (reply.Items[0].Text == "0") break;
            var next = (string[])cmd.Clone();
            next[2] = reply.Items[0].Text!;
            reply = c.Call(next);
        }
        return string.Join(",", found.Distinct().Order(StringComparer.Ordinal));
    }

    /// <summary>Every key's full contents must be equal on both servers.</summary>
    private static void CompareState(TaggedClient ours, TaggedClient real, int step)
    {
        foreach (var key in CommandGenerator.Keys)
        {
            var type = real.Call("TYPE", key).Text;
            if (type == "hash") Assert.True(Compare("hgetall", ["HGETALL", key], ours.Call("HGETALL", key), real.Call("HGETALL", key)), $"state of {key} at {step}");
            else if (type == "set") Assert.True(Compare("smembers", ["SMEMBERS", key], ours.Call("SMEMBERS", key), real.Call("SMEMBERS", key)), $"state of {key} at {step}");
            else if (type == "none") Assert.Equal("0", ours.Call("EXISTS", key).Text);
        }
    }

    private static readonly HashSet<string> Unordered = ["smembers", "sinter", "sunion", "sdiff", "hkeys", "hvals", "spop", "srandmember", "hrandfield"];

    private static bool Compare(string name, string[] cmd, Reply a, Reply b)
    {
        if (a.Type == '-' || b.Type == '-') return Same(a, b);
        if (name == "hgetall") return a.Type == b.Type && SamePairs(a.Items!, b.Items!);
        if (name is "srandmember" or "hrandfield")
        {
            // Random picks: the shape and size must match; the elements too when the whole collection came back.
            if (a.Type != b.Type || a.Items?.Length != b.Items?.Length) return false;
            if (a.Items is null || SameBag(a.Items, b.Items!)) return true;
            long count = long.Parse(cmd[2]);
            int perElement = name == "hrandfield" && cmd.Length == 4 && a.Items.Length > 0 && a.Items[0].Items is null ? 2 : 1;
            return count < 0 || a.Items.Length / perElement == count;
        }
        if (Unordered.Contains(name)) return a.Type == b.Type && (a.Items is null ? Same(a, b) : SameBag(a.Items, b.Items!));
        return Same(a, b);
    }

    private static bool Same(Reply a, Reply b) => a.ToString() == b.ToString();

    private static bool SameBag(Reply[] a, Reply[] b)
        => a.Select(x => x.ToString()).Order(StringComparer.Ordinal).SequenceEqual(b.Select(x => x.ToString()).Order(StringComparer.Ordinal));

    private static bool SamePairs(Reply[] a, Reply[] b)
    {
        static IEnumerable<string> Pairs(Reply[] r) => Enumerable.Range(0, r.Length / 2).Select(i => r[2 * i] + "=" + r[2 * i + 1]).Order(StringComparer.Ordinal);
        return a.Length == b.Length && Pairs(a).SequenceEqual(Pairs(b));
    }

    /// <summary>Random commands over a few keys of each type, with values chosen to hit Redis's edge cases.</summary>
    private sealed class CommandGenerator(int seed)
    {
        public static readonly string[] Keys = ["h1", "h2", "s1", "s2", "s3", "str", "none"];
        private readonly Random _rng = new(seed);

        private string Key() => Keys[_rng.Next(Keys.Length)];

        private string Value()
        {
            double k = _rng.NextDouble();
            if (k < 0.4) return _rng.Next(-20, 21).ToString();
            if (k < 0.5) return new[] { "9223372036854775807", "-9223372036854775808", "4611686018427387904", "0", "70000" }[_rng.Next(5)];
            if (k < 0.6) return new[] { "01", "+1", " 1", "1.5", "", "-0", "abc", new string('x', 70), "1e3", "inf", "nan", "5.0e3" }[_rng.Next(12)];
            return "f" + _rng.Next(31);
        }

        private IEnumerable<string> Values(int max) => Enumerable.Range(0, _rng.Next(max + 1)).Select(_ => Value());

        public string[] Next()
        {
            string[] names =
            [
                "hset", "hsetnx", "hget", "hmget", "hdel", "hlen", "hstrlen", "hexists", "hkeys", "hvals", "hgetall", "hincrby",
                "hincrbyfloat", "sadd", "srem", "scard", "sismember", "smismember", "smembers", "smove", "sinter", "sunion", "sdiff",
                "sinterstore", "sunionstore", "sdiffstore", "sintercard", "set", "hmset", "del", "hscan", "sscan", "srandmember", "spop",
                "hrandfield", "bulk",
            ];
            string name = names[_rng.Next(names.Length)];
            var args = new List<string>();
            switch (name)
            {
                case "hset": case "hmset": args.Add(Key()); args.AddRange(Values(3).SelectMany(v => new[] { v, Value() })); break;
                case "hsetnx": args.AddRange([Key(), Value(), Value()]); break;
                case "hget": case "hstrlen": case "hexists": case "sismember": args.AddRange([Key(), Value()]); break;
                case "hmget": case "hdel": case "sadd": case "srem": case "smismember": args.Add(Key()); args.AddRange(Values(4)); break;
                case "hlen": case "hkeys": case "hvals": case "hgetall": case "scard": case "smembers": case "del": args.Add(Key()); break;
                case "hincrby": case "hincrbyfloat": args.AddRange([Key(), Value(), Value()]); break;
                case "smove": args.AddRange([Key(), Key(), Value()]); break;
                case "sinter": case "sunion": case "sdiff": args.AddRange(Enumerable.Range(0, _rng.Next(4)).Select(_ => Key())); break;
                case "sinterstore": case "sunionstore": case "sdiffstore": args.AddRange(Enumerable.Range(0, 1 + _rng.Next(4)).Select(_ => Key())); break;
                case "sintercard":
                    args.Add(new[] { "0", "1", "2", "3", "x", "-1", "5" }[_rng.Next(7)]);
                    args.AddRange(Enumerable.Range(0, _rng.Next(4)).Select(_ => Key()));
                    if (_rng.Next(10) < 4) args.AddRange([_rng.Next(3) == 0 ? "foo" : "LIMIT", new[] { "0", "1", "2", "-1", "x" }[_rng.Next(5)]]);
                    break;
                case "set": args.AddRange([Key(), Value()]); break;
                case "hscan": case "sscan":
                    args.AddRange([Key(), new[] { "0", "0", "x", "-1", "", "+0", " 0", "18446744073709551616" }[_rng.Next(8)]]);
                    if (_rng.Next(2) == 0) args.AddRange([new[] { "MATCH", "COUNT", "bogus" }[_rng.Next(3)], new[] { "*", "f1*", "0", "-1", "100", "1" }[_rng.Next(6)]]);
                    break;
                case "srandmember": args.AddRange([Key(), new[] { "100", "-0", "0", "x", "-9223372036854775808", "1.5", "-5", "2000" }[_rng.Next(8)]]); break;
                case "spop": args.Add(Key()); if (_rng.Next(2) == 0) args.Add(new[] { "1000", "0", "-1", "x" }[_rng.Next(4)]); break;
                case "hrandfield":
                    args.AddRange([Key(), new[] { "1000", "0", "-9223372036854775808", "x", "4611686018427387904", "-3" }[_rng.Next(6)]]);
                    args.AddRange(new[] { Array.Empty<string>(), ["withvalues"], ["WITHVALUES"], ["bad"] }[_rng.Next(4)]);
                    break;
                case "bulk":
                    // Many members at once, to cross the 512-entry limits of listpack and intset.
                    string key = Key();
                    bool ints = _rng.Next(2) == 0;
                    name = key.StartsWith('h') ? "hset" : "sadd";
                    args.Add(key);
                    for (int i = 0; i < 150; i++)
                    {
                        string m = ints ? _rng.Next(100000).ToString() : "b" + _rng.Next(100000);
                        args.Add(m);
                        if (name == "hset") args.Add(m);
                    }
                    break;
            }
            if (_rng.Next(50) == 0 && args.Count > 0) args.RemoveAt(args.Count - 1);
            args.Insert(0, name.ToUpperInvariant());
            return args.ToArray();
        }
    }

    /// <summary>A reply with its RESP type kept, so RESP3 maps, sets, nulls and arrays are told apart.</summary>
    private sealed record Reply(char Type, string? Text, Reply[]? Items)
    {
        public override string ToString() => Items is null ? $"{Type}{Text}" : $"{Type}[{string.Join(",", Items.Select(i => i.ToString()))}]";
    }

    /// <summary>A minimal RESP2/RESP3 client that keeps reply types.</summary>
    private sealed class TaggedClient : IDisposable
    {
        private readonly TcpClient _tcp;
        private readonly BufferedStream _in;

        public TaggedClient(int port)
        {
            _tcp = new TcpClient("127.0.0.1", port) { NoDelay = true, ReceiveTimeout = 10000 };
            _in = new BufferedStream(_tcp.GetStream());
        }

        public Reply Call(params string[] args)
        {
            _tcp.GetStream().Write(RespClient.Encode(args));
            return Read();
        }

        private Reply Read()
        {
            char type = (char)_in.ReadByte();
            string line = ReadLine();
            switch (type)
            {
                case '$':
                {
                    int len = int.Parse(line);
                    if (len < 0) return new Reply('_', null, null);
                    var buf = new byte[len];
                    _in.ReadExactly(buf);
                    ReadLine();
                    return new Reply('$', Encoding.Latin1.GetString(buf), null);
                }
                case '*': case '~': case '%':
                {
                    int n = int.Parse(line);
                    if (n < 0) return new Reply('_', null, null);
                    if (type == '%') n *= 2;
                    var items = new Reply[n];
                    for (int i = 0; i < n; i++) items[i] = Read();
                    return new Reply(type, null, items);
                }
                default: return new Reply(type, line, null);
            }
        }

        private string ReadLine()
        {
            var sb = new StringBuilder();
            int b;
            while ((b = _in.ReadByte()) != '\r') sb.Append((char)b);
            _in.ReadByte();
            return sb.ToString();
        }

        public void Dispose() => _tcp.Dispose();
    }

    /// <summary>The real redis-server 7.0 on a free port, without persistence.</summary>
    private sealed class ReferenceRedis : IDisposable
    {
        public int Port { get; } = ServerProcess.FreePort();
        private readonly string _dir = Directory.CreateTempSubdirectory("redoubt-ref-").FullName;
        private readonly Process _process;

        public ReferenceRedis()
        {
            var psi = new ProcessStartInfo("redis-server") { WorkingDirectory = _dir, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" }) psi.ArgumentList.Add(a);
            _process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server (Redis 7.0) is needed for this test");
            _process.OutputDataReceived += (_, _) => { };
            _process.BeginOutputReadLine();
            for (var deadline = DateTime.UtcNow.AddSeconds(20); ; Thread.Sleep(50))
            {
                try
                {
                    using var probe = new TcpClient("127.0.0.1", Port);
                    return;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited) { }
            }
        }

        public void Dispose()
        {
            try { _process.Kill(); _process.WaitForExit(5000); } catch (InvalidOperationException) { }
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }
    }
}
