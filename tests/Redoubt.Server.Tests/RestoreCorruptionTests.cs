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
}
