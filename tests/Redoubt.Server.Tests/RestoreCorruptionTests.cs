using System.Text;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>A corrupt RESTORE payload is refused with "Bad data format" and logged with Redis's reason.</summary>
public sealed class RestoreCorruptionTests
{
    private static byte[] Bytes(string s) => Encoding.Latin1.GetBytes(s);

    [Fact]
    public void CorruptZsetZiplistIsRefusedAndItsIntegrityFailureLogged()
    {
        using var server = new ServerProcess(null, "--loglevel", "verbose", "--enable-debug-command", "yes");
        using var c = server.Connect();
        c.Call("CONFIG", "SET", "sanitize-dump-payload", "no");
        c.Call("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1");
        // Redis's fuzzer finding "zset ziplist invalid tail offset".
        var payload = Bytes("\x0C\x19\x19\x00\x00\x00\x02\x00\x00\x00\x06\x00\x00\xF1\x02\xF1\x02\x02\x5F\x31\x04\xF2\x02\xF3\x02\xF3\xFF\x09\x00\x4D\x72\x7B\x97\xCD\x9A\x70\xC1");
        var reply = c.Call("RESTORE", "_zset", "0", payload);
        Assert.Equal("ERR Bad data format", Assert.IsType<RespError>(reply).Message);
        for (int i = 0; i < 50 && !server.Output.Contains("integrity check failed"); i++) Thread.Sleep(100);
        Assert.Contains("Zset ziplist integrity check failed.", server.Output);
        Assert.Equal(0L, c.Call("EXISTS", "_zset"));
        Assert.Equal("PONG", c.Call("PING"));
    }

    [Theory]
    // A valid hash ziplist whose fields repeat: Redis's ziplist validation catches the duplicate.
    [InlineData("key", "\x0D\x1B\x1B\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00\x04\x02\x62\x00\x04\x02\x61\x00\x04\x02\x64\x00\xFF\x09\x00\xA1\x98\x36\x78\xCC\x8E\x93\x2E", false, "Hash ziplist integrity check failed.")]
    // An empty zipmap.
    [InlineData("_hash", "\x09\x02\x00\xFF\x09\x00\xC0\xF1\xB8\x67\x4C\x16\xAC\xE3", true, "Zipmap integrity check failed.")]
    // A stream group naming the same consumer twice.
    [InlineData("key", "\x0F\x00\x00\x00\x00\x01\x07\x6D\x79\x67\x72\x6F\x75\x70\x00\x00\x00\x02\x04\x6E\x61\x6D\x65\x2A\x4C\xAA\x9A\x7D\x01\x00\x00\x00\x04\x6E\x61\x6D\x65\x2B\x4C\xAA\x9A\x7D\x01\x00\x00\x00\x0A\x00\xCC\xED\x8C\xA7\x62\xEE\xC7\xC8", false, "Duplicate stream consumer detected.")]
    public void PackedEncodingsReportTheirIntegrityCheck(string key, string payload, bool unsanitized, string logged)
    {
        using var server = new ServerProcess(null, "--loglevel", "verbose", "--enable-debug-command", "yes");
        using var c = server.Connect();
        if (unsanitized)
        {
            c.Call("CONFIG", "SET", "sanitize-dump-payload", "no");
            c.Call("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1");
        }
        Assert.Equal("ERR Bad data format", Assert.IsType<RespError>(c.Call("RESTORE", key, "0", Bytes(payload))).Message);
        for (int i = 0; i < 50 && !server.Output.Contains(logged); i++) Thread.Sleep(100);
        Assert.Contains(logged, server.Output);
        Assert.Equal(0L, c.Call("EXISTS", key));
    }

    [Fact]
    public void DuplicateFieldsFoundWhileConvertingAnUnsanitizedListpackAreRefused()
    {
        using var server = new ServerProcess(null, "--loglevel", "verbose", "--enable-debug-command", "yes");
        using var c = server.Connect();
        c.Call("CONFIG", "SET", "sanitize-dump-payload", "no");
        c.Call("CONFIG", "SET", "hash-max-listpack-entries", "1");
        c.Call("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1");
        var payload = Bytes("\x10\x17\x17\x00\x00\x00\x04\x00\x82\x61\x00\x03\x82\x62\x00\x03\x82\x61\x00\x03\x82\x64\x00\x03\xff\x0a\x00\xc0\xcf\xa6\x87\xe5\xa7\xc5\xbe");
        Assert.Equal("ERR Bad data format", Assert.IsType<RespError>(c.Call("RESTORE", "_hash", "0", payload)).Message);
        for (int i = 0; i < 50 && !server.Output.Contains("listpack with dup elements"); i++) Thread.Sleep(100);
        Assert.Contains("listpack with dup elements dump (hexdump of 23 bytes):", server.Output);
        Assert.Equal(0L, c.Call("EXISTS", "_hash"));
        Assert.Equal("PONG", c.Call("PING"));
    }

    [Fact]
    public void ACorruptFileAtStartUpIsExplainedByTheCheckersWalk()
    {
        string dir = Directory.CreateTempSubdirectory("redoubt-corrupt-rdb-").FullName;
        try
        {
            // A hash ziplist with duplicate fields inside an RDB file, written by hand.
            var rdb = new List<byte>(Bytes("REDIS0009"));
            rdb.AddRange(Bytes("\xFE\x00"));
            rdb.Add(0x0D);
            rdb.Add(3);
            rdb.AddRange(Bytes("bad"));
            var zl = Bytes("\x1B\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00\x04\x02\x62\x00\x04\x02\x61\x00\x04\x02\x64\x00\xFF");
            rdb.Add((byte)zl.Length);
            rdb.AddRange(zl);
            rdb.Add(0xFF);
            rdb.AddRange(new byte[8]);
            File.WriteAllBytes(Path.Combine(dir, "dump.rdb"), rdb.ToArray());
            var psi = new System.Diagnostics.ProcessStartInfo(ServerProcess.Launcher)
            {
                ArgumentList = { "server", "--port", ServerProcess.FreePort().ToString(), "--dir", dir },
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            using var p = System.Diagnostics.Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(30000));
            Assert.Equal(1, p.ExitCode);
            Assert.Contains("-> Hash ziplist integrity check failed.", output);
            Assert.Contains("--- RDB ERROR DETECTED ---", output);
            Assert.Contains("[additional info] Reading key 'bad'", output);
            Assert.Contains("[additional info] Reading type 13 (hash-ziplist)", output);
            Assert.Contains("Terminating server after rdb file reading failure.", output);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
