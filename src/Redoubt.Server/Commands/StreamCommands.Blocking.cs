using Redoubt.Server.Blocking;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// XREAD and XREADGROUP (Redis's xreadCommand). With BLOCK and nothing to serve they block on the keys
/// through the generic registry; an XADD to one of them (or for XREADGROUP, the key's deletion or the
/// group's destruction) serves them in blocking order.
/// </summary>
public static partial class StreamCommands
{
    private const long BlockedDefaultCount = 1000;

    private static void BindBlocking(CommandTable t)
    {
        t.Bind("xread", c => XRead(c, group: false));
        t.Bind("xreadgroup", c => XRead(c, group: true));
    }

    /// <summary>What a client blocked in XREAD/XREADGROUP waits for.</summary>
    private sealed class StreamRequest : BlockedRequest
    {
        /// <summary>Per key (in Keys order, after duplicates are dropped): the ID entries must be greater than.</summary>
        public readonly Dictionary<byte[], StreamId> After = new(ByteArrayComparer.Instance);
        public long Count;
        public byte[]? Group, Consumer;
        public bool NoAck;

        public override BlockType Type => BlockType.Stream;

        public override bool TryServe(Client receiver, byte[] key) => ServeBlocked(receiver, this, key);
    }

    private static void XRead(Client c, bool group)
    {
        long timeout = -1, count = 0;
        int streamsArg = 0, streams = 0;
        bool noAck = false;
        int groupIdx = -1;
        for (int i = 1; i < c.Argc; i++)
        {
            int more = c.Argc - i - 1;
            if (c.ArgIs(i, "block"u8) && more > 0)
            {
                if (c.Server.IsScriptClient?.Invoke(c) ?? false)
                {
                    c.Reply.Error($"{Str(c.Arg(0))} command is not allowed with BLOCK option from scripts");
                    return;
                }
                i++;
                if (!BlockTimeout.TryParseMilliseconds(c, i, out timeout)) return;
            }
            else if (c.ArgIs(i, "count"u8) && more > 0)
            {
                if (!c.TryGetLong(++i, out count)) return;
                if (count < 0) count = 0;
            }
            else if (c.ArgIs(i, "streams"u8) && more > 0)
            {
                streamsArg = i + 1;
                streams = c.Argc - streamsArg;
                if (streams % 2 != 0)
                {
                    c.Reply.Error("Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
                    return;
                }
                streams /= 2;
                break;
            }
            else if (c.ArgIs(i, "group"u8) && more >= 2)
            {
                if (!group)
                {
                    c.Reply.Error("The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                    return;
                }
                groupIdx = i + 1;
                i += 2;
            }
            else if (c.ArgIs(i, "noack"u8))
            {
                if (!group)
                {
                    c.Reply.Error("The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                    return;
                }
                noAck = true;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        if (streamsArg == 0)
        {
            c.SyntaxError();
            return;
        }
        if (group && groupIdx < 0)
        {
            c.Reply.Error("Missing GROUP option for XREADGROUP");
            return;
        }
        // Parse IDs and resolve groups; ">" is kept as the maximum ID.
        Span<StreamId> ids = streams <= 16 ? stackalloc StreamId[streams] : new StreamId[streams];
        var groups = group ? new StreamGroup[streams] : null;
        for (int k = 0; k < streams; k++)
        {
            int idIdx = streamsArg + streams + k;
            var key = c.Arg(streamsArg + k);
            if (!TryRead(c, key, out var s)) return;
            if (group)
            {
                var g = s?.FindGroup(c.Arg(groupIdx));
                if (g is null)
                {
                    c.Reply.Error($"-NOGROUP No such key '{Str(key)}' or consumer group '{Str(c.Arg(groupIdx))}' in XREADGROUP with GROUP option");
                    return;
                }
                groups![k] = g;
            }
            var arg = c.Arg(idIdx);
            if (arg.Length == 1 && arg[0] == '$')
            {
                if (group)
                {
                    c.Reply.Error("The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
                    return;
                }
                ids[k] = s?.LastId ?? StreamId.Zero;
            }
            else if (arg.Length == 1 && arg[0] == '>')
            {
                if (!group)
                {
                    c.Reply.Error("The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
                    return;
                }
                ids[k] = StreamId.Max;
            }
            else if (!TryParseId(c, idIdx, 0, strict: true, out ids[k])) return;
        }
        // Serve synchronously what can be served.
        int mark = -1;
        long served = 0;
        for (int k = 0; k < streams; k++)
        {
            var key = c.Arg(streamsArg + k);
            if (c.Db.LookupRead(key, true) is not StreamObject s) continue;
            var gt = ids[k];
            bool now = false, history = false;
            if (group)
            {
                if (gt != StreamId.Max) now = history = true;
                else if (s.Length > 0 && s.LastValidId() > groups![k].LastId)
                {
                    now = true;
                    gt = groups[k].LastId;
                }
            }
            else if (s.Length > 0 && s.LastValidId() > gt) now = true;
            if (!now) continue;
            if (served++ == 0)
            {
                mark = c.Reply.BeginDeferred();
            }
            if (!c.Reply.IsResp3) c.Reply.ArrayHeader(2);
            c.Reply.Bulk(key);
            StreamConsumer? consumer = null;
            if (group) consumer = ConsumerForRead(c, groups![k], c.Arg(groupIdx + 1), key, noAck);
            gt.TryIncrement(out var start);
            if (group && history) ReplyFromConsumerPel(c, s, start, consumer!, count);
            else ReadNew(c, s, start, count, group ? groups![k] : null, consumer, noAck, key);
            if (group) c.Server.Dirty();
        }
        // A group read propagates through what it queued (XCLAIM, XGROUP SETID / CREATECONSUMER).
        c.PreventPropagation();
        if (served > 0)
        {
            c.Reply.EndDeferred(mark, served, c.Reply.IsResp3 ? (byte)'%' : (byte)'*');
            return;
        }
        if (timeout != -1)
        {
            if (c.DenyBlocking)
            {
                c.Reply.NullArray();
                return;
            }
            var req = new StreamRequest
            {
                TimeoutMs = timeout,
                Count = count != 0 ? count : BlockedDefaultCount,
                NoAck = noAck,
                Group = group ? c.ArgBytes(groupIdx) : null,
                Consumer = group ? c.ArgBytes(groupIdx + 1) : null,
            };
            for (int k = 0; k < streams; k++)
            {
                var key = c.ArgBytes(streamsArg + k);
                // The first mention of a key decides what it waits for.
                if (req.After.TryAdd(key, ids[k])) req.Keys.Add(key);
            }
            c.Server.Blocking.Block(c, req);
            return;
        }
        c.Reply.NullArray();
    }

    /// <summary>
    /// Redis's streamReplyWithRange with a group (or without): new entries from <paramref name="start"/>,
    /// moving the group's last-delivered ID and read counter and adding them to the PELs unless NOACK.
    /// </summary>
    private static void ReadNew(Client c, StreamObject s, StreamId start, long count, StreamGroup? g,
        StreamConsumer? consumer, bool noAck, ReadOnlySpan<byte> key)
    {
        bool propagateLastId = false;
        int mark = c.Reply.BeginDeferred();
        long n = 0;
        if (s.SeekFirst(start, out var cur))
        {
            long now = c.Server.NowMs;
            do
            {
                var id = cur.Id;
                if (g != null && id > g.LastId)
                {
                    if (g.EntriesRead != StreamGroup.InvalidEntriesRead && !RangeHasTombstones(s, id, StreamId.Max))
                        g.EntriesRead++;
                    else if (s.EntriesAdded != 0)
                        g.EntriesRead = EstimateDistanceFromFirstEverEntry(s, id);
                    g.LastId = id;
                    // Without PEL entries no XCLAIM carries the new last ID: XGROUP SETID does.
                    if (noAck) propagateLastId = true;
                }
                ReplyEntry(c, s, cur);
                if (g != null && !noAck)
                {
                    var p = g.FindPending(id);
                    if (p is null)
                    {
                        p = new PendingEntry { Id = id, DeliveryTime = now, DeliveryCount = 1, Consumer = consumer! };
                        g.AddPending(p);
                    }
                    else
                    {
                        // XGROUP SETID can make an entry delivered again: it moves to this consumer.
                        p.Consumer.Pending.Remove(p);
                        p.Consumer = consumer!;
                        p.DeliveryTime = now;
                        p.DeliveryCount = 1;
                        consumer!.Pending.Add(p);
                    }
                    if (c.Propagating) PropagateXClaim(c, key, g, IdBytes(id), p);
                }
                n++;
            } while ((count == 0 || n < count) && s.MoveNext(ref cur));
        }
        if (propagateLastId) PropagateGroupId(c, key, g!);
        c.Reply.EndDeferred(mark, n);
    }

    /// <summary>The reading consumer; one created by a NOACK read is propagated (no XCLAIM will create it).</summary>
    private static StreamConsumer ConsumerForRead(Client c, StreamGroup g, ReadOnlySpan<byte> name, ReadOnlySpan<byte> key, bool noAck)
    {
        var existing = g.FindConsumer(name);
        var consumer = LookupOrCreateConsumer(c, g, name, key);
        if (existing is null && noAck) PropagateConsumerCreation(c, key, g, consumer);
        return consumer;
    }

    /// <summary>Redis's streamReplyWithRangeFromConsumerPEL: the consumer's own pending history.</summary>
    private static void ReplyFromConsumerPel(Client c, StreamObject s, StreamId start, StreamConsumer consumer, long count)
    {
        int mark = c.Reply.BeginDeferred();
        long n = 0, now = c.Server.NowMs;
        var view = consumer.Pending.Count == 0 || start > StreamId.Max ? null
            : consumer.Pending.GetViewBetween(new PendingEntry { Id = start }, new PendingEntry { Id = StreamId.Max });
        if (view != null)
        {
            foreach (var p in view)
            {
                if (count != 0 && n >= count) break;
                if (s.SeekFirst(p.Id, out var cur) && cur.Id == p.Id)
                {
                    ReplyEntry(c, s, cur);
                    p.DeliveryTime = now;
                    p.DeliveryCount++;
                }
                else
                {
                    c.Reply.ArrayHeader(2);
                    ReplyId(c, p.Id);
                    c.Reply.NullArray();
                }
                n++;
            }
        }
        c.Reply.EndDeferred(mark, n);
    }

    /// <summary>
    /// Serves a blocked reader once its key was signaled: a group reader whose key or group is gone gets
    /// an error; otherwise it is served when the stream's last ID passed what it waits for.
    /// </summary>
    private static bool ServeBlocked(Client c, StreamRequest req, byte[] key)
    {
        // Found through the write lookup so that memory accounting measures the PEL's growth.
        int slot = StringCommands.FindForWrite(c, key);
        var s = slot >= 0 ? c.Db.ObjectAt(slot) as StreamObject : null;
        if (s is null)
        {
            if (req.Group is null) return false;
            c.Reply.Error("-UNBLOCKED the stream key no longer exists");
            return true;
        }
        var gt = req.After[key];
        StreamGroup? g = null;
        if (req.Group != null)
        {
            g = s.FindGroup(req.Group);
            if (g is null)
            {
                c.Reply.Error("-NOGROUP the consumer group this client was blocked on no longer exists");
                return true;
            }
            gt = g.LastId;
        }
        if (s.LastId <= gt) return false;
        gt.TryIncrement(out var start);
        // What serving one client propagates goes out as one unit (MULTI/EXEC when more than one
        // command), as after a command call.
        var propagation = c.Server.Propagation;
        propagation.Depth++;
        try
        {
            StreamConsumer? consumer = null;
            if (g != null) consumer = ConsumerForRead(c, g, req.Consumer!, key, req.NoAck);
            if (!c.Reply.IsResp3)
            {
                c.Reply.ArrayHeader(1);
                c.Reply.ArrayHeader(2);
            }
            else c.Reply.MapHeader(1);
            c.Reply.Bulk(key);
            ReadNew(c, s, start, req.Count, g, consumer, req.NoAck, key);
        }
        finally
        {
            if (--propagation.Depth == 0) propagation.Flush();
        }
        return true;
    }

    // ---- lag bookkeeping -------------------------------------------------------------------------

    /// <summary>Redis's streamRangeHasTombstones: whether [start, end] may hold a deleted entry.</summary>
    internal static bool RangeHasTombstones(StreamObject s, StreamId start, StreamId end)
    {
        if (s.Length == 0 || s.MaxDeletedId.IsZero) return false;
        if (s.FirstId > s.MaxDeletedId) return false;
        return start <= s.MaxDeletedId && s.MaxDeletedId <= end;
    }

    /// <summary>Redis's streamEstimateDistanceFromFirstEverEntry: the read counter of an ID, or -1 when unknown.</summary>
    internal static long EstimateDistanceFromFirstEverEntry(StreamObject s, StreamId id)
    {
        if (s.EntriesAdded == 0) return 0;
        if (s.Length == 0 && id <= s.LastId) return s.EntriesAdded;
        int cmpLast = id.CompareTo(s.LastId);
        if (cmpLast == 0) return s.EntriesAdded;
        if (cmpLast > 0) return StreamGroup.InvalidEntriesRead;
        int cmpFirst = id.CompareTo(s.FirstId);
        if (s.MaxDeletedId.IsZero || s.MaxDeletedId < s.FirstId)
        {
            if (cmpFirst < 0) return s.EntriesAdded - s.Length;
            if (cmpFirst == 0) return s.EntriesAdded - s.Length + 1;
        }
        return StreamGroup.InvalidEntriesRead;
    }
}
