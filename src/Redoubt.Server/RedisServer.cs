using System.Net;
using System.Net.Sockets;
using Redoubt.Server.Commands;
using Redoubt.Server.Config;
using Redoubt.Server.Logging;
using Redoubt.Server.Networking;
using Redoubt.Server.Security;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>
/// The server instance. Execution model: every command runs under <see cref="Sync"/>, one at a time,
/// on whichever I/O thread received it, so commands are atomic with respect to each other (MULTI,
/// blocking pops and the replication stream rely on this) while socket reads and writes proceed in
/// parallel outside the lock. See docs/architecture.md.
/// </summary>
public sealed partial class RedisServer : IKeyspaceHooks
{
    public const string Version = "7.0.15";
    /// <summary>The version as one number (0x00MMmmpp), as scripts see it in redis.REDIS_VERSION_NUM.</summary>
    public const int VersionNum = (7 << 16) | (0 << 8) | 15;

    public readonly ServerConfig Config;
    public readonly ServerLog Log = new();
    public readonly CommandTable Commands = new();
    public readonly Lock Sync = new();
    public readonly ServerStats Stats = new();
    public readonly AclRegistry Acl = new();
    public readonly WatchRegistry Watches = new();
    public readonly ClientPause Pause = new();
    public Database[] Databases = Array.Empty<Database>();
    public readonly Dictionary<long, Client> Clients = new();
    public readonly string RunId = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(20));
    public readonly long StartTimeMs = Database.NowMs();
    public readonly Random Rng = new();
    private readonly List<Socket> _listeners = new();
    private long _nextClientId;
    private Thread? _cronThread;
    private readonly ManualResetEventSlim _stopped = new();
    public volatile bool ShuttingDown;
    public int ExitCode;

    /// <summary>Actions run after every command (slowlog, latency, propagation hooks of later subsystems).</summary>
    public readonly List<Action<Client, Command, long>> AfterCallHooks = new();
    /// <summary>Actions run by the cron, hz times a second, under the lock.</summary>
    public readonly List<Action> CronHooks = new();
    /// <summary>Actions run on shutdown before the process exits (final save, replica notification).</summary>
    public readonly List<Func<bool, string?>> ShutdownHooks = new();

    public RedisServer(ServerConfig config)
    {
        Config = config;
        Acl.Attach(this);
        CommandBindings.BindAll(this);
        InitIntrospection();
        InitPropagation();
        InitAof();
        CronHooks.Add(ShutdownCron);
    }

    public long NowMs => Database.NowMs();

    /// <summary>
    /// Seconds-resolution LRU clock in 24 bits, as Redis's LRU_CLOCK. Cached and refreshed by the cron
    /// (resolution is one second, the cron runs at least once a second) so lookups never read the clock.
    /// </summary>
    public int LruClock { get; private set; } = (int)((Database.NowMs() / 1000) & KeyTable.LruMask);

    // ---- IKeyspaceHooks --------------------------------------------------

    public bool IsReplica
    {
        get => _isReplica;
        set
        {
            _isReplica = value;
            // Log lines carry the role: S for a replica, M for a master.
            Log.Role = value ? 'S' : 'M';
        }
    }
    private bool _isReplica;

    public void OnKeyExpired(Database db, byte[] key)
    {
        Stats.ExpiredKeys++;
        Notify(KeyspaceEventClass.Expired, "expired", key, db.Id);
        Watches.Touch(db, key);
        // Expiry is the server's own change: no client made it (NOLOOP BCAST clients are told too).
        _tracking?.InvalidateKey(key, null, bcast: true);
        KeyExpiredHooks?.Invoke(db, key);
    }

    /// <summary>Replication and keyspace notifications subscribe here.</summary>
    public event Action<Database, byte[]>? KeyExpiredHooks;

    public void OnKeyMissOrHit(bool hit)
    {
        if (hit) Stats.KeyspaceHits++;
        else Stats.KeyspaceMisses++;
    }

    /// <summary>
    /// Redis's signalModifiedKey: invalidates WATCHes on the key, wakes clients blocked on it and tells
    /// clients that may cache it (client-side caching).
    /// </summary>
    public void SignalModifiedKey(Database db, ReadOnlySpan<byte> key)
    {
        Watches.Touch(db, key);
        _blocking?.SignalKeyAsReady(db, key);
        _tracking?.InvalidateKey(key, CurrentClient, bcast: true);
    }

    /// <summary>Counts a change for save points and INFO rdb_changes_since_last_save.</summary>
    public void Dirty(long n = 1) => Stats.Dirty += n;

    // ---- lifecycle --------------------------------------------------------

    /// <summary>Binds the listeners and starts serving; throws when no address can be bound.</summary>
    /// <param name="listen">False for an embedded server driven in-process (tests, tools): no sockets.</param>
    public void Start(bool listen = true, Action? listening = null)
    {
        Log.Level = ServerLog.ParseLevel(Config.LogLevel);
        Log.File = Config.LogFile;
        Databases = new Database[Config.Databases];
        for (int i = 0; i < Databases.Length; i++) Databases[i] = new Database(i, this);

        // As in Redis: the listeners are bound before the logo (with the PID line that the test suite waits
        // for before connecting) and "Server initialized"; users and data are loaded after them, and
        // connections made meanwhile wait until the data is in.
        if (listen) BindListeners();
        listening?.Invoke();
        Log.Notice("Server initialized");
        Acl.LoadAtStartup();
        // A replica keeps the expired keys of its files: its master decides when they go.
        IsReplica = Config.MasterHost != null;
        LoadAppendOnlyAtStartup();
        MeasureStartupMemory();
        // A copy: a client accepted at once may already run CONFIG SET port/bind, which replaces the listeners.
        foreach (var l in _listeners.ToArray()) _ = AcceptLoopAsync(l);
        if (_unixListener != null) _ = AcceptLoopAsync(_unixListener, unix: true);
        _cronThread = new Thread(CronLoop) { IsBackground = true, Name = "cron" };
        _cronThread.Start();
        // The dataset loads with the listeners open (clients get -LOADING meanwhile) and before "Ready", as in Redis.
        if (LoadDataAtStartup is { } load && !load()) throw new InvalidOperationException("Terminating server after rdb file reading failure.");
        lock (Sync) StartReplicaOfAtStartup();
        if (_listeners.Count > 0 || !listen) Log.Notice("Ready to accept connections");
        if (_unixListener != null) Log.Notice("The server is now ready to accept connections at " + Config.UnixSocket);
    }

    /// <summary>Opens the TCP listeners for start-up; throws with the message to exit with.</summary>
    private void BindListeners()
    {
        if (Config.Port != 0 && !ListenToPort(Config.Port, _listeners))
            throw new InvalidOperationException($"Failed listening on port {Config.Port} (TCP), aborting.");
        OpenUnixSocket();
        if (_listeners.Count == 0 && _unixListener is null)
            throw new InvalidOperationException("Configured to not listen anywhere, exiting.");
    }

    private async Task AcceptLoopAsync(Socket listener, bool unix = false)
    {
        while (!ShuttingDown)
        {
            Socket socket;
            try { socket = await listener.AcceptAsync().ConfigureAwait(false); }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { if (ShuttingDown) return; continue; }
            try { AcceptClient(socket, unix); }
            catch (Exception e) { Log.Warning("Error accepting a client connection: " + e.Message); socket.Dispose(); }
        }
    }

    private void AcceptClient(Socket socket, bool unix)
    {
        if (!unix) socket.NoDelay = true;
        if (Config.TcpKeepAlive > 0 && !unix)
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)Config.TcpKeepAlive);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Math.Max(1, (int)Config.TcpKeepAlive / 3));
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
        }
        Client client;
        Connection conn;
        lock (Sync)
        {
            if (Clients.Count >= Config.MaxClients)
            {
                Stats.RejectedConnections++;
                TrySendAndClose(socket, "-ERR max number of clients reached\r\n"u8);
                return;
            }
            bool loopback = unix || IsLocalAddress(socket.RemoteEndPoint);
            if (ProtectedModeRejects(loopback))
            {
                Stats.RejectedConnections++;
                TrySendAndClose(socket, System.Text.Encoding.ASCII.GetBytes(ProtectedModeMessage));
                return;
            }
            client = new Client(Interlocked.Increment(ref _nextClientId), this)
            {
                // A unix socket peer is named after the server's socket path, as Redis does.
                Address = unix ? Config.UnixSocket + ":0" : Connection.FormatEndPoint(socket.RemoteEndPoint),
                LocalAddress = unix ? Config.UnixSocket + ":0" : Connection.FormatEndPoint(socket.LocalEndPoint),
                IsLoopback = loopback,
                IsUnixSocket = unix,
            };
            client.Authenticated = !AuthRequiredFor(client.User);
            conn = new Connection(socket, this, client);
            Clients[client.Id] = client;
            UpdateClientMemory(client);
            Stats.TotalConnectionsReceived++;
        }
        Log.Verbose(unix ? "Accepted connection to " + Config.UnixSocket : $"Accepted {client.Address}");
        _ = conn.RunAsync();
    }

    private static void TrySendAndClose(Socket socket, ReadOnlySpan<byte> message)
    {
        try { socket.Send(message); } catch (SocketException) { }
        try { socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
        socket.Dispose();
    }

    /// <summary>Removes a closed client from every registry (called once, under the lock).</summary>
    public void UnlinkClient(Client c)
    {
        if (!Clients.Remove(c.Id)) return;
        Watches.UnwatchAll(c);
        ClientUnlinkedHooks?.Invoke(c);
    }

    public event Action<Client>? ClientUnlinkedHooks;

    public bool AuthRequired(Client c) => !c.Authenticated && AuthRequiredFor(Acl.DefaultUser);

    private static bool AuthRequiredFor(AclUser defaultUser) => !defaultUser.NoPass || !defaultUser.Enabled;

    public void AfterCall(Client c, Command cmd, long micros)
    {
        var hooks = AfterCallHooks;
        for (int i = 0; i < hooks.Count; i++) hooks[i](c, cmd, micros);
    }

    // ---- cron -------------------------------------------------------------

    private void CronLoop()
    {
        while (!ShuttingDown)
        {
            Thread.Sleep((int)Math.Max(1, 1000 / Math.Clamp(Config.Hz, 1, 500)));
            if (CronPaused) continue;
            lock (Sync)
            {
                try { Cron(); }
                catch (Exception e) { Log.Warning("Unexpected error in server cron: " + e); }
            }
        }
    }

    /// <summary>Whether the cron deletes expired keys by sampling (DEBUG SET-ACTIVE-EXPIRE).</summary>
    public bool ActiveExpireEnabled = true;

    private void Cron()
    {
        long now = NowMs;
        LruClock = (int)((now / 1000) & KeyTable.LruMask);
        Stats.Sample(now);
        if (Pause.ExpireIfDue(now)) ReleasePostponedClients();
        DatabasesCron();
        CloseTimedOutClients(now);
        // By index: a hook may register another (a subsystem created on first use), which runs next tick.
        int count = CronHooks.Count;
        for (int i = 0; i < count && !ShuttingDown; i++) CronHooks[i]();
    }

    private void CloseTimedOutClients(long now)
    {
        if (Config.Timeout <= 0) return;
        long limitMs = Config.Timeout * 1000;
        List<Client>? idle = null;
        foreach (var c in Clients.Values)
        {
            // Replicas, monitors, the master link, blocked/paused and pub/sub clients are never idle-closed.
            const ClientFlags exempt = ClientFlags.Replica | ClientFlags.Monitor | ClientFlags.Master
                | ClientFlags.Blocked | ClientFlags.Paused | ClientFlags.PubSub;
            if ((c.Flags & exempt) != 0) continue;
            if (now - c.LastInteractionMs > limitMs) (idle ??= new()).Add(c);
        }
        if (idle is null) return;
        foreach (var c in idle)
        {
            Log.Verbose("Closing idle client");
            c.Connection?.Close();
        }
    }

    // ---- shutdown ---------------------------------------------------------

    /// <summary>Blocks until the server has shut down; returns the process exit code.</summary>
    public int WaitForShutdown()
    {
        _stopped.Wait();
        return ExitCode;
    }

    /// <summary>
    /// Runs the shutdown sequence (final save per the hooks unless <paramref name="noSave"/>), closes the
    /// listeners, removes the pid file and releases <see cref="WaitForShutdown"/>. Returns an error when
    /// a hook refuses (e.g. the final save failed and not forced).
    /// </summary>
    public string? Shutdown(bool noSave, bool force = false, bool save = false)
    {
        ShutdownSaveRequested = save;
        ShutdownForced = force;
        foreach (var hook in ShutdownHooks)
        {
            if (hook(noSave) is string err && !force)
            {
                Log.Warning("Errors trying to shut down the server. Check the logs for more information.");
                return err;
            }
        }
        ShuttingDown = true;
        foreach (var l in _listeners) l.Dispose();
        CloseUnixSocket();
        if (Config.PidFile.Length > 0)
        {
            Log.Notice("Removing the pid file.");
            try { File.Delete(Config.PidFile); } catch (IOException) { }
        }
        Log.Warning("Redis is now ready to exit, bye bye...");
        _stopped.Set();
        return null;
    }

    /// <summary>The CLIENT LIST line for a client.</summary>
    public string ClientInfoString(Client c) => ClientInfo.Format(this, c);
}
