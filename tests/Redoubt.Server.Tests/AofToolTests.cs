using System.Diagnostics;
using System.Text;
using Redoubt.Server.Persistence;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// `redoubt check-aof` against redis-check-aof 7.0.15 on the same damaged files (same output, same exit
/// code, same repair), and the AOF's run-time controls: CONFIG SET appendonly, BGREWRITEAOF, INFO.
/// </summary>
public sealed class AofToolTests
{
    private static (int Code, string Output) Ours(string stdin, params string[] args)
    {
        var output = new StringWriter();
        int code = AofChecker.Run(args, output, new StringReader(stdin), "redis-check-aof");
        return (code, output.ToString());
    }

    private static (int Code, string Output) Real(string stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("redis-check-aof") { RedirectStandardOutput = true, RedirectStandardInput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }

    /// <summary>Two identical AOF directories: a base of commands and an incr file whose tail is damaged by <paramref name="damage"/>.</summary>
    private static (string A, string B) MakePair(Func<byte[], byte[]> damage)
    {
        var incr = new MemoryStream();
        incr.Write(RespClient.Encode("SELECT", "0"));
        incr.Write(RespClient.Encode("SET", "a", "1"));
        incr.Write(RespClient.Encode("MULTI"));
        incr.Write(RespClient.Encode("INCR", "a"));
        incr.Write(RespClient.Encode("EXEC"));
        incr.Write(Encoding.ASCII.GetBytes("#TS:1700000000\r\n"));
        incr.Write(RespClient.Encode("RPUSH", "list", "x", "y"));
        var dirs = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            string dir = Path.Combine(AofHarness.NewDataDir(), "appendonlydir");
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, "appendonly.aof.1.base.aof"), RespClient.Encode("SET", "base", "1"));
            File.WriteAllBytes(Path.Combine(dir, "appendonly.aof.1.incr.aof"), damage(incr.ToArray()));
            File.WriteAllText(Path.Combine(dir, "appendonly.aof.manifest"),
                "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n");
            dirs.Add(dir);
        }
        return (dirs[0], dirs[1]);
    }

    public static TheoryData<string> Damages => new() { "none", "cut", "cut-in-multi", "bad-prefix", "bad-crlf" };

    private static byte[] Apply(string kind, byte[] d) => kind switch
    {
        "none" => d,
        "cut" => d[..^5],
        "cut-in-multi" => d[..(Encoding.Latin1.GetString(d).IndexOf("*1\r\n$4\r\nEXEC", StringComparison.Ordinal) + 3)],
        "bad-prefix" => Replace(d, "*3\r\n$5\r\nRPUSH", "*3\r\n%5\r\nRPUSH"),
        "bad-crlf" => Replace(d, "$1\r\n1\r\n", "$1\r\n1xx"),
        _ => throw new ArgumentException(kind),
    };

    private static byte[] Replace(byte[] d, string from, string to)
        => Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(d).Replace(from, to));

    [Theory]
    [MemberData(nameof(Damages))]
    public void CheckMatchesRedisCheckAof(string damage)
    {
        var (a, b) = MakePair(d => Apply(damage, d));
        try
        {
            var ours = Ours("", Path.Combine(a, "appendonly.aof.manifest"));
            var real = Real("", Path.Combine(b, "appendonly.aof.manifest"));
            Assert.Equal(real.Code, ours.Code);
            Assert.Equal(real.Output.Replace(b, "<dir>"), ours.Output.Replace(a, "<dir>"));

            // --fix, confirmed on standard input as the tool asks.
            ours = Ours("y\n", "--fix", Path.Combine(a, "appendonly.aof.manifest"));
            real = Real("y\n", "--fix", Path.Combine(b, "appendonly.aof.manifest"));
            Assert.Equal(real.Code, ours.Code);
            Assert.Equal(real.Output.Replace(b, "<dir>"), ours.Output.Replace(a, "<dir>"));
            Assert.Equal(File.ReadAllBytes(Path.Combine(b, "appendonly.aof.1.incr.aof")), File.ReadAllBytes(Path.Combine(a, "appendonly.aof.1.incr.aof")));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(a)!, true);
            Directory.Delete(Path.GetDirectoryName(b)!, true);
        }
    }

    [Fact]
    public void FixIsRefusedWithoutConfirmation()
    {
        var (a, b) = MakePair(d => d[..^5]);
        try
        {
            var ours = Ours("n\n", "--fix", Path.Combine(a, "appendonly.aof.manifest"));
            var real = Real("n\n", "--fix", Path.Combine(b, "appendonly.aof.manifest"));
            Assert.Equal(1, ours.Code);
            Assert.Equal(real.Output.Replace(b, "<dir>"), ours.Output.Replace(a, "<dir>"));
            Assert.EndsWith("Continue? [y/N]: Aborting...\n", ours.Output);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(a)!, true);
            Directory.Delete(Path.GetDirectoryName(b)!, true);
        }
    }

    /// <summary>
    /// Turning the AOF on at run time writes a base file of the current dataset; later writes go to the
    /// incr file; BGREWRITEAOF replies as Redis's and INFO reports real figures; turning it off stops appends.
    /// </summary>
    [Fact]
    public void ConfigSetAppendonlyAndRewrite()
    {
        string dir = AofHarness.NewDataDir();
        try
        {
            using var server = DirServer.Ours(dir, "--appendonly", "no", "--aof-use-rdb-preamble", "no");
            using var c = server.Connect();
            c.Call("SET", "before", "1");
            Assert.Contains("aof_enabled:0", (string)c.Call("INFO", "persistence")!);
            Assert.Equal("OK", c.Call("CONFIG", "SET", "appendonly", "yes"));
            AofLoadTests.WaitRewriteDone(c);
            c.Call("SET", "after", "2");
            string info = (string)c.Call("INFO", "persistence")!;
            Assert.Contains("aof_enabled:1", info);
            Assert.Contains("aof_last_bgrewrite_status:ok", info);
            Assert.Contains("aof_last_write_status:ok", info);
            long size = long.Parse(info.Split("\r\n").First(l => l.StartsWith("aof_current_size:"))["aof_current_size:".Length..]);
            string aofDir = Path.Combine(dir, "appendonlydir");
            long onDisk = Directory.GetFiles(aofDir, "appendonly.aof.*.aof").Sum(f => new FileInfo(f).Length);
            Assert.Equal(onDisk, size);
            Assert.Equal("file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
                File.ReadAllText(Path.Combine(aofDir, "appendonly.aof.manifest")));
            Assert.Equal([["SELECT", "0"], ["SET", "before", "1"]], AofHarness.ParseCommands(File.ReadAllBytes(Path.Combine(aofDir, "appendonly.aof.1.base.aof"))));
            Assert.Equal([["SELECT", "0"], ["SET", "after", "2"]], AofHarness.ParseCommands(File.ReadAllBytes(Path.Combine(aofDir, "appendonly.aof.1.incr.aof"))));

            // A slow rewrite (DEBUG key delay is not needed: a second request during one is refused).
            Assert.Equal("Background append only file rewriting started", c.Call("BGREWRITEAOF"));
            // The first one may already be done: then the second starts another.
            var second = c.Call("BGREWRITEAOF");
            if (second is RespError e) Assert.Equal("ERR Background append only file rewriting already in progress", e.Message);
            else
            {
                Assert.Equal("Background append only file rewriting started", second);
            }
            AofLoadTests.WaitRewriteDone(c);
            int rewrites = int.Parse(((string)c.Call("INFO", "persistence")!).Split("\r\n").First(l => l.StartsWith("aof_rewrites:"))["aof_rewrites:".Length..]);
            Assert.InRange(rewrites, 2, 4);
            Assert.Equal($"file appendonly.aof.{rewrites}.base.aof seq {rewrites} type b\nfile appendonly.aof.{rewrites}.incr.aof seq {rewrites} type i\n",
                File.ReadAllText(Path.Combine(aofDir, "appendonly.aof.manifest")));
            Assert.False(File.Exists(Path.Combine(aofDir, "appendonly.aof.1.incr.aof")), "history files are removed");
            Assert.Equal([$"appendonly.aof.{rewrites}.base.aof", $"appendonly.aof.{rewrites}.incr.aof", "appendonly.aof.manifest"],
                Directory.GetFiles(aofDir).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray());

            Assert.Equal("OK", c.Call("CONFIG", "SET", "appendonly", "no"));
            c.Call("SET", "off", "3");
            Assert.Empty(AofHarness.ParseCommands(File.ReadAllBytes(Path.Combine(aofDir, $"appendonly.aof.{rewrites}.incr.aof"))));
            Assert.Contains("aof_enabled:0", (string)c.Call("INFO", "persistence")!);
        }
        finally { Directory.Delete(dir, true); }
    }
}
