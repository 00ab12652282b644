using System.Net;
using System.Net.Sockets;
using Redoubt.Server.Commands;

namespace Redoubt.Server;

/// <summary>MIGRATE's connection cache: one blocking socket per target, closed after 10 s unused (as Redis's).</summary>
public sealed partial class RedisServer
{
    private const int MigrateSocketCacheTtlMs = 10_000;
    private const int MigrateSocketCacheItems = 64;
    private readonly Dictionary<string, MigrateTarget> _migrateSockets = new(StringComparer.Ordinal);
    private bool _migrateCronAdded;

    /// <summary>INFO stats migrate_cached_sockets.</summary>
    public int MigrateCachedSockets => _migrateSockets.Count;

    /// <summary>The cached connection to host:port, or a new one made within <paramref name="timeoutMs"/>; null on failure.</summary>
    internal MigrateTarget? MigrateSocket(string host, string port, int timeoutMs)
    {
        string name = host + ":" + port;
        if (_migrateSockets.TryGetValue(name, out var cached))
        {
            cached.LastUseMs = NowMs;
            return cached;
        }
        if (!int.TryParse(port, out int portNumber)) return null;
        if (_migrateSockets.Count == MigrateSocketCacheItems)
        {
            // Too many: drop one at random, as Redis does.
            var victim = _migrateSockets.Keys.ElementAt(Random.Shared.Next(_migrateSockets.Count));
            CloseMigrateSocket(victim);
        }
        Socket? socket = null;
        try
        {
            var address = IPAddress.TryParse(host, out var ip) ? ip : Dns.GetHostAddresses(host)[0];
            // Plain blocking calls only: anything asynchronous (or a non-blocking socket, whose blocking
            // calls .NET completes through the socket engine) would wait for the socket thread this
            // command runs on. Linux bounds a blocking connect by the send timeout.
            socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            {
                NoDelay = true,
                SendTimeout = timeoutMs,
                ReceiveTimeout = timeoutMs,
            };
            socket.Connect(address, portNumber);
        }
        catch (Exception e) when (e is SocketException or ArgumentException or IndexOutOfRangeException)
        {
            socket?.Dispose();
            return null;
        }
        var target = new MigrateTarget(socket) { LastUseMs = NowMs };
        _migrateSockets[name] = target;
        if (!_migrateCronAdded)
        {
            _migrateCronAdded = true;
            CronHooks.Add(CloseIdleMigrateSockets);
        }
        return target;
    }

    internal void CloseMigrateSocket(string host, string port) => CloseMigrateSocket(host + ":" + port);

    private void CloseMigrateSocket(string name)
    {
        if (!_migrateSockets.Remove(name, out var target)) return;
        try { target.Socket.Dispose(); } catch (ObjectDisposedException) { }
    }

    private void CloseIdleMigrateSockets()
    {
        if (_migrateSockets.Count == 0) return;
        long now = NowMs;
        foreach (var (name, target) in _migrateSockets.ToArray())
            if (now - target.LastUseMs > MigrateSocketCacheTtlMs) CloseMigrateSocket(name);
    }
}
