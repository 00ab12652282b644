using System.Text;

namespace Redoubt.Server.Commands;

/// <summary>The CLIENT LIST / CLIENT INFO line, field for field as Redis 7.0 prints it.</summary>
public static class ClientInfo
{
    public static string Format(RedisServer server, Client c)
    {
        var flags = new StringBuilder();
        if ((c.Flags & ClientFlags.Replica) != 0) flags.Append((c.Flags & ClientFlags.Monitor) != 0 ? 'O' : 'S');
        if ((c.Flags & ClientFlags.Master) != 0) flags.Append('M');
        if ((c.Flags & ClientFlags.PubSub) != 0) flags.Append('P');
        if ((c.Flags & ClientFlags.Multi) != 0) flags.Append('x');
        if ((c.Flags & ClientFlags.Blocked) != 0) flags.Append('b');
        if ((c.Flags & ClientFlags.TrackingOn) != 0) flags.Append('t');
        if ((c.Flags & ClientFlags.DirtyCas) != 0) flags.Append('d');
        if ((c.Flags & ClientFlags.CloseAfterReply) != 0) flags.Append('c');
        if ((c.Flags & ClientFlags.Unblocked) != 0) flags.Append('u');
        if ((c.Flags & ClientFlags.CloseAsap) != 0) flags.Append('A');
        if (c.IsUnixSocket) flags.Append('U');
        if ((c.Flags & ClientFlags.ReadOnly) != 0) flags.Append('r');
        if ((c.Flags & ClientFlags.NoEvict) != 0) flags.Append('e');
        if (flags.Length == 0) flags.Append('N');

        long now = server.NowMs;
        long qbuf = c.QueryEnd - c.QueryStart;
        long qbufFree = c.QueryBuf.Length - c.QueryEnd;
        long obl = c.Reply.Length;
        long multiCount = c.InMulti ? c.MultiQueue?.Count ?? 0 : -1;
        long multiMem = 0;
        if (c.MultiQueue != null) foreach (var (_, argv) in c.MultiQueue) foreach (var a in argv) multiMem += a.Length;
        long argvMem = 0;
        for (int i = 0; i < c.Argc; i++) argvMem += c.Arg(i).Length;
        long totMem = c.QueryBuf.Length + c.Reply.Buffer.Length + multiMem + 1024;
        string cmd = c.LastCmd?.FullName ?? "NULL";
        return $"id={c.Id} addr={c.Address} laddr={c.LocalAddress} fd={8 + c.Id % 10000} name={c.Name ?? ""} " +
               $"age={(now - c.CreatedAtMs) / 1000} idle={(now - c.LastInteractionMs) / 1000} flags={flags} db={c.DbIndex} " +
               $"sub={c.SubscribedChannels} psub={c.SubscribedPatterns} ssub={c.SubscribedShardChannels} multi={multiCount} " +
               $"qbuf={qbuf} qbuf-free={qbufFree} argv-mem={argvMem} multi-mem={multiMem} rbs={c.Reply.Buffer.Length} rbp={c.Reply.Buffer.Length} " +
               $"obl={obl} oll=0 omem=0 tot-mem={totMem} events=r cmd={cmd} user={c.User.Name} redir=-1 resp={c.Reply.Protocol}";
    }
}
