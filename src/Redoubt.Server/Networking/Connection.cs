using System.Net;
using System.Net.Sockets;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Networking;

/// <summary>
/// The socket side of one client: one receive loop that parses and executes every complete command in
/// what it has read (under the server lock), then sends all replies of that batch in one write.
/// Replies produced for this client by others (pub/sub, MONITOR, unblocking) are flushed by
/// <see cref="RequestFlush"/>, which starts a send only when none is in progress.
/// </summary>
public sealed partial class Connection
{
    private readonly Socket _socket;
    private readonly RedisServer _server;
    public readonly Client Client;
    // The empty buffer handed to the reply writer at the next swap; null while a send holds it.
    private byte[]? _spare = new byte[16 * 1024];
    private bool _sending;     // guarded by the server lock
    private FlushWorkItem? _flush;
    private int _closed;
    // Bytes handed to the current send and not yet taken by the socket.
    private long _inFlight;
    // Size of the buffer a send holds (0 when none runs); with the spare, what output costs in memory.
    private int _sendBufferLength;
    // Sends are issued in slices of this size so that what is still in flight is known as they go.
    private const int SendSlice = 128 * 1024;
    private const int SpareBufferLimit = 16 * 1024;
    private const int InitialQueryBuffer = 16 * 1024;
    private const int ResizeThreshold = 32 * 1024;
    // A receive that starts with nothing pending reads into this small buffer rather than the query
    // buffer, so an idle client's query buffer is held by nothing and can be given back (see
    // ReleaseIdleQueryBuffer); what arrives is then copied into it. Guarded by the server lock.
    private readonly byte[] _wake = new byte[WakeBufferSize];
    private bool _receivingIntoWake = true;
    private const int WakeBufferSize = 1024;

    public Connection(Socket socket, RedisServer server, Client client)
    {
        _socket = socket;
        _server = server;
        Client = client;
        client.Connection = this;
        try { Fd = (long)socket.Handle; } catch (ObjectDisposedException) { Fd = -1; }
        // Non-blocking, so the read that follows a full wake buffer returns at once when nothing more came.
        try { socket.Blocking = false; } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>The socket's file descriptor (CLIENT LIST fd=).</summary>
    public long Fd { get; }

    /// <summary>Output handed to a send and not yet taken by the socket.</summary>
    public long InFlightBytes => Volatile.Read(ref _inFlight);

    /// <summary>Bytes of the send buffers besides the reply buffer: the one being sent, or the spare kept for the next send.</summary>
    public long SendBufferBytes => (_spare?.Length ?? 0) + _sendBufferLength;

    /// <summary>All output not yet taken by the socket: the reply buffer plus what is in flight. Output buffer limits apply to this.</summary>
    public long PendingOutputBytes => Client.Reply.Length + Volatile.Read(ref _inFlight);

    public async Task RunAsync()
    {
        var c = Client;
        // Set when a send already running will close the connection once it has drained.
        bool handedOff = false;
        try
        {
            while (true)
            {
                int n;
                try
                {
                    var target = _receivingIntoWake ? _wake.AsMemory() : c.QueryBuf.AsMemory(c.QueryEnd);
                    n = await _socket.ReceiveAsync(target, SocketFlags.None).ConfigureAwait(false);
                }
                catch (SocketException) { break; }
                catch (ObjectDisposedException) { break; }
                if (n == 0) break;
                SocketThreadId = Environment.CurrentManagedThreadId;

                byte[]? toSend = null;
                int sendLength = 0;
                bool closeAsap, closeAfterReply;
                lock (_server.Sync)
                {
                    if (_receivingIntoWake) n = TakeWakeBytes(n);
                    c.QueryEnd += n;
                    _server.Stats.NetInputBytes += n;
                    _server.Stats.TotalReadsProcessed++;
                    c.LastInteractionMs = _server.NowMs;
                    c.ProcessInputBuffer();
                    // Clients released from CLIENT PAUSE or from blocking by this batch run now, before new
                    // input from anyone (Redis's beforeSleep).
                    _server.ResumeReleasedClients();
                    _server.ProcessUnblockedClients();
                    _server.BroadcastTrackingInvalidations();
                    closeAsap = (c.Flags & ClientFlags.CloseAsap) != 0;
                    closeAfterReply = (c.Flags & ClientFlags.CloseAfterReply) != 0;
                    if (!closeAsap && !_sending && c.Reply.Length > 0)
                    {
                        _sending = true;
                        toSend = TakeReplies(out sendLength);
                    }
                    else if (closeAfterReply && !closeAsap && _sending) handedOff = true;
                    // Buffer offsets move only here, between receives: no receive is pending into it now.
                    EnsureReceiveSpace();
                    // Count the buffers as they now are; maxmemory-clients may evict this client or others.
                    _server.AfterClientIo(c);
                    closeAsap |= (c.Flags & ClientFlags.CloseAsap) != 0;
                    _receivingIntoWake = c.QueryStart == c.QueryEnd;
                }
                if (handedOff) return;
                // Closed ASAP (output or query buffer limit, SHUTDOWN): what is pending is dropped.
                if (closeAsap) break;
                if (toSend != null)
                {
                    // The close must follow the reply. Otherwise reading goes on while the send is
                    // pending, as Redis keeps reading a client that does not read its replies: they
                    // pile up in the reply buffer, where output buffer limits and client eviction see
                    // them, and the send loop takes them when the socket drains.
                    if (closeAfterReply) await SendLoopAsync(toSend, sendLength).ConfigureAwait(false);
                    else _ = SendLoopAsync(toSend, sendLength);
                }
                if (closeAfterReply || IsClosed) break;
            }
        }
        finally
        {
            if (!handedOff) Close();
        }
    }

    /// <summary>
    /// Serves a connection whose first bytes were read before it became a client (the master link, after
    /// its handshake): they are applied first, then the receive loop takes over.
    /// </summary>
    public Task RunWithReadBytesAsync(byte[] alreadyRead)
    {
        var c = Client;
        lock (_server.Sync)
        {
            if (alreadyRead.Length > 0 && !IsClosed)
            {
                if (c.QueryBuf.Length < alreadyRead.Length + 4096) c.QueryBuf = new byte[Math.Max(InitialQueryBuffer, alreadyRead.Length + 4096)];
                Buffer.BlockCopy(alreadyRead, 0, c.QueryBuf, 0, alreadyRead.Length);
                c.QueryStart = 0;
                c.QueryEnd = alreadyRead.Length;
                _server.Stats.NetInputBytes += alreadyRead.Length;
                c.ProcessInputBuffer();
                _server.ProcessUnblockedClients();
                EnsureReceiveSpace();
                RequestFlush();
            }
            _receivingIntoWake = c.QueryStart == c.QueryEnd;
        }
        return RunAsync();
    }

    /// <summary>
    /// Moves what a receive put in the wake buffer to the start of the (empty) query buffer, allocating
    /// one if it was given back, and when the wake buffer came back full reads what else is waiting
    /// straight into the query buffer, as a single receive into it would have. Returns the bytes added.
    /// </summary>
    private int TakeWakeBytes(int n)
    {
        var c = Client;
        if (c.QueryBuf.Length == 0) c.QueryBuf = new byte[InitialQueryBuffer];
        c.QueryStart = c.QueryEnd = 0;
        Buffer.BlockCopy(_wake, 0, c.QueryBuf, 0, n);
        if (n < _wake.Length) return n;
        int more;
        try { more = _socket.Receive(c.QueryBuf.AsSpan(n), SocketFlags.None, out var error); if (error != SocketError.Success) more = 0; }
        catch (ObjectDisposedException) { more = 0; }
        return n + more;
    }

    /// <summary>
    /// Gives back an idle client's query buffer when it holds nothing (called by the cron under the
    /// lock, as Redis frees the room of a client idle for over 2 seconds). Possible only while the
    /// pending receive reads into the wake buffer, which is the case whenever nothing is pending.
    /// </summary>
    public void ReleaseIdleQueryBuffer()
    {
        var c = Client;
        if (!_receivingIntoWake || c.QueryStart != c.QueryEnd || c.QueryBuf.Length == 0) return;
        c.QueryBuf = Array.Empty<byte>();
        c.QueryStart = c.QueryEnd = 0;
    }

    /// <summary>
    /// The thread receives complete on. With inline completions (set by the executable) it is the one
    /// socket-engine thread: a script running on it is the only reader of every socket while it runs.
    /// </summary>
    internal static volatile int SocketThreadId = -1;

    /// <summary>Whether receives complete inline on the socket-engine thread (see Program.cs).</summary>
    internal static readonly bool InlineCompletions =
        Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") == "1";

    private const int MsgPeek = 0x2, MsgDontWait = 0x40, MsgNoSignal = 0x4000;

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint recv(int fd, byte* buf, nint len, int flags);

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint send(int fd, byte* buf, nint len, int flags);

    /// <summary>
    /// While a script runs past its time limit on this thread (which is also the only thread that
    /// completes receives), the script's hook reads this client's waiting commands itself: it peeks at
    /// the socket, executes every complete command (the gate answers -BUSY to all but the allow-busy
    /// ones), then takes exactly those bytes off the socket; a partial command stays there for the
    /// normal receive. Only a client with nothing pending qualifies, whose receive reads into the wake
    /// buffer: its query buffer is free and no byte it already holds can be mistaken for a command
    /// start.
    /// </summary>
    public unsafe void ServeWhileScriptBusy()
    {
        var c = Client;
        if (IsClosed || !_receivingIntoWake || c.QueryStart != c.QueryEnd) return;
        const ClientFlags skip = ClientFlags.Blocked | ClientFlags.Paused | ClientFlags.CloseAfterReply |
                                 ClientFlags.CloseAsap | ClientFlags.Master | ClientFlags.Replica;
        if ((c.Flags & skip) != 0) return;
        int fd;
        try { fd = (int)_socket.SafeHandle.DangerousGetHandle(); }
        catch (ObjectDisposedException) { return; }
        if (c.QueryBuf.Length < InitialQueryBuffer) c.QueryBuf = new byte[InitialQueryBuffer];
        nint n;
        fixed (byte* p = c.QueryBuf) n = recv(fd, p, c.QueryBuf.Length, MsgPeek | MsgDontWait);
        if (n <= 0) return;
        c.QueryStart = 0;
        c.QueryEnd = (int)n;
        c.ProcessInputBuffer();
        int consumed = c.QueryStart;
        c.QueryStart = c.QueryEnd = 0;
        c.QueryNeeded = 0;
        c.QueryBigArgStart = 0;
        if (consumed > 0)
        {
            fixed (byte* p = c.QueryBuf) recv(fd, p, consumed, MsgDontWait);
            _server.Stats.NetInputBytes += consumed;
        }
        // Written straight to the socket: a send through the thread pool would wait for the lock
        // (held by the script) to complete. What does not fit goes out once the script ends.
        if (_sending || c.Reply.Length == 0) return;
        var pending = c.Reply.Written;
        nint sent;
        fixed (byte* p = pending) sent = send(fd, p, pending.Length, MsgDontWait | MsgNoSignal);
        if (sent <= 0) return;
        c.Reply.Consume((int)sent);
        _server.Stats.NetOutputBytes += sent;
    }

    /// <summary>Swaps the filled reply buffer out for sending (under the lock) and counts it as in flight.</summary>
    private byte[] TakeReplies(out int length)
    {
        var c = Client;
        var buffer = c.Reply.Swap(_spare!, out length);
        _spare = null;
        _sendBufferLength = buffer.Length;
        // The peak is a recent one: it restarts every 5 seconds.
        long now = _server.NowMs;
        if (now - c.ReplyPeakResetMs >= 5000)
        {
            c.ReplyPeak = 0;
            c.ReplyPeakResetMs = now;
        }
        if (length > c.ReplyPeak) c.ReplyPeak = length;
        Volatile.Write(ref _inFlight, length);
        return buffer;
    }

    private void EnsureReceiveSpace()
    {
        var c = Client;
        if (c.QueryStart > 0 && c.QueryStart == c.QueryEnd)
        {
            c.QueryStart = c.QueryEnd = 0;
        }
        // A buffer grown for one big command is given back once recent use (the peak, which the cron
        // restarts every second) needs less than half of it, keeping room for that peak.
        if (c.QueryStart == c.QueryEnd && c.QueryNeeded == 0 && c.QueryBuf.Length > ResizeThreshold
            && c.QueryBuf.Length / 2 > c.QueryBufPeak)
        {
            c.QueryBuf = new byte[Math.Max(InitialQueryBuffer, c.QueryBufPeak)];
            c.QueryStart = c.QueryEnd = 0;
        }
        int free = c.QueryBuf.Length - c.QueryEnd;
        // A partial command whose size is known and fits needs no more room, however little is free:
        // the next receives read exactly its rest.
        if (c.QueryNeeded > 0 ? c.QueryStart + c.QueryNeeded <= c.QueryBuf.Length && free > 0 : free >= 4096) return;
        int pending = c.QueryEnd - c.QueryStart;
        // Move the pending partial command to the front, growing for a big bulk argument.
        long want = Math.Max(pending + 16 * 1024L, c.QueryNeeded + 16L);
        byte[] target = c.QueryBuf;
        if (want > c.QueryBuf.Length)
        {
            // A big argument of known size gets just the room it needs, as Redis sizes its query
            // buffer for one (what client eviction and CLIENT LIST count): doubling would charge the
            // client twice its input. Otherwise the buffer doubles, so a command of many small
            // arguments is copied a logarithmic number of times.
            bool bigArgument = c.QueryNeeded - pending >= ResizeThreshold;
            long size = bigArgument ? want : Math.Max(want, Math.Min(c.QueryBuf.Length * 2L, Array.MaxLength));
            target = GC.AllocateUninitializedArray<byte>((int)Math.Min(size, Array.MaxLength));
        }
        Buffer.BlockCopy(c.QueryBuf, c.QueryStart, target, 0, pending);
        c.QueryBuf = target;
        c.QueryStart = 0;
        c.QueryEnd = pending;
    }

    /// <summary>
    /// Sends <paramref name="buffer"/>, then whatever else accumulated meanwhile, until nothing is left;
    /// then closes the connection if the client asked for it (QUIT, CLIENT KILL of itself). A send the
    /// socket cannot take at once (a slow reader, a big reply) suspends; its state machine comes from a
    /// pool instead of being allocated per suspension.
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendLoopAsync(byte[] buffer, int length)
    {
        while (true)
        {
            // Replies leave only after the writes they acknowledge are in the AOF (fsynced with
            // appendfsync always), as Redis writes its AOF buffer before sending replies.
            _server.Aof?.FlushBeforeReply();
            try
            {
                int off = 0;
                while (off < length)
                {
                    int sent = await _socket.SendAsync(buffer.AsMemory(off, Math.Min(SendSlice, length - off)), SocketFlags.None).ConfigureAwait(false);
                    if (sent <= 0) throw new SocketException((int)SocketError.ConnectionReset);
                    off += sent;
                    Volatile.Write(ref _inFlight, length - off);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                lock (_server.Sync)
                {
                    _sending = false;
                    _sendBufferLength = 0;
                    Volatile.Write(ref _inFlight, 0);
                }
                Close();
                return;
            }
            bool closeNow = false;
            lock (_server.Sync)
            {
                var c = Client;
                _server.Stats.NetOutputBytes += length;
                _server.Stats.TotalWritesProcessed++;
                if ((c.Flags & ClientFlags.Master) == 0) c.LastInteractionMs = _server.NowMs;
                // Keep a buffer of up to Redis's reply chunk size for reuse; a bigger one (a burst of
                // pushed invalidations or messages, a large reply) is given back now rather than held
                // and counted in used_memory, where maxmemory would evict keys to pay for it.
                _spare = buffer.Length <= SpareBufferLimit ? buffer : new byte[SpareBufferLimit];
                _sendBufferLength = 0;
                // What the socket took no longer counts: without this the sent bytes would stay in
                // used_memory until the cron, and maxmemory would evict keys to pay for them.
                _server.UpdateClientMemory(c);
                if (c.Reply.Length > 0 && !IsClosed && (c.Flags & ClientFlags.CloseAsap) == 0)
                {
                    buffer = TakeReplies(out length);
                    continue;
                }
                _sending = false;
                closeNow = !IsClosed && (c.Flags & (ClientFlags.CloseAfterReply | ClientFlags.CloseAsap)) == ClientFlags.CloseAfterReply
                    && c.Reply.Length == 0;
            }
            if (closeNow) Close();
            return;
        }
    }

    /// <summary>
    /// Called under the server lock after writing to this client from elsewhere (pub/sub, MONITOR,
    /// unblocking, resumed input): enforces the output buffer limits, then starts a send if none runs.
    /// </summary>
    public void RequestFlush()
    {
        if (IsClosed || (Client.Flags & ClientFlags.CloseAsap) != 0) return;
        if (_server.CloseClientOnOutputBufferLimit(Client)) return;
        _server.UpdateClientMemory(Client);
        if (_sending || Client.Reply.Length == 0) return;
        _sending = true;
        var flush = _flush ??= new FlushWorkItem(this);
        flush.Buffer = TakeReplies(out flush.Length);
        // Off the lock and off the thread that wrote: the writer may be iterating registries this
        // send's completion or failure would change (a PUBLISH fanning out, a CLIENT KILL).
        ThreadPool.UnsafeQueueUserWorkItem(flush, preferLocal: false);
    }

    /// <summary>
    /// The send that <see cref="RequestFlush"/> starts, queued to the thread pool. One per connection,
    /// reused: a pub/sub fan-out flushes every subscriber for each message, and a closure plus a Task
    /// per flush was garbage per message. At most one is queued at a time, as a flush is requested
    /// only while no send runs and the send loop clears that state only after taking the buffer.
    /// </summary>
    private sealed class FlushWorkItem(Connection owner) : IThreadPoolWorkItem
    {
        public byte[]? Buffer;
        public int Length;

        public void Execute()
        {
            var buffer = Buffer!;
            Buffer = null;
            // Completion is observed by the send loop itself (it clears the sending state and closes on
            // failure), so nothing awaits the returned task.
            _ = owner.SendLoopAsync(buffer, Length);
        }
    }

    /// <summary>Closes the socket; the receive loop ends and the client is unregistered.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        try { _socket.Shutdown(SocketShutdown.Both); } catch { }
        _socket.Dispose();
        lock (_server.Sync) _server.UnlinkClient(Client);
    }

    /// <summary>
    /// Marks the client to be closed as soon as possible without sending what it has pending (output
    /// buffer limits); the close itself happens outside the current command, as registries the client
    /// is in may be being iterated.
    /// </summary>
    public void CloseAsync()
    {
        Client.Flags |= ClientFlags.CloseAsap;
        _ = Task.Run(Close);
    }

    /// <summary>Closes after the pending replies are sent (called under the server lock).</summary>
    public void CloseAfterFlush()
    {
        Client.Flags |= ClientFlags.CloseAfterReply;
        if (_sending) return;
        if (Client.Reply.Length > 0)
        {
            RequestFlush();
            return;
        }
        _ = Task.Run(Close);
    }

    public static string FormatEndPoint(EndPoint? ep) => ep switch
    {
        IPEndPoint ip => (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4().ToString() : ip.Address.ToString()) + ":" + ip.Port,
        UnixDomainSocketEndPoint u => u.ToString() + ":0",
        _ => "?:0",
    };

    public long OutputBufferBytes => PendingOutputBytes;
}
