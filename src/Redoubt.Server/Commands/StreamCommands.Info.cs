using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS, XINFO HELP.</summary>
public static partial class StreamCommands
{
    private static void BindInfo(CommandTable t)
    {
        t.Bind("xinfo|stream", XInfoStream);
        t.Bind("xinfo|groups", XInfoGroups);
        t.Bind("xinfo|consumers", XInfoConsumers);
        t.Bind("xinfo|help", c => KeyspaceCommands.ReplyHelp(c, XInfoHelp));
    }

    private static readonly string[] XInfoHelp =
    [
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
    ];

    /// <summary>XINFO's lookup: a missing key is "ERR no such key".</summary>
    private static StreamObject? InfoLookup(Client c)
    {
        var obj = c.Db.LookupRead(c.Arg(2), (c.Flags & ClientFlags.NoTouch) != 0);
        if (obj is null)
        {
            c.Reply.Error("-ERR no such key");
            return null;
        }
        if (obj is StreamObject s) return s;
        c.WrongType();
        return null;
    }

    /// <summary>Redis's streamReplyWithCGLag: entries not yet delivered to the group, or null when unknown.</summary>
    private static void ReplyLag(Client c, StreamObject s, StreamGroup g)
    {
        if (s.EntriesAdded == 0)
        {
            c.Reply.Integer(0);
            return;
        }
        if (g.EntriesRead != StreamGroup.InvalidEntriesRead && !RangeHasTombstones(s, g.LastId, StreamId.Max))
        {
            c.Reply.Integer(s.EntriesAdded - g.EntriesRead);
            return;
        }
        long read = EstimateDistanceFromFirstEverEntry(s, g.LastId);
        if (read != StreamGroup.InvalidEntriesRead) c.Reply.Integer(s.EntriesAdded - read);
        else c.Reply.Null();
    }

    private static void ReplyEntriesRead(Client c, StreamGroup g)
    {
        if (g.EntriesRead != StreamGroup.InvalidEntriesRead) c.Reply.Integer(g.EntriesRead);
        else c.Reply.Null();
    }

    private static void XInfoStream(Client c)
    {
        bool full = false;
        long count = 10;
        int optc = c.Argc - 3;
        if (optc != 0)
        {
            if ((optc != 1 && optc != 3) || !c.ArgIs(3, "full"u8) || (optc == 3 && !c.ArgIs(4, "count"u8)))
            {
                ClientCommands.SubcommandSyntaxError(c);
                return;
            }
            full = true;
            if (optc == 3)
            {
                if (!c.TryGetLong(5, out count)) return;
                if (count < 0) count = 10;
            }
        }
        var s = InfoLookup(c);
        if (s is null) return;
        var r = c.Reply;
        r.MapHeader(full ? 9 : 10);
        r.Bulk("length"u8);
        r.Integer(s.Length);
        r.Bulk("radix-tree-keys"u8);
        r.Integer(s.NodeCount);
        // Our nodes sit in an array rather than a radix tree: report what a tree of that many keys
        // would roughly need (one inner node per key plus the root).
        r.Bulk("radix-tree-nodes"u8);
        r.Integer(s.NodeCount + 1);
        r.Bulk("last-generated-id"u8);
        ReplyId(c, s.LastId);
        r.Bulk("max-deleted-entry-id"u8);
        ReplyId(c, s.MaxDeletedId);
        r.Bulk("entries-added"u8);
        r.Integer(s.EntriesAdded);
        r.Bulk("recorded-first-entry-id"u8);
        ReplyId(c, s.FirstId);
        if (!full)
        {
            r.Bulk("groups"u8);
            r.Integer(s.GroupCount);
            r.Bulk("first-entry"u8);
            if (s.SeekFirst(StreamId.Zero, out var first)) ReplyEntry(c, s, first);
            else r.Null();
            r.Bulk("last-entry"u8);
            if (s.SeekLast(StreamId.Max, out var last)) ReplyEntry(c, s, last);
            else r.Null();
            return;
        }
        r.Bulk("entries"u8);
        ReplyRange(c, s, StreamId.Zero, StreamId.Max, count, rev: false);
        r.Bulk("groups"u8);
        r.ArrayHeader(s.GroupCount);
        foreach (var g in s.Groups)
        {
            r.MapHeader(7);
            r.Bulk("name"u8);
            r.Bulk(g.Name);
            r.Bulk("last-delivered-id"u8);
            ReplyId(c, g.LastId);
            r.Bulk("entries-read"u8);
            ReplyEntriesRead(c, g);
            r.Bulk("lag"u8);
            ReplyLag(c, s, g);
            r.Bulk("pel-count"u8);
            r.Integer(g.Pending.Count);
            r.Bulk("pending"u8);
            long n = count == 0 ? g.Pending.Count : Math.Min(count, g.Pending.Count);
            r.ArrayHeader(n);
            foreach (var p in g.Pending)
            {
                if (n-- == 0) break;
                r.ArrayHeader(4);
                ReplyId(c, p.Id);
                r.Bulk(p.Consumer.Name);
                r.Integer(p.DeliveryTime);
                r.Integer(p.DeliveryCount);
            }
            r.Bulk("consumers"u8);
            r.ArrayHeader(g.ConsumerCount);
            foreach (var consumer in g.Consumers)
            {
                r.MapHeader(4);
                r.Bulk("name"u8);
                r.Bulk(consumer.Name);
                r.Bulk("seen-time"u8);
                r.Integer(consumer.SeenTime);
                r.Bulk("pel-count"u8);
                r.Integer(consumer.Pending.Count);
                r.Bulk("pending"u8);
                long m = count == 0 ? consumer.Pending.Count : Math.Min(count, consumer.Pending.Count);
                r.ArrayHeader(m);
                foreach (var p in consumer.Pending)
                {
                    if (m-- == 0) break;
                    r.ArrayHeader(3);
                    ReplyId(c, p.Id);
                    r.Integer(p.DeliveryTime);
                    r.Integer(p.DeliveryCount);
                }
            }
        }
    }

    private static void XInfoGroups(Client c)
    {
        var s = InfoLookup(c);
        if (s is null) return;
        var r = c.Reply;
        r.ArrayHeader(s.GroupCount);
        foreach (var g in s.Groups)
        {
            r.MapHeader(6);
            r.Bulk("name"u8);
            r.Bulk(g.Name);
            r.Bulk("consumers"u8);
            r.Integer(g.ConsumerCount);
            r.Bulk("pending"u8);
            r.Integer(g.Pending.Count);
            r.Bulk("last-delivered-id"u8);
            ReplyId(c, g.LastId);
            r.Bulk("entries-read"u8);
            ReplyEntriesRead(c, g);
            r.Bulk("lag"u8);
            ReplyLag(c, s, g);
        }
    }

    private static void XInfoConsumers(Client c)
    {
        var s = InfoLookup(c);
        if (s is null) return;
        var g = s.FindGroup(c.Arg(3));
        if (g is null)
        {
            c.Reply.Error($"-NOGROUP No such consumer group '{Str(c.Arg(3))}' for key name '{Str(c.Arg(2))}'");
            return;
        }
        var r = c.Reply;
        long now = c.Server.NowMs;
        r.ArrayHeader(g.ConsumerCount);
        foreach (var consumer in g.Consumers)
        {
            r.MapHeader(3);
            r.Bulk("name"u8);
            r.Bulk(consumer.Name);
            r.Bulk("pending"u8);
            r.Integer(consumer.Pending.Count);
            r.Bulk("idle"u8);
            r.Integer(Math.Max(0, now - consumer.SeenTime));
        }
    }
}
