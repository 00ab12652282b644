using Redoubt.Server.Tests.Support;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// Replies written to a client by other clients are flushed through one reused work item per
/// connection: every message must still arrive, once and in order, however the flushes interleave.
/// </summary>
public class NetworkFlushTests
{
    [Fact]
    public void EveryPublishedMessageReachesEverySubscriberInOrder()
    {
        using var server = new ServerProcess();
        var subscribers = new List<RespClient>();
        try
        {
            for (int s = 0; s < 3; s++)
            {
                var sub = server.Connect();
                subscribers.Add(sub);
                var ack = (object?[])sub.Call("SUBSCRIBE", "ch")!;
                Assert.Equal("subscribe", ack[0]);
            }
            const int publishers = 4, perPublisher = 500;
            // Each publisher pipelines its messages, so flushes to the subscribers are requested while
            // earlier sends to them may still be running.
            var threads = Enumerable.Range(0, publishers).Select(p => new Thread(() =>
            {
                using var pub = server.Connect();
                var batch = new MemoryStream();
                for (int i = 0; i < perPublisher; i++) batch.Write(RespClient.Encode("PUBLISH", "ch", $"{p}:{i}"));
                pub.SendRaw(batch.ToArray());
                for (int i = 0; i < perPublisher; i++) Assert.Equal(3L, pub.Read());
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());

            foreach (var sub in subscribers)
            {
                var next = new int[publishers];
                for (int m = 0; m < publishers * perPublisher; m++)
                {
                    var msg = (object?[])sub.Read()!;
                    Assert.Equal("message", msg[0]);
                    var parts = ((string)msg[2]!).Split(':');
                    int p = int.Parse(parts[0]), i = int.Parse(parts[1]);
                    // Messages of one publisher keep their order; all of them arrive exactly once.
                    Assert.Equal(next[p], i);
                    next[p]++;
                }
                Assert.All(next, n => Assert.Equal(perPublisher, n));
                Assert.Equal("pong", ((object?[])sub.Call("PING")!)[0]);
            }
        }
        finally
        {
            foreach (var s in subscribers) s.Dispose();
        }
    }
}
