using System.Diagnostics;
using System.Text.RegularExpressions;
using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Client-side caching: the same scripted sessions against our server and a real redis-server 7.0,
/// comparing every reply and invalidation byte for byte (client IDs, which differ, are replaced by the
/// connection's number). Pushes are read where they must arrive; a PING after them shows nothing more came.
/// </summary>
public sealed class TrackingDifferentialTests : IClassFixture<ServerPair>
{
    private readonly ServerPair _pair;
    public TrackingDifferentialTests(ServerPair pair) => _pair = pair;

    private const int Connections = 9;

    [Fact]
    public void RedirectedAndResp3Invalidations() => Compare(
    [
        ["0", "call", "FLUSHALL"],
        ["2", "call", "SUBSCRIBE", "__redis__:invalidate"],
        ["1", "call", "CLIENT", "TRACKING", "on", "REDIRECT", "$2"],
        ["1", "call", "CLIENT", "GETREDIR"],
        ["1", "call", "CLIENT", "TRACKINGINFO"],
        ["1", "info"],
        ["0", "call", "MSET", "a", "1", "b", "2"],
        ["1", "call", "GET", "a"],
        ["1", "call", "MGET", "a", "b", "c"],
        ["0", "stats"],
        ["0", "call", "INCR", "b"],
        ["2", "read"],
        ["0", "call", "DEL", "a", "c"],
        ["2", "read"],
        ["0", "call", "SET", "a", "again"],
        ["2", "call", "PING"],
        ["0", "stats"],
        // RESP3: pushes on the same connection, after the reply of the command that caused them.
        ["3", "silent", "HELLO", "3"],
        ["3", "call", "CLIENT", "TRACKING", "on"],
        ["3", "info"],
        ["3", "call", "GET", "x"],
        ["3", "call", "SET", "x", "1"],
        ["3", "read"],
        ["3", "call", "HSET", "h", "f", "1"],
        ["3", "call", "HGET", "h", "f"],
        ["3", "call", "HDEL", "h", "f"],
        ["3", "read"],
        ["3", "call", "GET", "m"],
        ["3", "call", "MULTI"],
        ["3", "call", "SET", "m", "1"],
        ["3", "call", "GET", "m"],
        ["3", "call", "EXEC"],
        ["3", "read"],
        ["0", "call", "DEL", "m"],
        ["3", "read"],
        ["3", "call", "GET", "e"],
        ["0", "call", "SET", "e", "v", "PX", "1"],
        ["3", "read"],
        // Flushes tell every tracking client that everything is invalid.
        ["3", "call", "GET", "y"],
        ["0", "call", "FLUSHDB"],
        ["3", "read"], ["2", "read"],
        ["3", "call", "MULTI"],
        ["3", "call", "FLUSHALL"],
        ["3", "call", "EXEC"],
        ["3", "read"], ["2", "read"],
        ["0", "stats"],
        ["3", "call", "CLIENT", "TRACKING", "off"],
        ["1", "call", "CLIENT", "TRACKING", "off"],
        ["0", "stats"],
    ]);

    [Fact]
    public void BroadcastOptInOptOutAndNoLoop() => Compare(
    [
        ["0", "call", "FLUSHALL"],
        ["4", "silent", "HELLO", "3"],
        ["4", "call", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p:", "PREFIX", "q:"],
        ["4", "call", "CLIENT", "TRACKINGINFO"],
        ["4", "info"],
        ["0", "stats"],
        ["0", "call", "MSET", "p:2", "x", "q:1", "y", "r:1", "z", "p:1", "w", "p:2", "again"],
        ["4", "read"], ["4", "read"],
        ["4", "call", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p"],
        ["4", "call", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "s:", "PREFIX", "s:x"],
        ["4", "call", "CLIENT", "TRACKING", "on", "PREFIX", "z:"],
        ["4", "call", "CLIENT", "TRACKING", "on"],
        ["4", "call", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "t:"],
        ["4", "call", "CLIENT", "TRACKINGINFO"],
        ["4", "call", "CLIENT", "TRACKING", "off"],
        ["4", "call", "CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"],
        ["4", "call", "SET", "own", "1"],
        ["4", "call", "PING"],
        ["0", "call", "SET", "other", "1"],
        ["4", "read"],
        ["4", "call", "CLIENT", "TRACKING", "off"],
        ["5", "silent", "HELLO", "3"],
        ["5", "call", "CLIENT", "TRACKING", "on", "OPTIN"],
        ["5", "call", "GET", "o1"],
        ["5", "call", "CLIENT", "CACHING", "yes"],
        ["5", "call", "CLIENT", "TRACKINGINFO"],
        ["5", "call", "GET", "o2"],
        ["5", "call", "CLIENT", "TRACKINGINFO"],
        ["0", "call", "MSET", "o1", "1", "o2", "2"],
        ["5", "read"],
        ["5", "call", "PING"],
        ["6", "silent", "HELLO", "3"],
        ["6", "call", "CLIENT", "TRACKING", "on", "OPTOUT", "NOLOOP"],
        ["6", "call", "CLIENT", "CACHING", "no"],
        ["6", "call", "GET", "u1"],
        ["6", "call", "GET", "u2"],
        ["6", "call", "SET", "u2", "mine"],
        ["6", "call", "GET", "u2"],
        ["0", "call", "MSET", "u1", "1", "u2", "2"],
        ["6", "read"],
        ["6", "call", "PING"],
        ["6", "call", "CLIENT", "CACHING", "yes"],
        ["6", "call", "CLIENT", "TRACKING", "on", "OPTIN"],
        ["0", "call", "CLIENT", "CACHING", "yes"],
        ["0", "call", "CLIENT", "CACHING", "maybe"],
        ["0", "call", "CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"],
        ["0", "call", "CLIENT", "TRACKING", "on", "BCAST", "OPTIN"],
        ["0", "call", "CLIENT", "TRACKING", "on", "REDIRECT", "999999"],
        ["0", "call", "CLIENT", "TRACKING", "on", "REDIRECT", "x"],
        ["0", "call", "CLIENT", "TRACKING", "on", "REDIRECT", "$1", "REDIRECT", "$1"],
        ["0", "call", "CLIENT", "TRACKING", "maybe"],
        ["0", "call", "CLIENT", "TRACKING", "on", "foo"],
        ["0", "call", "CLIENT", "TRACKING", "on", "PREFIX"],
        ["0", "call", "CLIENT", "TRACKING"],
        ["0", "stats"],
        ["5", "call", "CLIENT", "TRACKING", "off"],
        ["6", "call", "CLIENT", "TRACKING", "off"],
    ]);

    [Fact]
    public void BrokenRedirectAndTableLimit() => Compare(
    [
        ["0", "call", "FLUSHALL"],
        ["7", "silent", "HELLO", "3"],
        ["7", "call", "CLIENT", "TRACKING", "on", "REDIRECT", "$8"],
        ["7", "call", "GET", "k"],
        ["8", "close"],
        ["0", "call", "SET", "k", "1"],
        ["7", "read"],
        ["7", "call", "PING"],
        ["7", "call", "CLIENT", "TRACKINGINFO"],
        ["7", "info"],
        ["7", "call", "CLIENT", "TRACKING", "off"],
        ["7", "info"],
        // A RESP2 client redirecting to a RESP3 one: its flush null is RESP2's.
        ["1", "call", "CLIENT", "TRACKING", "on", "REDIRECT", "$7"],
        ["1", "call", "GET", "k"],
        ["0", "call", "SET", "k", "2"],
        ["7", "read"],
        ["0", "call", "FLUSHALL"],
        ["7", "read"],
        ["1", "call", "CLIENT", "TRACKING", "off"],
        ["0", "stats"],
    ]);

    [Fact]
    public void TableLimitForgetsRandomKeysWithAnInvalidation()
    {
        using var w = new RawRespConnection(_pair.Ours.Port);
        using var t = new RawRespConnection(_pair.Ours.Port);
        w.Call(["FLUSHALL"]);
        t.Call(["HELLO", "3"]);
        t.Call(["CLIENT", "TRACKING", "on"]);
        for (int i = 0; i < 250; i++) Assert.Equal("_", t.Call(["GET", "lim" + i]));
        Assert.Contains("tracking_total_keys:250", w.Call(["INFO", "stats"]));
        w.Call(["CONFIG", "SET", "tracking-table-max-keys", "1"]);
        // The cron forgets keys, trying harder each round, until one is left: 249 invalidations.
        var forgotten = new HashSet<string>();
        for (int i = 0; i < 249; i++)
        {
            var push = t.ReadReply();
            Assert.Matches(@"^>\[\$invalidate,\*\[\$lim\d+\]\]$", push);
            Assert.True(forgotten.Add(push), "each key is forgotten once");
        }
        Assert.Equal("+PONG", t.Call(["PING"]));
        Assert.Contains("tracking_total_keys:1\r\n", w.Call(["INFO", "stats"]));
        w.Call(["CONFIG", "SET", "tracking-table-max-keys", "1000000"]);
        t.Call(["CLIENT", "TRACKING", "off"]);
        w.Call(["FLUSHALL"]);
    }

    private void Compare(string[][] script)
    {
        var ours = Run(_pair.Ours.Port, script);
        var real = Run(_pair.Real.Port, script);
        // The script itself must be right: every awaited reply comes from real Redis.
        Assert.DoesNotContain(real, line => line.EndsWith("no reply"));
        for (int i = 0; i < Math.Min(real.Count, ours.Count); i++) Assert.Equal(real[i], ours[i]);
        Assert.Equal(real.Count, ours.Count);
    }

    private static List<string> Run(int port, string[][] script)
    {
        var conns = new RawRespConnection?[Connections];
        var ids = new string[Connections];
        for (int i = 0; i < Connections; i++)
        {
            conns[i] = new RawRespConnection(port);
            ids[i] = conns[i]!.Call(["CLIENT", "ID"])[1..];
        }
        // Only replies that carry client IDs are rewritten: others may hold the same digits by chance.
        string Normalize(string text)
        {
            for (int i = 0; i < Connections; i++)
                text = Regex.Replace(text, $@"(?<![0-9]){ids[i]}(?![0-9])", "#" + i);
            return text;
        }
        var transcript = new List<string>();
        try
        {
            foreach (var step in script)
            {
                int n = int.Parse(step[0]);
                var conn = conns[n]!;
                var args = step.Skip(2).Select(a => a.StartsWith('$') ? ids[int.Parse(a[1..])] : a).ToArray();
                string line = string.Join(' ', step) + " -> ";
                switch (step[1])
                {
                    case "call":
                        var reply = conn.Call(args);
                        transcript.Add(line + (step.Contains("GETREDIR") || reply.Contains("redir") ? Normalize(reply) : reply));
                        break;
                    case "silent":
                        conn.Call(args);
                        break;
                    case "read":
                        try
                        {
                            var push = conn.ReadReply();
                            transcript.Add(line + (push.Contains("redir") ? Normalize(push) : push));
                        }
                        catch (IOException)
                        {
                            transcript.Add(line + "no reply");
                            return transcript;
                        }
                        break;
                    case "close":
                        conn.Dispose();
                        conns[n] = null;
                        WaitGone(conns[0]!, ids[n]);
                        break;
                    case "info":
                        // Only the client's tracking flags and redirect from CLIENT INFO.
                        var info = conn.Call(["CLIENT", "INFO"]);
                        transcript.Add(line + Regex.Match(info, @"flags=\S*").Value + " " + Normalize(Regex.Match(info, @"redir=\S*").Value));
                        break;
                    case "stats":
                        var all = conn.Call(["INFO"]);
                        transcript.Add(line + string.Join(",", Regex.Matches(all, @"tracking_[a-z_]+:\d+").Select(m => m.Value)));
                        break;
                }
            }
        }
        finally
        {
            foreach (var c in conns) c?.Dispose();
        }
        return transcript;
    }

    private static void WaitGone(RawRespConnection c, string id)
    {
        var sw = Stopwatch.StartNew();
        while (c.Call(["CLIENT", "LIST", "ID", id]).Contains("id="))
        {
            if (sw.ElapsedMilliseconds > 5000) throw new TimeoutException($"client {id} still connected");
            Thread.Sleep(2);
        }
    }
}
