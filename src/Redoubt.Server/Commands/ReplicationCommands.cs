using System.Text;
using Redoubt.Server.Blocking;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Commands;

/// <summary>The master side of the replication handshake (REPLCONF, PSYNC, SYNC) and WAIT.</summary>
public static class ReplicationCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("replconf", Replconf);
        t.Bind("psync", Psync);
        t.Bind("sync", Sync);
        t.Bind("wait", Wait);
        t.Bind("replicaof", ReplicaOf);
        t.Bind("slaveof", ReplicaOf);
        t.Bind("failover", Failover);
    }

    internal static void Attach(RedisServer server)
    {
        server.AttachReplicationLayer();
        if (Interlocked.Exchange(ref _gateCheckRegistered, 1) == 0)
        {
            ExecutionGate.AddStateCheck((c, cmd) => c.Server.ReplicaStateError(c, cmd));
            ExecutionGate.AddStateCheck((c, cmd) => c.Server.NoReplicasError(c, cmd));
        }
    }

    private static int _gateCheckRegistered;

    private static void Replconf(Client c)
    {
        if (c.Argc % 2 == 0)
        {
            c.Reply.Error("syntax error");
            return;
        }
        var server = c.Server;
        for (int j = 1; j < c.Argc; j += 2)
        {
            if (c.ArgIs(j, "listening-port"u8))
            {
                if (!NumberParser.TryParseInt64(c.Arg(j + 1), out long port))
                {
                    c.Reply.Error("value is not an integer or out of range");
                    return;
                }
                server.LinkFor(c).ListeningPort = (int)port;
            }
            else if (c.ArgIs(j, "ip-address"u8))
            {
                var ip = c.Arg(j + 1);
                if (ip.Length >= 256)
                {
                    c.Reply.Error("REPLCONF ip-address provided by replica instance is too long: 256 bytes maximum.");
                    return;
                }
                server.LinkFor(c).AnnouncedIp = Encoding.UTF8.GetString(ip);
            }
            else if (c.ArgIs(j, "capa"u8))
            {
                if (c.ArgIs(j + 1, "eof"u8)) server.LinkFor(c).CapaEof = true;
                else if (c.ArgIs(j + 1, "psync2"u8)) server.LinkFor(c).CapaPsync2 = true;
            }
            else if (c.ArgIs(j, "ack"u8))
            {
                // Only from an attached replica, and never answered.
                if ((c.Flags & ClientFlags.Replica) == 0) return;
                if (NumberParser.TryParseInt64(c.Arg(j + 1), out long offset)) server.ReplicaAck(c, offset);
                return;
            }
            else if (c.ArgIs(j, "getack"u8))
            {
                // Answered (with REPLCONF ACK) only to our own master; never replied to otherwise.
                if ((c.Flags & ClientFlags.Master) != 0 && server.Config.MasterHost != null) server.AckRequested();
                return;
            }
            else if (c.ArgIs(j, "rdb-only"u8))
            {
                if (!NumberParser.TryParseInt64(c.Arg(j + 1), out long v) || v is not (0 or 1))
                {
                    c.Reply.Error("value is not an integer or out of range");
                    return;
                }
            }
            else if (c.ArgIs(j, "rdb-filter-only"u8))
            {
                // Accepted as 7.0 does; the filter itself only matters for rdb-only transfers.
            }
            else
            {
                c.Reply.Error("Unrecognized REPLCONF option: " + Encoding.UTF8.GetString(c.Arg(j)));
                return;
            }
        }
        c.Reply.Ok();
    }

    private static bool Refuse(Client c)
    {
        // Already a replica: a repeated SYNC is ignored.
        if ((c.Flags & ClientFlags.Replica) != 0) return true;
        if (!c.Server.CanServeSync)
        {
            c.Reply.Error("-NOMASTERLINK Can't SYNC while not connected with my master");
            return true;
        }
        if (c.Reply.Length > 0 || c.Connection.InFlightBytes > 0)
        {
            c.Reply.Error("SYNC and PSYNC are invalid with pending output");
            return true;
        }
        return false;
    }

    private static void Psync(Client c)
    {
        if (Refuse(c)) return;
        if (!NumberParser.TryParseInt64(c.Arg(2), out long offset))
        {
            c.Reply.Error("value is not an integer or out of range");
            return;
        }
        if (c.Argc > 3 && c.ArgIs(3, "failover"u8) && c.Server.AcceptFailoverPsync(c, Encoding.ASCII.GetString(c.Arg(1))) is string refused)
        {
            c.Reply.Error(refused);
            return;
        }
        c.Server.ReplicaSync(c, psync: true, Encoding.ASCII.GetString(c.Arg(1)), offset);
    }

    private static void Sync(Client c)
    {
        if (Refuse(c)) return;
        c.Server.ReplicaSync(c, psync: false, "?", -1);
    }

    /// <summary>A client in WAIT: released when enough replicas acknowledged its offset, or at its timeout.</summary>
    internal sealed class WaitRequest : BlockedRequest
    {
        public override BlockType Type => BlockType.Wait;
        public long Offset;
        public long NumReplicas;
        public override bool TryServe(Client receiver, byte[] key) => false;
        public override void ReplyTimeout(Client c)
        {
            c.Server.WaitDone(c);
            c.Reply.Integer(c.Server.ReplicasAcked(Offset));
        }
    }

    private static void Wait(Client c)
    {
        var server = c.Server;
        if ((c.Flags & ClientFlags.Master) != 0 || server.IsReplica)
        {
            c.Reply.Error("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
            return;
        }
        if (!NumberParser.TryParseInt64(c.Arg(1), out long n))
        {
            c.Reply.Error("value is not an integer or out of range");
            return;
        }
        if (!BlockTimeout.TryParseMilliseconds(c, 2, out long deadline)) return;
        // The offset of this client's last propagated write (Redis's woff).
        long offset = c.WriteOffset;
        long acked = server.ReplicasAcked(offset);
        if (acked >= n || c.DenyBlocking)
        {
            c.Reply.Integer(acked);
            return;
        }
        var req = new WaitRequest { TimeoutMs = deadline, Offset = offset, NumReplicas = n };
        server.Blocking.Block(c, req);
        server.AddWaiter(c);
    }

    /// <summary>REPLICAOF / SLAVEOF host port | NO ONE.</summary>
    private static void ReplicaOf(Client c)
    {
        var server = c.Server;
        if (server.ClusterEnabled)
        {
            c.Reply.Error("REPLICAOF not allowed in cluster mode.");
            return;
        }
        if (server.ReplicationStatus.FailoverState != "no-failover")
        {
            c.Reply.Error("REPLICAOF not allowed while failing over.");
            return;
        }
        if (c.ArgIs(1, "no"u8) && c.ArgIs(2, "one"u8))
        {
            if (server.Config.MasterHost != null)
            {
                server.UnsetMaster();
                server.Log.Notice($"MASTER MODE enabled (user request from '{server.ClientInfoString(c)}')");
            }
            c.Reply.Ok();
            return;
        }
        if ((c.Flags & ClientFlags.Replica) != 0)
        {
            c.Reply.Error("Command is not valid when client is a replica.");
            return;
        }
        if (!NumberParser.TryParseInt64(c.Arg(2), out long port) || port < 0 || port > 65535)
        {
            c.Reply.Error("Invalid master port");
            return;
        }
        string host = c.ArgString(1);
        if (server.Config.MasterHost is { } current && string.Equals(current, host, StringComparison.OrdinalIgnoreCase) && server.Config.MasterPort == port)
        {
            server.Log.Notice("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            c.Reply.Raw("+OK Already connected to specified master\r\n"u8);
            return;
        }
        server.SetMaster(host, (int)port);
        server.Log.Notice($"REPLICAOF {host}:{port} enabled (user request from '{server.ClientInfoString(c)}')");
        c.Reply.Ok();
    }

    /// <summary>FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms].</summary>
    private static void Failover(Client c)
    {
        var server = c.Server;
        if (server.ClusterEnabled)
        {
            c.Reply.Error("FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.");
            return;
        }
        if (c.Argc == 2 && c.ArgIs(1, "abort"u8))
        {
            if (server.Failover == FailoverState.None)
            {
                c.Reply.Error("No failover in progress.");
                return;
            }
            server.AbortFailover("Failover manually aborted");
            c.Reply.Ok();
            return;
        }
        string? host = null;
        long port = 0, timeoutMs = 0;
        bool force = false;
        for (int j = 1; j < c.Argc; j++)
        {
            if (c.ArgIs(j, "timeout"u8) && j + 1 < c.Argc && timeoutMs == 0)
            {
                if (!NumberParser.TryParseInt64(c.Arg(j + 1), out timeoutMs))
                {
                    c.Reply.Error("value is not an integer or out of range");
                    return;
                }
                if (timeoutMs <= 0)
                {
                    c.Reply.Error("FAILOVER timeout must be greater than 0");
                    return;
                }
                j++;
            }
            else if (c.ArgIs(j, "to"u8) && j + 2 < c.Argc && host is null)
            {
                if (!NumberParser.TryParseInt64(c.Arg(j + 2), out port))
                {
                    c.Reply.Error("value is not an integer or out of range");
                    return;
                }
                host = c.ArgString(j + 1);
                j += 2;
            }
            else if (c.ArgIs(j, "force"u8) && !force) force = true;
            else
            {
                c.Reply.Error("syntax error");
                return;
            }
        }
        if (server.Failover != FailoverState.None)
        {
            c.Reply.Error("FAILOVER already in progress.");
            return;
        }
        if (server.Config.MasterHost != null)
        {
            c.Reply.Error("FAILOVER is not valid when server is a replica.");
            return;
        }
        if (server.Replicas.Count == 0)
        {
            c.Reply.Error("FAILOVER requires connected replicas.");
            return;
        }
        if (force && (timeoutMs == 0 || host is null))
        {
            c.Reply.Error("FAILOVER with force option requires both a timeout and target HOST and IP.");
            return;
        }
        if (host != null)
        {
            var target = server.FindReplica(host, (int)port);
            if (target is null)
            {
                c.Reply.Error("FAILOVER target HOST and PORT is not a replica.");
                return;
            }
            if (target.State != Replication.ReplicaState.Online)
            {
                c.Reply.Error("FAILOVER target replica is not online.");
                return;
            }
        }
        server.StartFailover(host, (int)port, timeoutMs, force);
        c.Reply.Ok();
    }
}
