using Redoubt.Server.Commands;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

public sealed partial class Client
{
    /// <summary>The socket side, or null for internal clients (AOF loading, scripts).</summary>
    public Networking.Connection? Connection;

    /// <summary>
    /// Parses and executes every complete command in the query buffer (called under the server lock).
    /// Stops early while the client is blocked or paused, keeping the rest for later, as Redis does.
    /// A command held back by CLIENT PAUSE stays in the buffer and is parsed again when it resumes.
    /// Offsets are only reset by the connection between receives, since a resumed client's input is
    /// processed from another thread while its receive is pending.
    /// </summary>
    internal void ProcessInputBuffer()
    {
        var server = Server;
        Parser.ProtoMaxBulkLen = server.Config.ProtoMaxBulkLen;
        LastInteractionMs = server.NowMs;
        // The peak counts what was read, before it is consumed (the buffer must have room for it).
        if (QueryEnd - QueryStart > QueryBufPeak) QueryBufPeak = QueryEnd - QueryStart;
        // From the second command of a read on (a pipeline), the keys of the next commands are
        // fetched into the cache ahead of running them; a lone command gains nothing from it.
        int firstCommand = QueryStart, prefetchedTo = QueryStart;
        while (QueryStart < QueryEnd)
        {
            if ((Flags & (ClientFlags.Blocked | ClientFlags.CloseAfterReply | ClientFlags.CloseAsap)) != 0) break;
            if (server.Pause.ShouldPause(this)) break;
            if (QueryNeeded > 0 && QueryEnd - QueryStart < QueryNeeded) break;
            if (QueryStart >= prefetchedTo && QueryStart != firstCommand)
                prefetchedTo = QueryStart + Math.Max(1, LookupPrefetcher.Run(Db.Table, QueryBuf.AsSpan(QueryStart, QueryEnd - QueryStart)));

            Parser.AuthRequired = server.AuthRequired(this);
            Parser.IsMasterLink = (Flags & ClientFlags.Master) != 0;
            var status = Parser.Parse(QueryBuf, QueryStart, QueryEnd, out int consumed);
            if (status == ParseStatus.Incomplete)
            {
                QueryNeeded = Parser.Needed;
                // A big argument is read apart from what precedes it, as Redis reads it into a query
                // buffer of its own: CLIENT LIST's qbuf then counts only its bytes.
                QueryBigArgStart = QueryNeeded - 2 - Parser.NeededBulkStart >= BigArgument ? Parser.NeededBulkStart : 0;
                break;
            }
            if (status == ParseStatus.Error)
            {
                Reply.Error(Parser.Error!);
                server.Log.Verbose($"Protocol error ({Parser.Error}) from client: {server.ClientInfoString(this)}");
                Flags |= ClientFlags.CloseAfterReply | ClientFlags.ProtocolError;
                QueryStart = QueryEnd;
                break;
            }
            QueryNeeded = 0;
            QueryBigArgStart = 0;
            SetArgsFromParser();
            int replyMark = Reply.Length;
            if (Argc > 0) ExecutionGate.Process(this);
            if ((Flags & ClientFlags.Paused) != 0) break;
            // The master's stream: replies dropped, bytes counted and forwarded to our own replicas.
            if ((Flags & ClientFlags.Master) != 0) server.MasterCommandApplied(this, QueryBuf.AsSpan(QueryStart, consumed), replyMark);
            QueryStart += consumed;
        }
        long pending = QueryEnd - QueryStart;
        long size = Math.Max(pending, QueryNeeded);
        if (size > QueryBufPeak) QueryBufPeak = size;
        if (size > server.Config.ClientQueryBufferLimit && (Flags & ClientFlags.Master) == 0)
        {
            server.Log.Warning($"Closing client that reached max query buffer length: {server.ClientInfoString(this)} (qbuf initial bytes: \"{Escape(QueryBuf.AsSpan(QueryStart, (int)Math.Min(64, pending)))}\")");
            Flags |= ClientFlags.CloseAsap;
        }
    }

    /// <summary>The size from which a bulk argument counts as big (Redis's PROTO_MBULK_BIG_ARG).</summary>
    internal const int BigArgument = 32 * 1024;

    /// <summary>While a big argument is partly read: where its data starts, from QueryStart (else 0).</summary>
    internal int QueryBigArgStart;

    private static string Escape(ReadOnlySpan<byte> bytes)
    {
        var sb = new System.Text.StringBuilder();
        foreach (byte b in bytes)
        {
            if (b == '\\' || b == '"') sb.Append('\\').Append((char)b);
            else if (b >= 32 && b < 127) sb.Append((char)b);
            else sb.Append("\\x").Append(b.ToString("x2"));
        }
        return sb.ToString();
    }
}
