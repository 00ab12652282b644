namespace Redoubt.Server;

/// <summary>Counters behind INFO stats/errorstats; updated under the server lock.</summary>
public sealed class ServerStats
{
    public long TotalConnectionsReceived, TotalCommandsProcessed, RejectedConnections;
    public long NetInputBytes, NetOutputBytes;
    public long ExpiredKeys, EvictedKeys, KeyspaceHits, KeyspaceMisses;
    public long TotalErrorReplies, UnexpectedErrorReplies;
    /// <summary>
    /// TotalErrorReplies when the last command call started or ended: a call failed when errors grew past
    /// it. Nested calls (EXEC's queue, scripts) move it, so an error is charged to the inner command only.
    /// </summary>
    internal long ErrorRepliesMark;
    public long ExpiredStalePercentage, ExpireCycleCpuMilliseconds;
    public long ClientQueryBufferLimitDisconnections, ClientOutputBufferLimitDisconnections;
    public long TotalReadsProcessed, TotalWritesProcessed;
    public long AclAccessDeniedAuth, AclAccessDeniedCmd, AclAccessDeniedKey, AclAccessDeniedChannel;
    public long Dirty; // changes since the last save
    // Counters owned by replication, persistence, eviction and I/O (INFO stats prints every one).
    public long NetReplInputBytes, NetReplOutputBytes;
    public long SyncFull, SyncPartialOk, SyncPartialErr;
    public long ExpiredTimeCapReachedCount, EvictedClients;
    public long LatestForkUsec, TotalForks, DumpPayloadSanitizations;
    public long ReplyBufferShrinks, ReplyBufferExpands;
    // Gauges that the subsystems owning them keep current (pub/sub, client tracking).
    public long TrackingTotalKeys, TrackingTotalItems, TrackingTotalPrefixes;

    /// <summary>Raised by <see cref="Reset"/> (CONFIG RESETSTAT) so command and latency statistics are cleared with it.</summary>
    public event Action? AfterReset;

    /// <summary>Error replies by prefix ("ERR", "WRONGTYPE"...) for INFO errorstats.</summary>
    public readonly Dictionary<string, long> ErrorCounts = new(StringComparer.Ordinal);

    // Instantaneous metrics: samples taken by the cron every 100 ms, averaged over 16 samples like Redis.
    private readonly long[] _opsSamples = new long[16], _inSamples = new long[16], _outSamples = new long[16];
    private int _sampleIdx;
    private long _lastOps, _lastIn, _lastOut, _lastSampleMs;

    public void CountError(string text)
    {
        TotalErrorReplies++;
        int space = text.IndexOf(' ');
        string prefix = space < 0 ? text : text[..space];
        // Redis stops tracking new error types after 128 distinct ones.
        if (ErrorCounts.TryGetValue(prefix, out long n)) ErrorCounts[prefix] = n + 1;
        else if (ErrorCounts.Count < 128) ErrorCounts[prefix] = 1;
    }

    public void Sample(long nowMs)
    {
        if (_lastSampleMs == 0) { _lastSampleMs = nowMs; _lastOps = TotalCommandsProcessed; _lastIn = NetInputBytes; _lastOut = NetOutputBytes; return; }
        long dt = nowMs - _lastSampleMs;
        if (dt < 100) return;
        _opsSamples[_sampleIdx] = (TotalCommandsProcessed - _lastOps) * 1000 / dt;
        _inSamples[_sampleIdx] = (NetInputBytes - _lastIn) * 1000 / dt;
        _outSamples[_sampleIdx] = (NetOutputBytes - _lastOut) * 1000 / dt;
        _sampleIdx = (_sampleIdx + 1) % 16;
        _lastSampleMs = nowMs;
        _lastOps = TotalCommandsProcessed;
        _lastIn = NetInputBytes;
        _lastOut = NetOutputBytes;
    }

    public long InstantaneousOps => (long)_opsSamples.Average();
    public double InstantaneousInputKbps => _inSamples.Average() / 1024.0;
    public double InstantaneousOutputKbps => _outSamples.Average() / 1024.0;

    public void Reset()
    {
        TotalConnectionsReceived = TotalCommandsProcessed = RejectedConnections = 0;
        NetInputBytes = NetOutputBytes = 0;
        ExpiredKeys = EvictedKeys = KeyspaceHits = KeyspaceMisses = 0;
        TotalErrorReplies = UnexpectedErrorReplies = 0;
        ClientQueryBufferLimitDisconnections = ClientOutputBufferLimitDisconnections = 0;
        AclAccessDeniedAuth = AclAccessDeniedCmd = AclAccessDeniedKey = AclAccessDeniedChannel = 0;
        ExpiredStalePercentage = ExpireCycleCpuMilliseconds = 0;
        TotalReadsProcessed = TotalWritesProcessed = 0;
        NetReplInputBytes = NetReplOutputBytes = 0;
        SyncFull = SyncPartialOk = SyncPartialErr = 0;
        ExpiredTimeCapReachedCount = EvictedClients = 0;
        LatestForkUsec = TotalForks = DumpPayloadSanitizations = 0;
        ReplyBufferShrinks = ReplyBufferExpands = 0;
        ErrorCounts.Clear();
        Array.Clear(_opsSamples);
        Array.Clear(_inSamples);
        Array.Clear(_outSamples);
        _lastSampleMs = 0;
        AfterReset?.Invoke();
    }
}
