using System.Text;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>Consumer groups: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM.</summary>
public static partial class StreamCommands
{
    private static void BindGroups(CommandTable t)
    {
        t.Bind("xgroup|create", XGroup);
        t.Bind("xgroup|setid", XGroup);
        t.Bind("xgroup|destroy", XGroup);
        t.Bind("xgroup|createconsumer", XGroup);
        t.Bind("xgroup|delconsumer", XGroup);
        t.Bind("xgroup|help", c => KeyspaceCommands.ReplyHelp(c, XGroupHelp));
        t.Bind("xack", XAck);
        t.Bind("xpending", XPending);
        t.Bind("xclaim", XClaim);
        t.Bind("xautoclaim", XAutoClaim);
    }

    private static readonly string[] XGroupHelp =
    [
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
    ];

    internal static string Str(ReadOnlySpan<byte> s) => Encoding.Latin1.GetString(s);

    /// <summary>Redis's streamCreateConsumer: counts as a change and sends "xgroup-createconsumer".</summary>
    internal static StreamConsumer? CreateConsumer(Client c, StreamGroup g, ReadOnlySpan<byte> name, ReadOnlySpan<byte> key)
    {
        var created = g.CreateConsumer(name, c.Server.NowMs);
        if (created is null) return null;
        c.Server.Dirty();
        c.Server.Notify(KeyspaceEventClass.Stream, "xgroup-createconsumer", key, c.Db.Id);
        return created;
    }

    /// <summary>Redis's streamLookupConsumer (refreshing seen-time) or streamCreateConsumer.</summary>
    internal static StreamConsumer LookupOrCreateConsumer(Client c, StreamGroup g, ReadOnlySpan<byte> name, ReadOnlySpan<byte> key)
    {
        var consumer = g.FindConsumer(name);
        if (consumer != null)
        {
            consumer.SeenTime = c.Server.NowMs;
            return consumer;
        }
        return CreateConsumer(c, g, name, key)!;
    }

    // ---- propagation: the effects of group reads and claims travel as idempotent commands ----------

    /// <summary>XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID group-last-id.</summary>
    internal static void PropagateXClaim(Client c, ReadOnlySpan<byte> key, StreamGroup g, byte[] id, PendingEntry p)
    {
        if (!c.Propagating) return;
        c.AlsoPropagate("XCLAIM"u8.ToArray(), key.ToArray(), g.Name, p.Consumer.Name, "0"u8.ToArray(), id,
            "TIME"u8.ToArray(), LongBytes(p.DeliveryTime), "RETRYCOUNT"u8.ToArray(), LongBytes(p.DeliveryCount),
            "FORCE"u8.ToArray(), "JUSTID"u8.ToArray(), "LASTID"u8.ToArray(), IdBytes(g.LastId));
    }

    /// <summary>XGROUP SETID key group last-id ENTRIESREAD n: a moved last ID no XCLAIM carries.</summary>
    internal static void PropagateGroupId(Client c, ReadOnlySpan<byte> key, StreamGroup g)
    {
        if (!c.Propagating) return;
        c.AlsoPropagate("XGROUP"u8.ToArray(), "SETID"u8.ToArray(), key.ToArray(), g.Name, IdBytes(g.LastId),
            "ENTRIESREAD"u8.ToArray(), LongBytes(g.EntriesRead));
    }

    /// <summary>XGROUP CREATECONSUMER key group consumer: a consumer no XCLAIM will create.</summary>
    internal static void PropagateConsumerCreation(Client c, ReadOnlySpan<byte> key, StreamGroup g, StreamConsumer consumer)
    {
        if (!c.Propagating) return;
        c.AlsoPropagate("XGROUP"u8.ToArray(), "CREATECONSUMER"u8.ToArray(), key.ToArray(), g.Name, consumer.Name);
    }

    private static byte[] LongBytes(long v) => System.Text.Encoding.ASCII.GetBytes(v.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER (Redis's xgroupCommand).</summary>
    private static void XGroup(Client c)
    {
        bool create = c.ArgIs(1, "create"u8), setid = c.ArgIs(1, "setid"u8);
        bool mkstream = false;
        long entriesRead = StreamGroup.InvalidEntriesRead;
        for (int i = 5; i < c.Argc;)
        {
            if (create && c.ArgIs(i, "mkstream"u8)) { mkstream = true; i++; }
            else if ((create || setid) && c.ArgIs(i, "entriesread"u8) && i + 1 < c.Argc)
            {
                if (!c.TryGetLong(i + 1, out entriesRead)) return;
                if (entriesRead < 0 && entriesRead != StreamGroup.InvalidEntriesRead)
                {
                    c.Reply.Error("value for ENTRIESREAD must be positive or -1");
                    return;
                }
                i += 2;
            }
            else
            {
                ClientCommands.SubcommandSyntaxError(c);
                return;
            }
        }
        var key = c.Arg(2);
        if (!TryWrite(c, key, out var s, out int slot)) return;
        var groupName = c.Arg(3);
        StreamGroup? g = null;
        if (!mkstream)
        {
            if (s is null)
            {
                c.Reply.Error("The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
                return;
            }
            g = s.FindGroup(groupName);
            if (g is null && !create && !c.ArgIs(1, "destroy"u8))
            {
                c.Reply.Error($"-NOGROUP No such consumer group '{Str(groupName)}' for key name '{Str(key)}'");
                return;
            }
        }
        if (create)
        {
            if (c.Argc > 8) { ClientCommands.SubcommandSyntaxError(c); return; }
            StreamId id;
            if (c.Arg(4).SequenceEqual("$"u8)) id = s?.LastId ?? StreamId.Zero;
            else if (!TryParseId(c, 4, 0, strict: true, out id)) return;
            if (s is null)
            {
                s = new StreamObject(key.ToArray());
                slot = c.Db.Add(s);
                c.Server.SignalModifiedKey(c.Db, key);
            }
            if (s.CreateGroup(groupName, id, entriesRead) is null)
            {
                c.Reply.Error("-BUSYGROUP Consumer Group name already exists");
                return;
            }
            c.Db.ReplaceAt(slot, s);
            c.Reply.Ok();
            c.Server.Dirty();
            c.Server.Notify(KeyspaceEventClass.Stream, "xgroup-create", key, c.Db.Id);
        }
        else if (setid)
        {
            if (c.Argc != 5 && c.Argc != 7) { ClientCommands.SubcommandSyntaxError(c); return; }
            StreamId id;
            if (c.Arg(4).SequenceEqual("$"u8)) id = s!.LastId;
            else if (!TryParseId(c, 4, 0, strict: false, out id)) return;
            g!.LastId = id;
            g.EntriesRead = entriesRead;
            c.Reply.Ok();
            c.Server.Dirty();
            c.Server.Notify(KeyspaceEventClass.Stream, "xgroup-setid", key, c.Db.Id);
        }
        else if (c.ArgIs(1, "destroy"u8))
        {
            if (g != null)
            {
                s!.DestroyGroup(groupName);
                c.Db.ReplaceAt(slot, s);
                c.Reply.Integer(1);
                c.Server.Dirty();
                c.Server.Notify(KeyspaceEventClass.Stream, "xgroup-destroy", key, c.Db.Id);
                // Readers blocked in this group must now be told it is gone.
                c.Server.Blocking.SignalKeyAsReady(c.Db, key);
            }
            else c.Reply.Integer(0);
        }
        else if (c.ArgIs(1, "createconsumer"u8))
        {
            var created = CreateConsumer(c, g!, c.Arg(4), key);
            if (created != null) c.Db.ReplaceAt(slot, s!);
            c.Reply.Integer(created != null ? 1 : 0);
        }
        else
        {
            long pending = 0;
            var consumer = g!.FindConsumer(c.Arg(4));
            if (consumer != null)
            {
                pending = g.DeleteConsumer(consumer);
                c.Db.ReplaceAt(slot, s!);
                c.Server.Dirty();
                c.Server.Notify(KeyspaceEventClass.Stream, "xgroup-delconsumer", key, c.Db.Id);
            }
            c.Reply.Integer(pending);
        }
    }

    /// <summary>XACK key group id [id ...]</summary>
    private static void XAck(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var s)) return;
        var g = s?.FindGroup(c.Arg(2));
        if (g is null)
        {
            c.Reply.Integer(0);
            return;
        }
        for (int j = 3; j < c.Argc; j++)
            if (!TryParseId(c, j, 0, strict: true, out _)) return;
        long acked = 0;
        for (int j = 3; j < c.Argc; j++)
        {
            TryParseId(c, j, 0, strict: true, out var id);
            var p = g.FindPending(id);
            if (p is null) continue;
            g.RemovePending(p);
            acked++;
            c.Server.Dirty();
        }
        c.Reply.Integer(acked);
    }

    /// <summary>XPENDING key group [[IDLE min-idle-time] start end count [consumer]]</summary>
    private static void XPending(Client c)
    {
        bool summary = c.Argc == 3;
        if (c.Argc != 3 && (c.Argc < 6 || c.Argc > 9))
        {
            c.SyntaxError();
            return;
        }
        StreamId start = default, end = default;
        long count = 0, minIdle = 0;
        int consumerIdx = -1;
        if (c.Argc >= 6)
        {
            int startIdx = 3;
            if (c.ArgIs(3, "idle"u8))
            {
                if (!c.TryGetLong(4, out minIdle)) return;
                if (c.Argc < 8)
                {
                    c.SyntaxError();
                    return;
                }
                startIdx += 2;
            }
            if (!c.TryGetLong(startIdx + 2, out count)) return;
            if (count < 0) count = 0;
            if (!TryParseInterval(c, startIdx, 0, out start, out bool startEx)) return;
            if (startEx && !start.TryIncrement(out start))
            {
                c.Reply.Error("invalid start ID for the interval");
                return;
            }
            if (!TryParseInterval(c, startIdx + 1, ulong.MaxValue, out end, out bool endEx)) return;
            if (endEx && !end.TryDecrement(out end))
            {
                c.Reply.Error("invalid end ID for the interval");
                return;
            }
            if (startIdx + 3 < c.Argc) consumerIdx = startIdx + 3;
        }
        if (!TryRead(c, c.Arg(1), out var s)) return;
        var g = s?.FindGroup(c.Arg(2));
        if (g is null)
        {
            c.Reply.Error($"-NOGROUP No such key '{Str(c.Arg(1))}' or consumer group '{Str(c.Arg(2))}'");
            return;
        }
        if (summary)
        {
            c.Reply.ArrayHeader(4);
            c.Reply.Integer(g.Pending.Count);
            if (g.Pending.Count == 0)
            {
                c.Reply.Null();
                c.Reply.Null();
                c.Reply.NullArray();
                return;
            }
            ReplyId(c, g.Pending.Min!.Id);
            ReplyId(c, g.Pending.Max!.Id);
            int mark = c.Reply.BeginDeferred();
            long n = 0;
            foreach (var consumer in g.Consumers)
            {
                if (consumer.Pending.Count == 0) continue;
                c.Reply.ArrayHeader(2);
                c.Reply.Bulk(consumer.Name);
                c.Reply.BulkInteger(consumer.Pending.Count);
                n++;
            }
            c.Reply.EndDeferred(mark, n);
            return;
        }
        SortedSet<PendingEntry> pel = g.Pending;
        if (consumerIdx >= 0)
        {
            var consumer = g.FindConsumer(c.Arg(consumerIdx));
            if (consumer is null)
            {
                c.Reply.EmptyArray();
                return;
            }
            pel = consumer.Pending;
        }
        long now = c.Server.NowMs;
        int m = c.Reply.BeginDeferred();
        long written = 0;
        if (count > 0)
        {
            foreach (var p in g.PendingRange(pel, start, end))
            {
                if (minIdle != 0 && now - p.DeliveryTime < minIdle) continue;
                c.Reply.ArrayHeader(4);
                ReplyId(c, p.Id);
                c.Reply.Bulk(p.Consumer.Name);
                c.Reply.Integer(Math.Max(0, now - p.DeliveryTime));
                c.Reply.Integer(p.DeliveryCount);
                written++;
                if (--count == 0) break;
            }
        }
        c.Reply.EndDeferred(m, written);
    }

    /// <summary>Replies one entry, found by ID, as XRANGE would (XCLAIM/XAUTOCLAIM without JUSTID).</summary>
    private static void ReplyEntryById(Client c, StreamObject s, StreamId id)
    {
        if (s.SeekFirst(id, out var cur) && cur.Id == id) ReplyEntry(c, s, cur);
        else c.Reply.NullArray();
    }

    /// <summary>Moves a pending entry to <paramref name="consumer"/> (XCLAIM, XAUTOCLAIM).</summary>
    private static void Reassign(StreamGroup g, PendingEntry p, StreamConsumer consumer)
    {
        if (p.Consumer == consumer) return;
        p.Consumer?.Pending.Remove(p);
        p.Consumer = consumer;
        consumer.Pending.Add(p);
    }

    /// <summary>
    /// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-ms] [RETRYCOUNT count]
    /// [FORCE] [JUSTID] [LASTID id]
    /// </summary>
    private static void XClaim(Client c)
    {
        var key = c.Arg(1);
        if (!TryRead(c, key, out var s)) return;
        var g = s?.FindGroup(c.Arg(2));
        if (s is null || g is null)
        {
            c.Reply.Error($"-NOGROUP No such key '{Str(key)}' or consumer group '{Str(c.Arg(2))}'");
            return;
        }
        if (!c.TryGetLong(4, out long minIdle, "Invalid min-idle-time argument for XCLAIM")) return;
        if (minIdle < 0) minIdle = 0;
        int j = 5;
        while (j < c.Argc && TryParseId(c, c.Arg(j), 0, true, out _, false, out _, reply: false)) j++;
        int lastIdArg = j - 1;
        long now = c.Server.NowMs, deliveryTime = -1, retryCount = -1;
        bool force = false, justId = false;
        var lastId = StreamId.Zero;
        for (; j < c.Argc; j++)
        {
            int more = c.Argc - 1 - j;
            if (c.ArgIs(j, "force"u8)) force = true;
            else if (c.ArgIs(j, "justid"u8)) justId = true;
            else if (c.ArgIs(j, "idle"u8) && more > 0)
            {
                if (!c.TryGetLong(++j, out deliveryTime, "Invalid IDLE option argument for XCLAIM")) return;
                deliveryTime = now - deliveryTime;
            }
            else if (c.ArgIs(j, "time"u8) && more > 0)
            {
                if (!c.TryGetLong(++j, out deliveryTime, "Invalid TIME option argument for XCLAIM")) return;
            }
            else if (c.ArgIs(j, "retrycount"u8) && more > 0)
            {
                if (!c.TryGetLong(++j, out retryCount, "Invalid RETRYCOUNT option argument for XCLAIM")) return;
            }
            else if (c.ArgIs(j, "lastid"u8) && more > 0)
            {
                if (!TryParseId(c, ++j, 0, strict: true, out lastId)) return;
            }
            else
            {
                c.Reply.Error($"Unrecognized XCLAIM option '{Str(c.Arg(j))}'");
                return;
            }
        }
        // When nothing is claimed but LASTID moved the group, XGROUP SETID carries the move.
        bool propagateLastId = false;
        if (lastId > g.LastId)
        {
            g.LastId = lastId;
            propagateLastId = true;
        }
        if (deliveryTime != -1)
        {
            if (deliveryTime < 0 || deliveryTime > now) deliveryTime = now;
        }
        else deliveryTime = now;
        StreamConsumer? consumer = null;
        int mark = c.Reply.BeginDeferred();
        long n = 0;
        for (int k = 5; k <= lastIdArg; k++)
        {
            TryParseId(c, c.Arg(k), 0, true, out var id, false, out _, reply: false);
            var p = g.FindPending(id);
            if (!s.Contains(id))
            {
                // An entry deleted from the stream leaves the PEL (propagated as an XCLAIM of it).
                if (p != null)
                {
                    PropagateXClaim(c, key, g, c.ArgBytes(k), p);
                    propagateLastId = false;
                    g.RemovePending(p);
                    c.Server.Dirty();
                }
                continue;
            }
            if (force && p is null)
            {
                p = new PendingEntry { Id = id, DeliveryTime = now, DeliveryCount = 1 };
                g.Pending.Add(p);
            }
            if (p is null) continue;
            if (p.Consumer != null && minIdle != 0 && now - p.DeliveryTime < minIdle) continue;
            consumer ??= LookupOrCreateConsumer(c, g, c.Arg(3), key);
            p.DeliveryTime = deliveryTime;
            if (retryCount >= 0) p.DeliveryCount = retryCount;
            else if (!justId) p.DeliveryCount++;
            Reassign(g, p, consumer);
            if (justId) ReplyId(c, id);
            else ReplyEntryById(c, s, id);
            n++;
            PropagateXClaim(c, key, g, c.ArgBytes(k), p);
            propagateLastId = false;
            c.Server.Dirty();
        }
        if (propagateLastId)
        {
            PropagateGroupId(c, key, g);
            c.Server.Dirty();
        }
        c.PreventPropagation();
        c.Reply.EndDeferred(mark, n);
    }

    /// <summary>XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]</summary>
    private static void XAutoClaim(Client c)
    {
        var key = c.Arg(1);
        if (!c.TryGetLong(4, out long minIdle, "Invalid min-idle-time argument for XAUTOCLAIM")) return;
        if (minIdle < 0) minIdle = 0;
        if (!TryParseInterval(c, 5, 0, out var start, out bool startEx)) return;
        if (startEx && !start.TryIncrement(out start))
        {
            c.Reply.Error("invalid start ID for the interval");
            return;
        }
        long count = 100;
        bool justId = false;
        for (int j = 6; j < c.Argc; j++)
        {
            int more = c.Argc - 1 - j;
            if (c.ArgIs(j, "count"u8) && more > 0)
            {
                const long maxCount = long.MaxValue / 16;
                if (!Protocol.NumberParser.TryParseInt64(c.Arg(j + 1), out count) || count < 1 || count > maxCount)
                {
                    c.Reply.Error("COUNT must be > 0");
                    return;
                }
                j++;
            }
            else if (c.ArgIs(j, "justid"u8)) justId = true;
            else
            {
                c.SyntaxError();
                return;
            }
        }
        if (!TryRead(c, key, out var s)) return;
        var g = s?.FindGroup(c.Arg(2));
        if (s is null || g is null)
        {
            c.Reply.Error($"-NOGROUP No such key '{Str(key)}' or consumer group '{Str(c.Arg(2))}'");
            return;
        }
        long attempts = count * 10;
        // The PEL changes while claiming, so take the candidates first (one more than can be visited:
        // the one after the last visited is the cursor returned).
        var candidates = new List<PendingEntry>();
        foreach (var p in g.PendingRange(g.Pending, start, StreamId.Max))
        {
            candidates.Add(p);
            if (candidates.Count > attempts) break;
        }
        long now = c.Server.NowMs;
        StreamConsumer? consumer = null;
        var deleted = new List<StreamId>();
        var claimed = new List<StreamId>();
        int i = 0;
        while (attempts-- > 0 && count > 0 && i < candidates.Count)
        {
            var p = candidates[i++];
            if (!s.Contains(p.Id))
            {
                PropagateXClaim(c, key, g, IdBytes(p.Id), p);
                g.RemovePending(p);
                deleted.Add(p.Id);
                count--;
                c.Server.Dirty();
                continue;
            }
            if (minIdle != 0 && now - p.DeliveryTime < minIdle) continue;
            consumer ??= LookupOrCreateConsumer(c, g, c.Arg(3), key);
            p.DeliveryTime = now;
            if (!justId) p.DeliveryCount++;
            Reassign(g, p, consumer);
            claimed.Add(p.Id);
            count--;
            PropagateXClaim(c, key, g, IdBytes(p.Id), p);
            c.Server.Dirty();
        }
        c.PreventPropagation();
        c.Reply.ArrayHeader(3);
        ReplyId(c, i < candidates.Count ? candidates[i].Id : StreamId.Zero);
        c.Reply.ArrayHeader(claimed.Count);
        foreach (var id in claimed)
        {
            if (justId) ReplyId(c, id);
            else ReplyEntryById(c, s, id);
        }
        c.Reply.ArrayHeader(deleted.Count);
        foreach (var id in deleted) ReplyId(c, id);
    }
}
