using Redoubt.Server.Config;

namespace Redoubt.Server;

/// <summary>What a client's memory was last counted as in the server's totals (see RedisServer.Memory.cs).</summary>
public sealed partial class Client
{
    internal long MemoryCounted;
    internal ClientType MemoryCountedType;
    /// <summary>Set once the client is unlinked: it is no longer part of the totals.</summary>
    internal bool MemoryUncounted;

    // The queued MULTI commands already summed, so queuing N commands costs O(N) in all, not O(N^2).
    private List<(Commands.Command Cmd, byte[][] Argv)>? _multiCountedQueue;
    private int _multiCountedEntries;
    private long _multiCountedBytes;

    /// <summary>Bytes of the commands queued by MULTI: their arguments and the arrays holding them.</summary>
    public long MultiQueueBytes()
    {
        var queue = MultiQueue;
        if (queue is null || queue.Count == 0)
        {
            // EXEC and DISCARD empty the queue (each runs as a command, which counts again after it).
            _multiCountedQueue = null;
            _multiCountedEntries = 0;
            _multiCountedBytes = 0;
            return 0;
        }
        if (!ReferenceEquals(queue, _multiCountedQueue) || queue.Count < _multiCountedEntries)
        {
            _multiCountedQueue = queue;
            _multiCountedEntries = 0;
            _multiCountedBytes = 0;
        }
        for (int i = _multiCountedEntries; i < queue.Count; i++)
        {
            var argv = queue[i].Argv;
            long bytes = 24 + argv.Length * 8L;
            foreach (var a in argv) bytes += 24 + ((a.Length + 7) & ~7L);
            _multiCountedBytes += bytes;
        }
        _multiCountedEntries = queue.Count;
        return _multiCountedBytes;
    }
}
