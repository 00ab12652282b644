using System.Text.RegularExpressions;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// The propagation stream compared with Redis 7.0.15's: the same script runs against both servers with
/// the AOF on, and their incr files must hold the same commands (absolute times normalized, random
/// SPOP members compared by count). Covers every rewrite: expire forms to PEXPIREAT/PXAT, SET GET,
/// GETEX, GETDEL, GETSET, INCRBYFLOAT, HINCRBYFLOAT, SPOP, blocking and multi-key pops, BLMOVE,
/// BRPOPLPUSH, ZMPOP, BZPOPMIN/BZPOPMAX/BZMPOP, GEOADD, the stream rewrites (generated IDs, approximate
/// trims, group reads and claims as XCLAIM / XGROUP SETID / CREATECONSUMER), RESTORE with ABSTTL, lazy expiry, MULTI/EXEC wrapping, SELECT, FLUSHDB and PUBLISH.
/// </summary>
public sealed class AofPropagationTests
{
    private static readonly string[] Script =
    [
        "DEBUG SET-ACTIVE-EXPIRE 0",
        "SET s1 v1", "SET s2 v2 EX 100", "SET s3 v3 PX 100000", "SET s4 v4 EXAT 4102444800", "SET s5 v5 PXAT 4102444800000",
        "SET s6 v6 KEEPTTL", "SET s1 v1b GET", "SET s2 v2b EX 50 GET", "SET s7 v7 NX", "SET s7 v7b NX", "SET s7 v7c XX PX 5000",
        "SETEX s8 100 v8", "PSETEX s9 100000 v9", "SETNX s10 x", "SETNX s10 y",
        "GETEX s8 EX 200", "GETEX s8 PX 200000", "GETEX s8 EXAT 4102444800", "GETEX s8 PERSIST", "GETEX s8 PERSIST", "GETEX s9",
        "GETEX s7 PXAT 1000",
        "GETDEL s9", "GETDEL s9", "GETSET s1 v1c",
        "INCRBYFLOAT f1 1.5", "INCRBYFLOAT f1 2.25", "INCR n1", "INCRBY n1 5", "DECR n1", "APPEND s1 xx", "SETRANGE s1 1 ZZ",
        "EXPIRE s1 100", "PEXPIRE s1 100000", "EXPIREAT s1 4102444800", "PEXPIREAT s1 4102444800000", "EXPIRE s1 200 GT",
        "EXPIRE s1 1 NX", "EXPIRE nokey 100", "EXPIRE s6 -1", "PEXPIREAT s5 1000", "PERSIST s1", "PERSIST s1",
        "HSET h1 a 1 b 2", "HINCRBYFLOAT h1 c 1.5", "HINCRBY h1 a 10", "HDEL h1 b", "HSETNX h1 a 5",
        "SADD set1 a", "SPOP set1", "SADD set2 a b c", "SPOP set2 5", "SADD set3 x", "SPOP set3 1",
        "SADD rs a b c d e f g h i j", "SPOP rs 3", "SMOVE rs set9 zz", "SREM rs nothere",
        "RPUSH l1 a b c d e", "LPOP l1", "RPOP l1 2", "BLPOP l1 0", "BRPOP l1 0", "BLPOP nol 0.01",
        "RPUSH l2 a b c", "BLMOVE l2 l3 LEFT RIGHT 0", "BRPOPLPUSH l2 l3 0", "LMPOP 2 nol l2 LEFT COUNT 10",
        "BLMPOP 0 1 l3 RIGHT COUNT 1", "LPUSH l4 x", "LSET l4 0 y", "LTRIM l4 0 0",
        "ZADD z1 1 a 2 b 3 c", "ZPOPMIN z1", "ZMPOP 1 z1 MAX COUNT 5", "ZADD z2 1 a", "ZINCRBY z2 2 a", "ZREM z2 a",
        "GEOADD g1 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "PUBLISH ch hello",
        "XADD x1 * a 1", "XADD x1 * b 2", "XADD x2 5-* a 1", "XADD x2 5-* a 2", "XADD x2 6-1 a 3",
        "XADD x2 MAXLEN ~ 1 7-1 a 4", "XADD x2 MINID ~ 6 8-1 a 5", "XADD x2 MAXLEN 10 * a 6", "XADD nox NOMKSTREAM * a 1",
        "XTRIM x2 MAXLEN ~ 1", "XTRIM x1 MAXLEN 1", "XTRIM x2 MINID ~ 0",
        "CONFIG SET stream-node-max-entries 2", "XADD x4 1-1 a 1", "XADD x4 2-1 a 1", "XADD x4 3-1 a 1", "XADD x4 4-1 a 1",
        "XADD x4 5-1 a 1", "XTRIM x4 MAXLEN ~ 1", "XADD x4 MINID ~ 5 6-1 a 1", "CONFIG SET stream-node-max-entries 100",
        "XGROUP CREATE x2 g1 0", "XGROUP CREATE x2 g2 $", "XGROUP CREATE x5 g $ MKSTREAM", "XGROUP CREATE x2 g3 0 ENTRIESREAD 1",
        "XREADGROUP GROUP g1 c1 COUNT 2 STREAMS x2 >", "XREADGROUP GROUP g1 c2 NOACK COUNT 1 STREAMS x2 >",
        "XREADGROUP GROUP g1 c1 STREAMS x2 0", "XREADGROUP GROUP g1 c5 STREAMS x2 >", "XREADGROUP GROUP g1 c6 STREAMS x2 >",
        "XREADGROUP GROUP g3 c1 NOACK STREAMS x2 >", "XACK x2 g1 5-0",
        "XCLAIM x2 g1 c3 0 5-1", "XCLAIM x2 g1 c3 0 6-1 JUSTID LASTID 9-0", "XCLAIM x2 g2 c3 0 7-1 LASTID 9-0",
        "XCLAIM x2 g1 c7 0 8-1 IDLE 10 RETRYCOUNT 5", "XCLAIM x2 g1 c7 3600000 8-1",
        "XDEL x2 6-1", "XCLAIM x2 g1 c3 0 6-1", "XDEL x2 7-1", "XAUTOCLAIM x2 g1 c4 0 0", "XAUTOCLAIM x2 g1 c4 0 0 COUNT 1 JUSTID",
        "XGROUP CREATECONSUMER x2 g1 c9", "XGROUP CREATECONSUMER x2 g1 c9", "XGROUP DELCONSUMER x2 g1 c9",
        "XGROUP SETID x2 g1 0 ENTRIESREAD 0", "XGROUP DESTROY x2 g2", "XSETID x4 100-0", "XSETID x4 200-0 ENTRIESADDED 50 MAXDELETEDID 90-0",
        "ZADD bz 1 a 2 b 3 c 4 d", "BZPOPMIN bz 0", "BZPOPMAX bz 0", "BZMPOP 0 1 bz MIN COUNT 5", "BZPOPMIN bz 0.01",
        "SET rsrc hello", "DUMPRESTORE r1 rsrc 0", "DUMPRESTORE r2 rsrc 100000", "DUMPRESTORE r2 rsrc 0 REPLACE",
        "DUMPRESTORE r3 rsrc 4102444800000 ABSTTL", "DUMPRESTORE r3 rsrc 1000 REPLACE ABSTTL", "DUMPRESTORE r4 rsrc 1000 ABSTTL",
        "SELECT 3", "SET d3 x",
        "MULTI", "SET m1 1", "INCR m1", "EXEC",
        "MULTI", "SET m2 1", "EXEC",
        "MULTI", "GET m2", "EXEC",
        "SELECT 0", "DEL s3 nokey", "UNLINK s4", "MSET a 1 b 2", "MSETNX a 3 c 4", "RENAME a a2", "COPY a2 a3", "MOVE a3 4",
        "SET ex1 v PX 1", "SLEEP 30", "GET ex1", "SET ex2 v PX 1", "SLEEP 30", "SET ex2 new",
        "FLUSHDB", "FLUSHDB", "SELECT 4", "FLUSHALL",
    ];

    [Fact]
    public void IncrFileMatchesRedis()
    {
        string ourDir = AofHarness.NewDataDir(), realDir = AofHarness.NewDataDir();
        try
        {
            List<string> ours, real;
            using (var server = DirServer.Ours(ourDir, "--appendonly", "yes"))
            {
                Run(server);
                ours = Normalize(ReadIncr(ourDir, server));
            }
            using (var server = DirServer.Real(realDir, "--appendonly", "yes"))
            {
                Run(server);
                real = Normalize(ReadIncr(realDir, server));
            }
            Assert.True(real.Count > 60, "the script propagates enough commands: " + real.Count);
            if (Environment.GetEnvironmentVariable("REDOUBT_DUMP_PROPAGATION") is { } dump)
            {
                File.WriteAllLines(dump + ".real", real);
                File.WriteAllLines(dump + ".ours", ours);
            }
            Assert.Equal(string.Join("\n", real), string.Join("\n", ours));
        }
        finally
        {
            Directory.Delete(ourDir, true);
            Directory.Delete(realDir, true);
        }
    }

    /// <summary>
    /// Serving blocked clients propagates like Redis: group reads as an XCLAIM per delivered entry, and for
    /// NOACK the consumer's creation and the group's new last ID, wrapped in MULTI/EXEC per client served;
    /// BZPOPMIN/BZPOPMAX/BZMPOP as ZPOPMIN/ZPOPMAX (with the count popped for BZMPOP).
    /// </summary>
    [Fact]
    public void BlockedServesPropagateAsRedis()
    {
        string ourDir = AofHarness.NewDataDir(), realDir = AofHarness.NewDataDir();
        try
        {
            List<string> ours, real;
            using (var server = DirServer.Ours(ourDir, "--appendonly", "yes")) ours = RunBlocked(server, ourDir);
            using (var server = DirServer.Real(realDir, "--appendonly", "yes")) real = RunBlocked(server, realDir);
            Assert.Contains(real, l => l.StartsWith("XCLAIM bs g c1 0 1-1 TIME <ms> RETRYCOUNT 1", StringComparison.Ordinal));
            Assert.Contains("ZPOPMAX z2 2", real);
            Assert.Equal(string.Join("\n", real), string.Join("\n", ours));
        }
        finally
        {
            Directory.Delete(ourDir, true);
            Directory.Delete(realDir, true);
        }
    }

    private static List<string> RunBlocked(DirServer server, string dir)
    {
        using (var c = server.Connect())
        using (var r1 = server.Connect())
        using (var r2 = server.Connect())
        {
            AofLoadTests.WaitLoaded(c);
            c.Call("XGROUP", "CREATE", "bs", "g", "$", "MKSTREAM");
            // One after the other: the first blocked is the first served, and two connections sending at
            // once reach the server in either order.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            r1.SendRaw(RespClient.Encode("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "10000", "STREAMS", "bs", ">"));
            while (!((string)c.Call("INFO", "clients")!).Contains("blocked_clients:1") && DateTime.UtcNow < deadline) Thread.Sleep(10);
            r2.SendRaw(RespClient.Encode("XREADGROUP", "GROUP", "g", "c2", "NOACK", "BLOCK", "10000", "STREAMS", "bs", ">"));
            while (!((string)c.Call("INFO", "clients")!).Contains("blocked_clients:2") && DateTime.UtcNow < deadline) Thread.Sleep(10);
            c.Call("XADD", "bs", "1-1", "a", "1");
            Assert.IsType<object?[]>(r1.Read());
            c.Call("XADD", "bs", "2-1", "a", "2");
            Assert.IsType<object?[]>(r2.Read());
            using var z1 = server.Connect();
            using var z2 = server.Connect();
            using var z3 = server.Connect();
            z1.SendRaw(RespClient.Encode("BZPOPMIN", "z1", "10"));
            z2.SendRaw(RespClient.Encode("BZMPOP", "10", "1", "z2", "MAX", "COUNT", "3"));
            z3.SendRaw(RespClient.Encode("BZPOPMAX", "z3", "10"));
            while (!((string)c.Call("INFO", "clients")!).Contains("blocked_clients:3") && DateTime.UtcNow < deadline) Thread.Sleep(10);
            foreach (var (key, client) in new[] { ("z1", z1), ("z2", z2), ("z3", z3) })
            {
                c.Call("ZADD", key, "1", "a", "2", "b");
                Assert.IsType<object?[]>(client.Read());
            }
        }
        return Normalize(ReadIncr(dir, server));
    }

    private static void Run(DirServer server)
    {
        using var c = server.Connect();
        AofLoadTests.WaitLoaded(c);
        foreach (var line in Script)
        {
            var args = line.Split(' ');
            if (args[0] == "SLEEP")
            {
                Thread.Sleep(int.Parse(args[1]));
                continue;
            }
            if (args[0] == "DUMPRESTORE")
            {
                // DUMPRESTORE dst src ttl [options]: RESTORE of src's DUMP payload.
                var payload = System.Text.Encoding.Latin1.GetBytes((string)c.Call("DUMP", args[2])!);
                var restore = new List<object> { "RESTORE", args[1], args[3], payload };
                restore.AddRange(args.Skip(4));
                c.Call(restore.ToArray());
                continue;
            }
            c.Call(args.Cast<object>().ToArray());
        }
    }

    internal static List<string[]> ReadIncr(string dir, DirServer server)
    {
        using (var c = server.Connect()) AofHarness.Shutdown(c, server.Process);
        return AofHarness.ParseCommands(File.ReadAllBytes(Path.Combine(dir, "appendonlydir", "appendonly.aof.1.incr.aof")));
    }

    /// <summary>Absolute millisecond times become "&lt;ms&gt;"; the random members SPOP removed from "rs" become "&lt;m&gt;".</summary>
    internal static List<string> Normalize(List<string[]> cmds)
        => cmds.Select(a =>
        {
            if (a.Length == 3 && a[0] == "SREM" && a[1] == "rs" && a[2] != "nothere") a = [a[0], a[1], "<m>"];
            // A generated stream ID's sequence depends on how many entries shared its millisecond.
            var line = Regex.Replace(string.Join(" ", a), @"\b1[6-9]\d{11}-\d+\b", "<ms>-<seq>");
            return Regex.Replace(line, @"\b1[6-9]\d{11}\b", "<ms>");
        }).ToList();
}
