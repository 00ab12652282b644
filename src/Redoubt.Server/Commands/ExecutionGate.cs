using System.Diagnostics;
using System.Text;
using Redoubt.Server.Propagation;

namespace Redoubt.Server.Commands;

/// <summary>
/// The one gate every command passes before its handler (Redis's processCommand): lookup, arity,
/// authentication, ACL, transaction queuing, and the server-state checks (loading, OOM, read-only
/// replica, min-replicas, pub/sub context). Then <see cref="Call"/> runs the handler and keeps stats.
/// </summary>
public static class ExecutionGate
{
    // Extra checks contributed by later subsystems (replication, persistence, memory); each returns an
    // error or null. Copy-on-write: a server attaching its subsystems (several run in one test process)
    // never changes the array another thread is iterating.
    private static Func<Client, Command, string?>[] _stateChecks = [];
    private static readonly Lock StateChecksGate = new();

    /// <summary>Adds a server-state check; the same delegate given again is ignored.</summary>
    public static void AddStateCheck(Func<Client, Command, string?> check)
    {
        lock (StateChecksGate)
        {
            if (Array.IndexOf(_stateChecks, check) >= 0) return;
            _stateChecks = [.. _stateChecks, check];
        }
    }

    public static void Process(Client c)
    {
        int replyMark = c.Reply.Length;
        var server = c.Server;
        var previous = server.CurrentClient;
        server.CurrentClient = c;
        ProcessCommand(c);
        server.CurrentClient = previous;
        // A command held back by CLIENT PAUSE has not run yet: its turn comes later.
        if (c.ReplyMode != ReplyMode.On && (c.Flags & ClientFlags.Paused) == 0) ApplyReplyMode(c, replyMark);
    }

    /// <summary>
    /// CLIENT REPLY OFF/SKIP: drops what the command just processed wrote while the mode (as the
    /// command left it) was OFF or SKIP. SKIP lasts for one command; SKIP_NEXT (set by CLIENT REPLY
    /// SKIP) turns into SKIP for the following one.
    /// </summary>
    private static void ApplyReplyMode(Client c, int replyMark)
    {
        var mode = c.ReplyMode;
        if (mode == ReplyMode.Off || mode == ReplyMode.Skip) c.Reply.Truncate(replyMark);
        if (mode == ReplyMode.Skip) c.ReplyMode = ReplyMode.On;
        else if (mode == ReplyMode.SkipNext) c.ReplyMode = ReplyMode.Skip;
    }

    private static void ProcessCommand(Client c)
    {
        var server = c.Server;
        // Clients usually repeat a command: compare with the last one before hashing the name.
        var last = c.LastCmd;
        var cmd = last != null && last.Parent is null && c.Arg(0).Length == last.NameBytes.Length &&
                  System.Text.Ascii.EqualsIgnoreCase(c.Arg(0), last.NameBytes) && server.Commands.IsCurrentName(last)
            ? last
            : server.Commands.Lookup(c.Arg(0));
        if (cmd != null && cmd.IsContainer)
        {
            if (c.Argc >= 2)
            {
                var sub = CommandTable.LookupSub(cmd, c.Arg(1));
                c.LastCmd = sub;
                if (sub is null || sub.Handler is null)
                {
                    Reject(c, null, $"unknown subcommand '{Truncate(c.ArgString(1), 128)}'. Try {cmd.Name.ToUpperInvariant()} HELP.");
                    return;
                }
                cmd = sub;
            }
            else if (cmd.Handler is null)
            {
                c.LastCmd = cmd;
                // A container called alone: arity error on the container itself, as Redis does
                // (unless the container answers by itself, as COMMAND does).
                Reject(c, cmd, $"wrong number of arguments for '{cmd.Name}' command");
                return;
            }
        }
        c.LastCmd = cmd;
        if (cmd is null || cmd.Handler is null)
        {
            var args = new StringBuilder();
            for (int i = 1; i < c.Argc && args.Length < 128; i++)
            {
                string a = Encoding.Latin1.GetString(c.Arg(i));
                int room = 128 - args.Length;
                args.Append('\'').Append(a.Length > room ? a[..room] : a).Append("' ");
            }
            Reject(c, null, $"unknown command '{Truncate(c.ArgString(0), 128)}', with args beginning with: {args}");
            return;
        }
        c.Cmd = cmd;
        int arity = cmd.Arity;
        if ((arity > 0 && arity != c.Argc) || c.Argc < -arity)
        {
            Reject(c, cmd, $"wrong number of arguments for '{cmd.FullName}' command");
            return;
        }
        if (cmd.Has(CommandFlags.Protected) && server.ProtectedCommandError(c, cmd) is string protectedError)
        {
            Reject(c, cmd, protectedError);
            return;
        }
        if (server.AuthRequired(c) && !cmd.Has(CommandFlags.NoAuth))
        {
            Reject(c, cmd, "-NOAUTH Authentication required.");
            return;
        }
        bool inMulti = c.InMulti;
        if (inMulti && cmd.Has(CommandFlags.NoMulti))
        {
            Reject(c, cmd, "Command not allowed inside a transaction");
            return;
        }
        // The master's stream is applied as sent: no ACL, no memory refusal (Redis's obey-client rule).
        bool fromMaster = (c.Flags & ClientFlags.Master) != 0;
        if (!fromMaster && server.Acl.CheckCommand(c, cmd) is string aclError)
        {
            Reject(c, cmd, aclError);
            return;
        }
        if (!fromMaster && (server.Config.MaxMemory != 0 || server.Config.MaxMemoryClients != 0) && !server.ScriptTimedOut)
        {
            // Client eviction, then key eviction and the OOM refusal (RedisServer.Eviction.cs).
            var oomError = server.CheckMemoryBeforeCommand(c, cmd, out bool selfEvicted);
            if (selfEvicted) return;
            if (oomError != null)
            {
                Reject(c, cmd, oomError);
                return;
            }
        }
        foreach (var check in _stateChecks)
        {
            if (check(c, cmd) is string stateError)
            {
                Reject(c, cmd, stateError);
                return;
            }
        }
        // A script running past busy-reply-threshold: only SCRIPT/FUNCTION KILL, SHUTDOWN NOSAVE and
        // the connection and transaction commands flagged allow-busy.
        if (server.ScriptTimedOut && !cmd.Has(CommandFlags.AllowBusy))
        {
            Reject(c, cmd, server.BusyError);
            return;
        }
        if ((c.Flags & ClientFlags.PubSub) != 0 && c.Reply.Protocol == 2 && !IsAllowedInSubscribedContext(cmd))
        {
            Reject(c, cmd, $"Can't execute '{cmd.FullName}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
            return;
        }
        var pause = server.Pause;
        if (pause.Active)
        {
            if (pause.ExpireIfDue(server.NowMs)) server.ReleasePostponedClients();
            if (pause.Active && pause.MustPostpone(c, cmd))
            {
                server.PostponeClient(c);
                return;
            }
        }
        if (inMulti && !IsTransactionControl(cmd))
        {
            // EXEC is paused by CLIENT PAUSE WRITE when any queued command may write.
            if (c.MultiQueue is not { Count: > 0 }) c.MultiCommandFlags = 0;
            c.MultiCommandFlags |= pause.FlagsOf(c, cmd);
            Transactions.Queue(c, cmd);
            return;
        }
        Call(c, cmd);
        // Invalidations for this client's own keys follow its reply; CLIENT CACHING lasts one command.
        if (server.Tracking != null) server.TrackingAfterCommand(c, cmd);
        // Like Redis after call(): clients blocked on keys this command (or EXEC) pushed to are served now.
        server.HandleClientsBlockedOnKeys();
    }

    /// <summary>
    /// Runs the handler, timing it for INFO commandstats, SLOWLOG, LATENCY and the latency histograms,
    /// then feeds MONITOR and checks the client's output buffer limits.
    /// </summary>
    public static void Call(Client c, Command cmd)
    {
        var server = c.Server;
        var stats = server.Stats;
        stats.ErrorRepliesMark = stats.TotalErrorReplies;
        c.ClearRedactions();
        long start = Stopwatch.GetTimestamp();
        c.Cmd = cmd;
        // Propagation state is per call: EXEC runs its queue as nested calls on the same client.
        var propagation = server.Propagation;
        long dirtyBefore = stats.Dirty;
        var savedPropFlags = c.PropFlags;
        var savedPropArgv = c.PropagateArgv;
        c.PropFlags = PropagationFlags.None;
        c.PropagateArgv = null;
        long replOffsetBefore = server.ReplicationStatus.MasterReplOffset;
        propagation.Depth++;
        server.CallDepth++;
        try { cmd.Handler!(c); }
        finally { propagation.Depth--; server.CallDepth--; }
        if (propagation.Active)
        {
            server.PropagateCall(c, cmd, stats.Dirty - dirtyBefore);
            // What a top-level command (or EXEC's queue) produced goes out as one unit.
            if (propagation.Depth == 0) propagation.Flush();
        }
        if (server.ReplicationStatus.MasterReplOffset != replOffsetBefore) c.WriteOffset = server.ReplicationStatus.MasterReplOffset;
        c.PropFlags = savedPropFlags;
        c.PropagateArgv = savedPropArgv;
        // Client-side caching: the keys a tracking client just read may now be in its cache.
        if ((c.Flags & (ClientFlags.TrackingOn | ClientFlags.Script)) != 0) server.TrackingAfterRead(c, cmd);
        long elapsedTicks = Stopwatch.GetTimestamp() - start;
        long micros = elapsedTicks * 1_000_000 / Stopwatch.Frequency;
        cmd.Calls++;
        cmd.MicrosecondsTotal += micros;
        if (stats.TotalErrorReplies > stats.ErrorRepliesMark) cmd.FailedCalls++;
        stats.ErrorRepliesMark = stats.TotalErrorReplies;
        server.Stats.TotalCommandsProcessed++;
        // EXEC and scripts run other commands through here, which leaves c.Cmd at the last of them.
        c.Cmd = cmd;
        server.OnCommandExecuted(c, cmd, micros);
        c.ClearRedactions();
        server.AfterCall(c, cmd, micros);
    }

    private static void Reject(Client c, Command? cmd, string error)
    {
        if (cmd != null) cmd.RejectedCalls++;
        if (cmd != null && cmd.Name == "exec")
        {
            // A refused EXEC discards the transaction and says why.
            Transactions.Reset(c);
            c.Reply.Error("-EXECABORT Transaction discarded because of: " + (error.StartsWith('-') ? error[1..] : error));
            return;
        }
        if (c.InMulti) c.Flags |= ClientFlags.DirtyExec;
        c.Reply.Error(error);
    }

    private static bool IsTransactionControl(Command cmd)
        => cmd.Name is "exec" or "discard" or "multi" or "watch" or "quit" or "reset";

    private static bool IsAllowedInSubscribedContext(Command cmd)
        => cmd.Name is "ping" or "subscribe" or "ssubscribe" or "unsubscribe" or "sunsubscribe"
            or "psubscribe" or "punsubscribe" or "quit" or "reset";

    private static string Truncate(string s, int max) => s.Length > max ? s[..max] : s;
}
