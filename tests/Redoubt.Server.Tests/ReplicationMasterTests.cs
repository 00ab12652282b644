using System.Diagnostics;
using System.Net.Sockets;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>A real redis-server 7.0.15 replicating from our server.</summary>
[Collection("Serial")]
public sealed class ReplicationMasterTests
{
    /// <summary>A real redis-server started as a replica of our server, with its log in a file.</summary>
    private sealed class RealReplica : IDisposable
    {
        public int Port { get; } = ServerProcess.FreePort();
        public string Dir { get; } = Directory.CreateTempSubdirectory("redoubt-replica-").FullName;
        private readonly Process _process;
        public string LogPath => Path.Combine(Dir, "replica.log");

        public RealReplica(int masterPort)
        {
            var psi = new ProcessStartInfo("redis-server") { WorkingDirectory = Dir, UseShellExecute = false };
            foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--enable-debug-command", "yes",
                "--replicaof", "127.0.0.1", masterPort.ToString(), "--logfile", LogPath })
                psi.ArgumentList.Add(a);
            _process = Process.Start(psi)!;
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (true)
            {
                try { using var probe = new TcpClient("127.0.0.1", Port); break; }
                catch (SocketException) when (DateTime.UtcNow < deadline) { Thread.Sleep(50); }
            }
        }

        public string Log => File.Exists(LogPath) ? File.ReadAllText(LogPath) : "";

        public void Dispose()
        {
            try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(5000); } } catch { }
            try { Directory.Delete(Dir, recursive: true); } catch { }
        }
    }

    private static void WaitFor(Func<bool> cond, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!cond())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            Thread.Sleep(50);
        }
    }

    private static string Info(RespClient c, string field)
    {
        var text = (string)c.Call("INFO", "replication")!;
        foreach (var line in text.Split("\r\n"))
            if (line.StartsWith(field + ":")) return line[(field.Length + 1)..];
        return "";
    }

    private static void WriteEveryType(RespClient m, string tag)
    {
        m.Call("SET", $"s{tag}", "v");
        m.Call("SET", $"n{tag}", "12345");
        m.Call("RPUSH", $"l{tag}", "a", "b", "c");
        m.Call("SADD", $"st{tag}", "x", "y", "1");
        m.Call("ZADD", $"z{tag}", "1", "a", "2.5", "b");
        m.Call("HSET", $"h{tag}", "f", "v", "g", "w");
        m.Call("XADD", $"x{tag}", "1-1", "f", "v");
        m.Call("PFADD", $"hl{tag}", "a", "b");
        m.Call("SET", $"e{tag}", "v", "EX", "1000");
        m.Call("SELECT", "2");
        m.Call("SET", $"db2{tag}", "v");
        m.Call("INCR", $"n{tag}");
        m.Call("SELECT", "0");
        m.Call("LPOP", $"l{tag}");
        m.Call("EXPIRE", $"s{tag}", "5000");
    }

    /// <summary>Every key of databases 0 and 2, with its type, value and whether it has a TTL.</summary>
    private static string Dump(RespClient c)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var db in new[] { "0", "2" })
        {
            c.Call("SELECT", db);
            var keys = ((object?[])c.Call("KEYS", "*")!).Select(k => (string)k!).OrderBy(k => k, StringComparer.Ordinal);
            foreach (var k in keys)
            {
                var type = (string)c.Call("TYPE", k)!;
                object? value = type switch
                {
                    "string" => c.Call("GET", k),
                    "list" => c.Call("LRANGE", k, "0", "-1"),
                    "set" => ((object?[])c.Call("SMEMBERS", k)!).Select(x => (string)x!).Order(StringComparer.Ordinal).ToArray<object?>(),
                    "zset" => c.Call("ZRANGE", k, "0", "-1", "WITHSCORES"),
                    "hash" => c.Call("HGETALL", k),
                    "stream" => c.Call("XRANGE", k, "-", "+"),
                    _ => null,
                };
                bool ttl = (long)c.Call("TTL", k)! > 0;
                sb.Append(db).Append('/').Append(k).Append(' ').Append(type).Append(' ').Append(Flatten(value)).Append(ttl ? " ttl" : "").Append('\n');
            }
        }
        c.Call("SELECT", "0");
        return sb.ToString();
    }

    private static string Flatten(object? v) => v switch
    {
        object?[] a => "[" + string.Join(",", a.Select(Flatten)) + "]",
        null => "nil",
        _ => v.ToString()!,
    };

    private static void AssertSameData(RespClient m, RespClient r)
    {
        string expected = Dump(m);
        Assert.Contains("stream", expected);
        try { WaitFor(() => Dump(r) == expected, "replica data matches master"); }
        catch (TimeoutException) { Assert.Equal(expected, Dump(r)); }
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("no")]
    public void RealReplicaFullResyncThenStreamThenPartialResync(string diskless)
    {
        using var server = new ServerProcess((string?)null, "--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes");
        using var m = new RespClient(server.Port);
        WriteEveryType(m, "before");
        using var replica = new RealReplica(server.Port);
        using var r = new RespClient(replica.Port);
        WaitFor(() => Info(r, "master_link_status") == "up", "replica link up");
        WaitFor(() => server.Output.Contains("Full resync requested by replica"), "full resync in our log");
        Assert.Contains(diskless == "yes" ? "Starting BGSAVE for SYNC with target: replicas sockets" : "Starting BGSAVE for SYNC with target: disk", server.Output);
        Assert.Contains("Full resync requested by replica", server.Output);
        WriteEveryType(m, "after");
        AssertSameData(m, r);
        Assert.Equal("1", Info(m, "connected_slaves"));
        Assert.Contains("state=online", (string)m.Call("INFO", "replication")!);
        Assert.Equal(1L, m.Call("WAIT", "1", "2000"));
        var role = (object?[])m.Call("ROLE")!;
        Assert.Equal("master", role[0]);
        var listed = (object?[])((object?[])role[2]!)[0]!;
        Assert.Equal(replica.Port.ToString(), listed[1]);

        // Cut the link: the replica comes back asking for the missing bytes only.
        m.Call("CLIENT", "KILL", "TYPE", "replica");
        m.Call("SET", "during", "cut");
        WaitFor(() => replica.Log.Contains("Successful partial resynchronization"), "partial resync in replica log");
        WaitFor(() => Equals(r.Call("GET", "during"), "cut"), "write after cut replicated");
        Assert.Contains("sync_partial_ok:1", (string)m.Call("INFO", "stats")!);
        // Our log reaches the test through a pipe, possibly after the replica's own log says it is done.
        WaitFor(() => server.Output.Contains("Partial resynchronization request from"), "partial resync in our log");
        AssertSameData(m, r);
    }

    [Fact]
    public void MinReplicasToWriteAndWait()
    {
        using var server = new ServerProcess((string?)null, "--repl-diskless-sync-delay", "0");
        using var m = new RespClient(server.Port);
        // No replica yet: WAIT times out with 0, and min-replicas refuses writes.
        Assert.Equal(0L, m.Call("WAIT", "1", "100"));
        m.Call("CONFIG", "SET", "min-replicas-to-write", "1");
        var err = Assert.IsType<RespError>(m.Call("SET", "k", "v"));
        Assert.Equal("NOREPLICAS Not enough good replicas to write.", err.Message);
        Assert.Equal("OK", m.Call("CONFIG", "SET", "min-replicas-to-write", "0"));
        using var replica = new RealReplica(server.Port);
        using var r = new RespClient(replica.Port);
        WaitFor(() => Info(r, "master_link_status") == "up", "replica link up");
        m.Call("CONFIG", "SET", "min-replicas-to-write", "1");
        WaitFor(() => Equals(m.Call("SET", "k", "v"), "OK"), "write accepted with one good replica");
        Assert.Equal(1L, m.Call("WAIT", "1", "0"));
        Assert.Equal(1L, m.Call("WAIT", "2", "200"));
        WaitFor(() => Equals(r.Call("GET", "k"), "v"), "replicated");
        m.Call("PUBLISH", "ch", "msg");
        WaitFor(() => Info(r, "master_repl_offset") == Info(m, "master_repl_offset"), "PUBLISH reached the replica's offset");
    }

    [Fact]
    public void ReplconfErrorsAndReplies()
    {
        using var server = new ServerProcess((string?)null, "--repl-diskless-sync", "no");
        using var c = new RespClient(server.Port);
        Assert.Equal("OK", c.Call("REPLCONF", "listening-port", "6380", "capa", "eof", "capa", "psync2"));
        Assert.Equal("OK", c.Call("REPLCONF", "ip-address", "10.0.0.1"));
        Assert.Equal("OK", c.Call("REPLCONF", "rdb-only", "0"));
        Assert.Equal("ERR Unrecognized REPLCONF option: foo", Assert.IsType<RespError>(c.Call("REPLCONF", "foo", "bar")).Message);
        Assert.Equal("ERR syntax error", Assert.IsType<RespError>(c.Call("REPLCONF", "foo")).Message);
        Assert.Equal("ERR value is not an integer or out of range", Assert.IsType<RespError>(c.Call("PSYNC", "?", "x")).Message);
        // ACK from a non-replica is silently ignored: the next reply is PING's.
        c.SendRaw(RespClient.Encode("REPLCONF", "ACK", "10"));
        Assert.Equal("PONG", c.Call("PING"));
        // A PSYNC gets +FULLRESYNC with a 40-char replid and then the RDB.
        var full = (string)c.Call("PSYNC", "?", "-1")!;
        Assert.Matches("^FULLRESYNC [0-9a-f]{40} 0$", full);
        using var admin = new RespClient(server.Port);
        Assert.Equal("1", Info(admin, "repl_backlog_active"));
        Assert.Equal(full.Split(' ')[1], Info(admin, "master_replid"));
        // Without replicas for repl-backlog-ttl seconds the backlog goes, with a new history id.
        admin.Call("CONFIG", "SET", "repl-backlog-ttl", "1");
        c.Dispose();
        WaitFor(() => Info(admin, "repl_backlog_active") == "0", "backlog freed after the ttl", 10);
        Assert.NotEqual(full.Split(' ')[1], Info(admin, "master_replid"));
    }
}
