using System.Net;
using System.Net.Sockets;

namespace Redoubt.Server;

/// <summary>Run-time configuration effects: CONFIG RESETSTAT and re-binding the TCP listeners.</summary>
public sealed partial class RedisServer
{
    /// <summary>Subsystems with their own statistics (slow log, latency, replication) reset them here.</summary>
    public readonly List<Action> ResetStatHooks = new();

    /// <summary>CONFIG RESETSTAT: the INFO stats counters, per-command and per-error statistics.</summary>
    public void ResetStats()
    {
        Stats.Reset();
        foreach (var cmd in Commands.AllCommands)
        {
            cmd.Calls = 0;
            cmd.MicrosecondsTotal = 0;
            cmd.RejectedCalls = 0;
            cmd.FailedCalls = 0;
        }
        foreach (var hook in ResetStatHooks) hook();
    }

    /// <summary>
    /// Opens a listener on every bind address. Optional addresses ("-" prefix) that do not exist here,
    /// and address families the host lacks, are skipped; any other failure closes what was opened and
    /// returns false. No address at all means no TCP listener.
    /// </summary>
    private bool ListenToPort(int port, List<Socket> into)
    {
        int first = into.Count;
        foreach (var raw in Config.Bind)
        {
            bool optional = raw.StartsWith('-');
            string addr = optional ? raw[1..] : raw;
            try
            {
                into.Add(OpenListener(addr, port));
            }
            catch (ListenException e)
            {
                Log.Warning($"Warning: Could not create server TCP listening socket {addr}:{port}: {e.Message}");
                if (e.Error == SocketError.AddressNotAvailable && optional) continue;
                if (e.Error is SocketError.AddressFamilyNotSupported or SocketError.ProtocolFamilyNotSupported
                    or SocketError.ProtocolNotSupported or SocketError.SocketNotSupported or SocketError.ProtocolOption)
                    continue;
                for (int i = into.Count - 1; i >= first; i--)
                {
                    into[i].Dispose();
                    into.RemoveAt(i);
                }
                return false;
            }
        }
        return true;
    }

    private sealed class ListenException(SocketError error, string message) : Exception(message)
    {
        public SocketError Error { get; } = error;
    }

    /// <summary>One listening socket, like Redis's anetTcpServer / anetTcp6Server.</summary>
    private Socket OpenListener(string addr, int port)
    {
        bool v6 = addr.Contains(':');
        IPAddress ip;
        if (addr == "*") ip = IPAddress.Any;
        else if (addr == "::*") ip = IPAddress.IPv6Any;
        else if (!IPAddress.TryParse(addr, out ip!))
        {
            try
            {
                var family = v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
                ip = Dns.GetHostAddresses(addr, family).FirstOrDefault()
                     ?? throw new ListenException(SocketError.HostNotFound, "Name or service not known");
            }
            catch (SocketException e) { throw new ListenException(e.SocketErrorCode, e.Message); }
        }
        Socket s;
        try { s = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp); }
        catch (SocketException e) { throw new ListenException(e.SocketErrorCode, e.Message); }
        string stage = "bind";
        try
        {
            if (ip.AddressFamily == AddressFamily.InterNetworkV6) s.DualMode = false;
            // SO_REUSEADDR alone: the runtime's ReuseAddress option also sets SO_REUSEPORT, which would let a
            // second server share (and silently split) a port that is already in use.
            s.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
            s.Bind(new IPEndPoint(ip, port));
            stage = "listen";
            s.Listen((int)Math.Min(Config.TcpBacklog, int.MaxValue));
            if (Config.SocketMarkId > 0)
            {
                // SO_MARK needs CAP_NET_ADMIN; like Redis, a failure to set it is not an error.
                try { s.SetRawSocketOption(1 /* SOL_SOCKET */, 36 /* SO_MARK */, BitConverter.GetBytes((int)Config.SocketMarkId)); }
                catch (SocketException) { }
            }
        }
        catch (SocketException e)
        {
            s.Dispose();
            throw new ListenException(e.SocketErrorCode, $"{stage}: {e.Message}");
        }
        return s;
    }

    private void CloseListeners()
    {
        foreach (var l in _listeners) l.Dispose();
        _listeners.Clear();
    }

    private void StartAccepting()
    {
        foreach (var l in _listeners.ToArray()) _ = AcceptLoopAsync(l);
    }

    /// <summary>
    /// CONFIG SET port: closes the listeners and opens them on the new port (none for port 0). Returns
    /// null or the error CONFIG SET reports (the old port is then restored by the caller).
    /// </summary>
    public string? ChangeListenPort()
    {
        CloseListeners();
        if (Config.Port == 0) return null;
        if (!ListenToPort(Config.Port, _listeners)) return "Unable to listen on this port. Check server logs.";
        StartAccepting();
        return null;
    }

    /// <summary>CONFIG SET bind: re-opens the listeners on the new addresses.</summary>
    public string? ChangeBindAddresses()
    {
        CloseListeners();
        if (Config.Port != 0 && !ListenToPort(Config.Port, _listeners))
        {
            Log.Warning("Failed to bind");
            CloseListeners();
            return "Failed to bind to specified addresses.";
        }
        StartAccepting();
        return null;
    }
}
