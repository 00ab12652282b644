using System.Text;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// BGREWRITEAOF of streams: entries (some deleted), an emptied stream, a stream that never held an entry,
/// consumer groups with pending entries, consumers without any, and a group whose read counter is
/// unknown. The rewritten AOF reloads (by ours and by Redis 7.0.15) into identical XINFO STREAM FULL.
/// </summary>
public sealed class AofStreamRewriteTests
{
    private static readonly string[] Keys = ["s:main", "s:emptied", "s:never", "s:groups-only"];

    [Fact]
    public void RewrittenStreamsReloadIdentically()
    {
        string dir = AofHarness.NewDataDir();
        try
        {
            string before, rewritten;
            using (var server = DirServer.Ours(dir, "--appendonly", "yes", "--aof-use-rdb-preamble", "no"))
            using (var c = server.Connect())
            {
                AofLoadTests.WaitLoaded(c);
                Populate(c);
                before = Describe(c);
                Assert.Contains("alice", before);
                Assert.Contains("max-deleted-entry-id 15-0", before);
                Assert.Equal("Background append only file rewriting started", c.Call("BGREWRITEAOF"));
                AofLoadTests.WaitRewriteDone(c);
                AofHarness.Shutdown(c, server.Process);
            }
            var baseFile = Directory.GetFiles(Path.Combine(dir, "appendonlydir"), "*.base.aof").Single();
            rewritten = File.ReadAllText(baseFile, Encoding.Latin1);
            // The rewrite spelled the stream out as commands, not through the replayed incr history.
            Assert.Contains("XSETID", rewritten);
            Assert.Contains("CREATECONSUMER", rewritten);
            Assert.Contains("RETRYCOUNT", rewritten);
            Assert.Contains("MAXLEN", rewritten);

            using (var server = DirServer.Ours(dir, "--appendonly", "yes"))
            using (var c = server.Connect())
            {
                AofLoadTests.WaitLoaded(c);
                Assert.Equal(before, Describe(c));
                AofHarness.Shutdown(c, server.Process);
            }
            using (var real = DirServer.Real(dir, "--appendonly", "yes"))
            using (var c = real.Connect())
            {
                AofLoadTests.WaitLoaded(c);
                Assert.Equal(before, Describe(c));
                AofHarness.Shutdown(c, real.Process);
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    private static void Populate(RespClient c)
    {
        // More entries than one node holds, several field layouts, deletions in the middle and at the end.
        for (int i = 1; i <= 250; i++)
        {
            object[] args = i % 3 == 0
                ? ["XADD", "s:main", $"{1000 + i}-{i % 4}", "f", "v" + i, "extra", "x"]
                : ["XADD", "s:main", $"{1000 + i}-{i % 4}", "f", "v" + i];
            Assert.IsType<string>(c.Call(args));
        }
        c.Call("XDEL", "s:main", "1005-1", "1006-2", "1120-0", "1250-2");
        c.Call("XGROUP", "CREATE", "s:main", "readers", "0");
        c.Call("XGROUP", "CREATE", "s:main", "late", "$");
        c.Call("XGROUP", "CREATE", "s:main", "unknown", "1100-0", "ENTRIESREAD", "-1");
        c.Call("XREADGROUP", "GROUP", "readers", "alice", "COUNT", "3", "STREAMS", "s:main", ">");
        c.Call("XREADGROUP", "GROUP", "readers", "bob", "COUNT", "2", "STREAMS", "s:main", ">");
        c.Call("XREADGROUP", "GROUP", "readers", "carol", "NOACK", "COUNT", "4", "STREAMS", "s:main", ">");
        c.Call("XACK", "s:main", "readers", "1001-1");
        c.Call("XCLAIM", "s:main", "readers", "bob", "0", "1002-2", "RETRYCOUNT", "7", "TIME", "1700000000000");
        c.Call("XGROUP", "CREATECONSUMER", "s:main", "late", "idle");
        c.Call("XREADGROUP", "GROUP", "unknown", "dave", "COUNT", "1", "STREAMS", "s:main", ">");

        c.Call("XADD", "s:emptied", "5-1", "a", "1");
        c.Call("XADD", "s:emptied", "6-1", "a", "2");
        c.Call("XDEL", "s:emptied", "5-1", "6-1");
        c.Call("XGROUP", "CREATE", "s:emptied", "g", "$");

        c.Call("XGROUP", "CREATE", "s:never", "g", "$", "MKSTREAM");
        c.Call("XADD", "s:groups-only", "MAXLEN", "0", "9-9", "x", "y");
        c.Call("XSETID", "s:groups-only", "20-0", "ENTRIESADDED", "30", "MAXDELETEDID", "15-0");
    }

    /// <summary>
    /// XINFO STREAM FULL of every key, with consumers' seen-times left out (a reload resets them) and the
    /// radix tree's node count (a detail of Redis's tree that ours estimates).
    /// </summary>
    private static string Describe(RespClient c)
    {
        var sb = new StringBuilder();
        foreach (var key in Keys)
        {
            sb.Append(key).Append(": ").Append(c.Call("TYPE", key)).Append('\n');
            var full = c.Call("XINFO", "STREAM", key, "FULL");
            Assert.IsType<object?[]>(full);
            Append(sb, full);
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, object? reply)
    {
        if (reply is object?[] items)
        {
            sb.Append('[');
            for (int i = 0; i < items.Length; i++)
            {
                if (items[i] is "seen-time" or "radix-tree-nodes")
                {
                    sb.Append(items[i]).Append(" <n> ");
                    i++;
                    continue;
                }
                Append(sb, items[i]);
                sb.Append(' ');
            }
            sb.Append(']');
        }
        else sb.Append(reply is null ? "(nil)" : reply.ToString());
    }
}
