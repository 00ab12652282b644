using System.Net.Sockets;
using System.Text;

namespace Redoubt.Server.Replication;

/// <summary>
/// One attempt to (re)join the master: connect, PING, AUTH and REPLCONF, PSYNC (or SYNC), and for a
/// full resync the RDB transfer into a temporary file. It runs on a thread of its own with blocking
/// reads, outside the server lock, so a slow or dead master never stalls the clients; each step it
/// reports to the server, which ignores an attempt that was cancelled meanwhile (REPLICAOF to
/// elsewhere, NO ONE). Once the master's stream may begin, the socket is handed to the server, which
/// serves it like any client connection (the "master client").
/// </summary>
public sealed class MasterHandshake
{
    private readonly RedisServer _server;
    private readonly string _host;
    private readonly int _port;
    private Socket? _socket;
    private volatile bool _cancelled;
    private readonly byte[] _buf = new byte[64 * 1024];
    private int _bufStart, _bufEnd;

    public MasterHandshake(RedisServer server, string host, int port)
    {
        _server = server;
        _host = host;
        _port = port;
    }

    public bool Cancelled => _cancelled;

    /// <summary>Stops the attempt: its socket is closed, so a blocked read ends at once.</summary>
    public void Cancel()
    {
        _cancelled = true;
        try { _socket?.Dispose(); } catch (Exception) { }
    }

    public void Start() => new Thread(Run) { IsBackground = true, Name = "master-link" }.Start();

    private void Run()
    {
        string? failure = null;
        try { failure = RunSteps(); }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            // A read that waited repl-timeout (or the 5 s of a handshake reply) is Redis's cron timeout.
            bool timedOut = (e as SocketException ?? e.InnerException as SocketException)?.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock;
            bool transfer = _server.LinkState(this) == MasterLinkState.Transfer;
            failure = (transfer, timedOut) switch
            {
                (true, true) => "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.",
                (true, false) => $"I/O error trying to sync with MASTER: {Describe(e)}",
                (false, true) => "Timeout connecting to the MASTER...",
                _ => "Master did not respond to command during SYNC handshake",
            };
        }
        if (failure != null)
        {
            try { _socket?.Dispose(); } catch (Exception) { }
            if (!_cancelled) _server.HandshakeFailed(this, failure);
        }
    }

    private static string Describe(Exception e) => e switch
    {
        SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock } => "Resource temporarily unavailable",
        SocketException se => se.Message,
        ObjectDisposedException => "connection lost",
        _ => e.Message,
    };

    /// <summary>The whole attempt; returns the warning to log when it fails, null when handed over.</summary>
    private string? RunSteps()
    {
        var log = _server.Log;
        if (!_server.LinkStep(this, MasterLinkState.Connecting)) return null;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        _socket = socket;
        // bind-source-addr: the address our side of the link uses (Redis binds before connecting).
        if (_server.Config.BindSourceAddr is { Length: > 0 } source)
        {
            try
            {
                var addr = System.Net.IPAddress.Parse(source);
                if (addr.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
                {
                    socket.Dispose();
                    socket = new Socket(System.Net.Sockets.AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    _socket = socket;
                }
                socket.Bind(new System.Net.IPEndPoint(addr, 0));
            }
            catch (Exception e) when (e is FormatException or SocketException)
            {
                return $"Unable to connect to MASTER: {e.Message}";
            }
        }
        if (_cancelled) { socket.Dispose(); return null; }
        try
        {
            var connect = socket.ConnectAsync(_host, _port);
            if (!connect.Wait((int)Math.Min(int.MaxValue, _server.Config.ReplTimeout * 1000)))
                return $"Timeout connecting to the MASTER...";
        }
        catch (AggregateException e) when (e.InnerException is SocketException se)
        {
            return $"Error condition on socket for SYNC: {se.Message}";
        }
        socket.NoDelay = !_server.Config.ReplDisableTcpNodelay;
        socket.ReceiveTimeout = MasterLinkStates.SyncIoTimeoutMs;
        socket.SendTimeout = MasterLinkStates.SyncIoTimeoutMs;
        log.Notice("Non blocking connect for SYNC fired the event.");

        if (!_server.LinkStep(this, MasterLinkState.ReceivePingReply)) return null;
        Send("*1\r\n$4\r\nPING\r\n");
        string reply = ReadLine();
        if (reply.StartsWith('-') && !reply.StartsWith("-NOAUTH") && !reply.StartsWith("-NOPERM") && !reply.StartsWith("-ERR operation not permitted"))
            return $"Error reply to PING from master: '{reply}'";
        log.Notice("Master replied to PING, replication can continue...");

        // AUTH and the REPLCONFs go in one write; their replies are read in order.
        if (!_server.LinkStep(this, MasterLinkState.SendHandshake)) return null;
        var config = _server.Config;
        var batch = new StringBuilder();
        bool auth = !string.IsNullOrEmpty(config.MasterAuth);
        if (auth)
        {
            if (string.IsNullOrEmpty(config.MasterUser)) batch.Append(Command("AUTH", config.MasterAuth));
            else batch.Append(Command("AUTH", config.MasterUser, config.MasterAuth));
        }
        long announcePort = config.ReplicaAnnouncePort != 0 ? config.ReplicaAnnouncePort : config.Port;
        batch.Append(Command("REPLCONF", "listening-port", announcePort.ToString()));
        bool announceIp = !string.IsNullOrEmpty(config.ReplicaAnnounceIp);
        if (announceIp) batch.Append(Command("REPLCONF", "ip-address", config.ReplicaAnnounceIp));
        batch.Append(Command("REPLCONF", "capa", "eof", "capa", "psync2"));
        Send(batch.ToString());
        if (auth)
        {
            if (!_server.LinkStep(this, MasterLinkState.ReceiveAuthReply)) return null;
            reply = ReadLine();
            if (reply.StartsWith('-')) return $"Unable to AUTH to MASTER: {reply}";
        }
        if (!_server.LinkStep(this, MasterLinkState.ReceivePortReply)) return null;
        reply = ReadLine();
        if (reply.StartsWith('-')) log.Notice($"(Non critical) Master does not understand REPLCONF listening-port: {reply}");
        if (announceIp)
        {
            if (!_server.LinkStep(this, MasterLinkState.ReceiveIpReply)) return null;
            reply = ReadLine();
            if (reply.StartsWith('-')) log.Notice($"(Non critical) Master does not understand REPLCONF ip-address: {reply}");
        }
        if (!_server.LinkStep(this, MasterLinkState.ReceiveCapaReply)) return null;
        reply = ReadLine();
        if (reply.StartsWith('-')) log.Notice($"(Non critical) Master does not understand REPLCONF capa: {reply}");

        if (!_server.LinkStep(this, MasterLinkState.SendPsync)) return null;
        var (cachedId, cachedOffset) = _server.PsyncTarget();
        if (cachedId != null) log.Notice($"Trying a partial resynchronization (request {cachedId}:{cachedOffset + 1}).");
        else log.Notice("Partial resynchronization not possible (no cached master)");
        var psync = _server.FailoverPsync ? Command("PSYNC", cachedId ?? "?", cachedId != null ? (cachedOffset + 1).ToString() : "-1", "FAILOVER")
            : Command("PSYNC", cachedId ?? "?", cachedId != null ? (cachedOffset + 1).ToString() : "-1");
        Send(psync);
        if (!_server.LinkStep(this, MasterLinkState.ReceivePsyncReply)) return null;
        // Newlines keep the link alive while the master prepares the snapshot.
        socket.ReceiveTimeout = (int)Math.Min(int.MaxValue, config.ReplTimeout * 1000);
        do reply = ReadLine(); while (reply.Length == 0);

        string masterId = "?";
        long masterOffset = -1;
        _server.FailoverPsyncAnswered(this, reply.StartsWith("+FULLRESYNC") || reply.StartsWith("+CONTINUE"));
        if (reply.StartsWith("+FULLRESYNC"))
        {
            var parts = reply.Split(' ');
            if (parts.Length < 3 || !long.TryParse(parts[2], out masterOffset))
            {
                log.Warning("Master replied with wrong +FULLRESYNC syntax.");
                masterOffset = -1;
            }
            else
            {
                masterId = parts[1].Length == 40 ? parts[1] : new string('0', 40);
                log.Notice($"Full resync from master: {parts[1]}:{masterOffset}");
            }
        }
        else if (reply.StartsWith("+CONTINUE"))
        {
            string? newId = reply.Length > 10 ? reply[10..].Trim() : null;
            if (newId is { Length: not 40 }) newId = null;
            log.Notice("Successful partial resynchronization with master.");
            if (_server.PartialResyncAccepted(this, newId, socket, TakeBuffered()))
            {
                log.Notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
                _socket = null;
            }
            return null;
        }
        else if (reply.StartsWith("-NOMASTERLINK") || reply.StartsWith("-LOADING"))
        {
            return $"Master is currently unable to PSYNC but should be in the future: {reply}";
        }
        else
        {
            if (reply.StartsWith("-ERR")) log.Notice($"Master does not support PSYNC or is in error state (reply: {reply})");
            else log.Warning($"Unexpected reply to PSYNC from master: {reply}");
            _server.DiscardCachedMaster();
            log.Notice("Retrying with SYNC...");
            Send("SYNC\r\n");
        }
        return ReceiveRdb(socket, masterId, masterOffset);
    }

    /// <summary>Reads the RDB of a full resync into a temporary file and hands it to the server to load.</summary>
    private string? ReceiveRdb(Socket socket, string masterId, long masterOffset)
    {
        var log = _server.Log;
        if (!_server.LinkStep(this, MasterLinkState.Transfer)) return null;
        string header;
        do header = ReadLine(); while (header.Length == 0);
        if (header.StartsWith('-')) return $"MASTER aborted replication with an error: {header[1..]}";
        if (!header.StartsWith('$'))
            return $"Bad protocol from MASTER, the first byte is not '$' (we received '{header}'), are you sure the host and port are right?";
        byte[]? mark = null;
        long total = -1;
        if (header.StartsWith("$EOF:") && header.Length >= 5 + RedisServer.RdbEofMarkSize)
        {
            mark = Encoding.ASCII.GetBytes(header.Substring(5, RedisServer.RdbEofMarkSize));
            log.Notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk");
        }
        else if (long.TryParse(header.AsSpan(1), out total) && total >= 0)
        {
            log.Notice($"MASTER <-> REPLICA sync: receiving {total} bytes from master to disk");
        }
        else return $"Bad protocol from MASTER, the first byte is not '$' (we received '{header}'), are you sure the host and port are right?";

        string temp = $"temp-{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}.{Environment.ProcessId}.rdb";
        FileStream file;
        try { file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"Opening the temp file needed for MASTER <-> REPLICA synchronization: {e.Message}";
        }
        _server.TransferStarted(this, total);
        long read = 0;
        var tail = new byte[RedisServer.RdbEofMarkSize];
        int tailLen = 0;
        byte[] leftover = [];
        try
        {
            while (true)
            {
                if (_bufStart == _bufEnd) Fill();
                int avail = _bufEnd - _bufStart;
                if (mark is null)
                {
                    int take = (int)Math.Min(avail, total - read);
                    file.Write(_buf, _bufStart, take);
                    _bufStart += take;
                    read += take;
                    _server.TransferProgress(this, read);
                    if (read == total) break;
                }
                else
                {
                    file.Write(_buf, _bufStart, avail);
                    // The last bytes written, to compare with the end mark.
                    var chunk = _buf.AsSpan(_bufStart, avail);
                    if (chunk.Length >= tail.Length) { chunk[^tail.Length..].CopyTo(tail); tailLen = tail.Length; }
                    else
                    {
                        int keep = Math.Min(tailLen, tail.Length - chunk.Length);
                        tail.AsSpan(tailLen - keep, keep).CopyTo(tail);
                        chunk.CopyTo(tail.AsSpan(keep));
                        tailLen = keep + chunk.Length;
                    }
                    _bufStart += avail;
                    read += avail;
                    _server.TransferProgress(this, read);
                    if (tailLen == tail.Length && tail.AsSpan().SequenceEqual(mark))
                    {
                        file.SetLength(read - mark.Length);
                        break;
                    }
                }
            }
            leftover = TakeBuffered();
            file.Flush(true);
        }
        catch (Exception)
        {
            file.Dispose();
            TryDelete(temp);
            throw;
        }
        file.Dispose();
        if (_cancelled)
        {
            TryDelete(temp);
            return null;
        }
        if (_server.FullSyncReceived(this, temp, masterId, masterOffset, socket, leftover)) _socket = null;
        return null;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (Exception) { }
    }

    private static string Command(params string[] args)
    {
        var sb = new StringBuilder();
        sb.Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args)
            sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        return sb.ToString();
    }

    private void Send(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        int off = 0;
        while (off < bytes.Length) off += _socket!.Send(bytes, off, bytes.Length - off, SocketFlags.None);
    }

    private void Fill()
    {
        if (_bufStart > 0 && _bufStart == _bufEnd) _bufStart = _bufEnd = 0;
        int n = _socket!.Receive(_buf, _bufEnd, _buf.Length - _bufEnd, SocketFlags.None);
        if (n <= 0) throw new IOException("connection lost");
        _bufEnd += n;
        _server.MasterIoSeen(this);
    }

    /// <summary>One reply line without its CRLF (a bare newline gives an empty string).</summary>
    private string ReadLine()
    {
        while (true)
        {
            int nl = Array.IndexOf(_buf, (byte)'\n', _bufStart, _bufEnd - _bufStart);
            if (nl >= 0)
            {
                int end = nl > _bufStart && _buf[nl - 1] == '\r' ? nl - 1 : nl;
                string line = Encoding.UTF8.GetString(_buf, _bufStart, end - _bufStart);
                _bufStart = nl + 1;
                return line;
            }
            if (_bufEnd - _bufStart > 16 * 1024) throw new IOException("line too long");
            if (_bufStart > 0)
            {
                Buffer.BlockCopy(_buf, _bufStart, _buf, 0, _bufEnd - _bufStart);
                _bufEnd -= _bufStart;
                _bufStart = 0;
            }
            Fill();
        }
    }

    /// <summary>What was read past the handshake: the first bytes of the master's stream.</summary>
    private byte[] TakeBuffered()
    {
        var rest = _buf.AsSpan(_bufStart, _bufEnd - _bufStart).ToArray();
        _bufStart = _bufEnd = 0;
        return rest;
    }
}
