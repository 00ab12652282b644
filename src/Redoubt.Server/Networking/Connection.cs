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
public sealed class Connection
{
    private readonly Socket _socket;
    private readonly RedisServer _server;
    public readonly Client Client;
    // The empty buffer handed to the reply writer at the next swap; null while a send holds it.
    private byte[]? _spare = new byte[16 * 1024];
    private bool _sending;     // guarded by the server lock
    private int _closed;

    public Connection(Socket socket, RedisServer server, Client client)
    {
        _socket = socket;
        _server = server;
        Client = client;
        client.Connection = this;
    }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public async Task RunAsync()
    {
        var c = Client;
        try
        {
            while (true)
            {
                int n;
                try
                {
                    n = await _socket.ReceiveAsync(c.QueryBuf.AsMemory(c.QueryEnd), SocketFlags.None).ConfigureAwait(false);
                }
                catch (SocketException) { break; }
                catch (ObjectDisposedException) { break; }
                if (n == 0) break;

                byte[]? toSend = null;
                int sendLength = 0;
                bool close;
                lock (_server.Sync)
                {
                    c.QueryEnd += n;
                    _server.Stats.NetInputBytes += n;
                    c.ProcessInputBuffer();
                    // Clients this batch released from blocking run their pending input now (Redis's beforeSleep).
                    _server.ProcessUnblockedClients();
                    close = (c.Flags & (ClientFlags.CloseAsap | ClientFlags.CloseAfterReply)) != 0;
                    if (!_sending && c.Reply.Length > 0)
                    {
                        _sending = true;
                        toSend = c.Reply.Swap(_spare!, out sendLength);
                        _spare = null;
                    }
                    // The query buffer's offsets move only here, between receives: input of a released
                    // client is processed from other threads while its receive is pending.
                    EnsureReceiveSpace();
                }
                if (toSend != null) await SendLoopAsync(toSend, sendLength).ConfigureAwait(false);
                if (close || IsClosed) break;
            }
        }
        finally
        {
            Close();
        }
    }

    private void EnsureReceiveSpace()
    {
        var c = Client;
        if (c.QueryStart > 0 && c.QueryStart == c.QueryEnd)
        {
            c.QueryStart = c.QueryEnd = 0;
        }
        int free = c.QueryBuf.Length - c.QueryEnd;
        if (free >= 4096 && (c.QueryNeeded == 0 || c.QueryStart + c.QueryNeeded <= c.QueryBuf.Length)) return;
        int pending = c.QueryEnd - c.QueryStart;
        // Move the pending partial command to the front, growing for a big bulk argument.
        long want = Math.Max(pending + 16 * 1024L, c.QueryNeeded + 16L);
        byte[] target = c.QueryBuf;
        if (want > c.QueryBuf.Length)
        {
            long size = Math.Max(want, Math.Min(c.QueryBuf.Length * 2L, Array.MaxLength));
            target = GC.AllocateUninitializedArray<byte>((int)Math.Min(size, Array.MaxLength));
        }
        Buffer.BlockCopy(c.QueryBuf, c.QueryStart, target, 0, pending);
        c.QueryBuf = target;
        c.QueryStart = 0;
        c.QueryEnd = pending;
    }

    /// <summary>Sends <paramref name="buffer"/>, then whatever else accumulated meanwhile, until nothing is left.</summary>
    private async Task SendLoopAsync(byte[] buffer, int length)
    {
        while (true)
        {
            try
            {
                int off = 0;
                while (off < length)
                {
                    int sent = await _socket.SendAsync(buffer.AsMemory(off, length - off), SocketFlags.None).ConfigureAwait(false);
                    if (sent <= 0) throw new SocketException((int)SocketError.ConnectionReset);
                    off += sent;
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                lock (_server.Sync) _sending = false;
                Close();
                return;
            }
            lock (_server.Sync)
            {
                _server.Stats.NetOutputBytes += length;
                // Keep small buffers for reuse; let one-off huge replies be collected.
                _spare = buffer.Length <= 1024 * 1024 ? buffer : new byte[16 * 1024];
                if (Client.Reply.Length == 0 || IsClosed)
                {
                    _sending = false;
                    return;
                }
                buffer = Client.Reply.Swap(_spare, out length);
                _spare = null;
            }
        }
    }

    /// <summary>Called under the server lock after writing to this client from elsewhere.</summary>
    public void RequestFlush()
    {
        if (_sending || Client.Reply.Length == 0 || IsClosed) return;
        _sending = true;
        var buffer = Client.Reply.Swap(_spare!, out int length);
        _spare = null;
        _ = Task.Run(() => SendLoopAsync(buffer, length));
    }

    /// <summary>Closes the socket; the receive loop ends and the client is unregistered.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        try { _socket.Shutdown(SocketShutdown.Both); } catch { }
        _socket.Dispose();
        lock (_server.Sync) _server.UnlinkClient(Client);
    }

    /// <summary>Closes after the pending replies are sent (CLIENT KILL, QUIT, protocol errors).</summary>
    public void CloseAfterFlush()
    {
        if (_sending) { Client.Flags |= ClientFlags.CloseAsap; return; }
        if (Client.Reply.Length > 0)
        {
            var data = Client.Reply.Written.ToArray();
            Client.Reply.Clear();
            _ = Task.Run(async () =>
            {
                try { await _socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false); } catch { }
                Close();
            });
            return;
        }
        Close();
    }

    public static string FormatEndPoint(EndPoint? ep) => ep switch
    {
        IPEndPoint ip => (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4().ToString() : ip.Address.ToString()) + ":" + ip.Port,
        UnixDomainSocketEndPoint u => u.ToString() + ":0",
        _ => "?:0",
    };

    public long OutputBufferBytes => Client.Reply.Length;
}
