using System.Text;

namespace Redoubt.Server.Commands;

/// <summary>The CLIENT LIST / CLIENT INFO line, field for field as Redis 7.0 prints it.</summary>
public static class ClientInfo
{
    public static string Format(RedisServer server, Client c) => Append(new StringBuilder(256), server, c).ToString();

    /// <summary>
    /// Appends the line. Output fields map our buffers onto Redis's: obl is what waits in the reply
    /// buffer, oll the number of buffers being written to the socket (0 or 1), omem all output not
    /// yet taken by the socket (what output buffer limits apply to), rbs/rbp the reply buffer's size
    /// and its recent peak use.
    /// </summary>
    public static StringBuilder Append(StringBuilder sb, RedisServer server, Client c)
    {
        var f = c.Flags;
        int flagsStart;
        long now = server.NowMs;
        var conn = c.Connection;
        long qbuf = c.QueryEnd - c.QueryStart;
        long qbufFree = c.QueryBuf.Length - c.QueryEnd;
        long multiCount = c.InMulti ? c.MultiQueue?.Count ?? 0 : -1;
        long multiMem = 0;
        if (c.MultiQueue != null) foreach (var (_, argv) in c.MultiQueue) foreach (var a in argv) multiMem += a.Length;
        // Arguments are held only while a command runs or waits (blocked, paused).
        long argvMem = 0;
        if (c == server.CurrentClient || (f & (ClientFlags.Blocked | ClientFlags.Paused)) != 0)
            for (int i = 0; i < c.Argc; i++) argvMem += c.Arg(i).Length;
        long obl = c.Reply.Length;
        long inFlight = conn?.InFlightBytes ?? 0;
        long omem = obl + inFlight;
        // What client eviction (maxmemory-clients) and used_memory count for this client.
        long totMem = server.ClientMemory(c);

        sb.Append("id=").Append(c.Id)
          .Append(" addr=").Append(c.Address)
          .Append(" laddr=").Append(c.LocalAddress)
          .Append(" fd=").Append(conn?.Fd ?? -1)
          .Append(" name=").Append(c.Name ?? "")
          .Append(" age=").Append(now / 1000 - c.CreatedAtMs / 1000)
          .Append(" idle=").Append(now / 1000 - c.LastInteractionMs / 1000)
          .Append(" flags=");
        flagsStart = sb.Length;
        if ((f & ClientFlags.Replica) != 0 || (f & ClientFlags.Monitor) != 0) sb.Append((f & ClientFlags.Monitor) != 0 ? 'O' : 'S');
        if ((f & ClientFlags.Master) != 0) sb.Append('M');
        if ((f & ClientFlags.PubSub) != 0) sb.Append('P');
        if ((f & ClientFlags.Multi) != 0) sb.Append('x');
        // Clients held back by CLIENT PAUSE are blocked, as Redis shows them.
        if ((f & (ClientFlags.Blocked | ClientFlags.Paused)) != 0) sb.Append('b');
        if ((f & ClientFlags.TrackingOn) != 0) sb.Append('t');
        if ((c.TrackingMode & Tracking.TrackingMode.BrokenRedirect) != 0) sb.Append('R');
        if ((c.TrackingMode & Tracking.TrackingMode.Bcast) != 0) sb.Append('B');
        if ((f & ClientFlags.DirtyCas) != 0) sb.Append('d');
        if ((f & ClientFlags.CloseAfterReply) != 0) sb.Append('c');
        if ((f & ClientFlags.Unblocked) != 0) sb.Append('u');
        if ((f & ClientFlags.CloseAsap) != 0) sb.Append('A');
        if (c.IsUnixSocket) sb.Append('U');
        if ((f & ClientFlags.ReadOnly) != 0) sb.Append('r');
        if ((f & ClientFlags.NoEvict) != 0) sb.Append('e');
        if (sb.Length == flagsStart) sb.Append('N');

        sb.Append(" db=").Append(c.DbIndex)
          .Append(" sub=").Append(c.SubscribedChannels)
          .Append(" psub=").Append(c.SubscribedPatterns)
          .Append(" ssub=").Append(c.SubscribedShardChannels)
          .Append(" multi=").Append(multiCount)
          .Append(" qbuf=").Append(qbuf)
          .Append(" qbuf-free=").Append(qbufFree)
          .Append(" argv-mem=").Append(argvMem)
          .Append(" multi-mem=").Append(multiMem)
          .Append(" rbs=").Append(c.Reply.Buffer.Length)
          .Append(" rbp=").Append(c.ReplyPeak)
          .Append(" obl=").Append(obl)
          .Append(" oll=").Append(inFlight > 0 ? 1 : 0)
          .Append(" omem=").Append(omem)
          .Append(" tot-mem=").Append(totMem)
          .Append(" events=");
        // A client always has its read handler; the write one while output is pending.
        if (conn != null)
        {
            sb.Append('r');
            if (omem > 0) sb.Append('w');
        }
        sb.Append(" cmd=").Append(c.LastCmd?.FullName ?? "NULL")
          .Append(" user=").Append(c.User.Name)
          .Append(" redir=").Append((f & ClientFlags.TrackingOn) != 0 ? c.TrackingRedirect : -1)
          .Append(" resp=").Append(c.Reply.Protocol);
        return sb;
    }
}
