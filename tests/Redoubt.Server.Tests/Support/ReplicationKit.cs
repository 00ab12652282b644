namespace Redoubt.Server.Tests.Support;

/// <summary>What replication tests share: waiting, INFO fields, a write of every type, and data comparison.</summary>
public static class ReplicationKit
{
    public static void WaitFor(Func<bool> cond, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!cond())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            Thread.Sleep(30);
        }
    }

    public static string Info(RespClient c, string field, string section = "replication")
    {
        var text = (string)c.Call("INFO", section)!;
        foreach (var line in text.Split("\r\n"))
            if (line.StartsWith(field + ":")) return line[(field.Length + 1)..];
        return "";
    }

    public static bool LinkUp(RespClient c) => Info(c, "master_link_status") == "up";

    public static void WriteEveryType(RespClient m, string tag)
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
    public static string Dump(RespClient c)
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

    /// <summary>Waits until the replica holds exactly the master's data (all types, dbs 0 and 2).</summary>
    public static void AssertSameData(RespClient m, RespClient r)
    {
        string expected = Dump(m);
        Xunit.Assert.Contains("stream", expected);
        try { WaitFor(() => Dump(r) == expected, "replica data matches master"); }
        catch (TimeoutException) { Xunit.Assert.Equal(expected, Dump(r)); }
    }
}
