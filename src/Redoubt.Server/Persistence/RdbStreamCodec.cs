using System.Buffers.Binary;
using Redoubt.Server.Protocol;

namespace Redoubt.Server.Persistence;

/// <summary>
/// STREAM_LISTPACKS payloads (types 15 and 19) to and from <see cref="RdbStreamData"/>. Entries are packed
/// into listpack nodes as Redis's XADD packs them: a node opens with a master entry holding its first
/// entry's field names, entries with the same fields omit them (SAMEFIELDS), IDs are stored as deltas
/// from the node's master ID, and a node is closed at stream-node-max-bytes / stream-node-max-entries.
/// </summary>
public static class RdbStreamCodec
{
    private const int FlagDeleted = 1, FlagSameFields = 2;

    public static void Write(RdbEncoder e, RdbStreamData s, ListpackBuilder lp, RedisServer? server)
    {
        long maxBytes = server?.Config.StreamNodeMaxBytes ?? 4096;
        long maxEntries = server?.Config.StreamNodeMaxEntries ?? 100;
        if (maxBytes == 0 || maxBytes > 1L << 30) maxBytes = 1L << 30;

        // Node boundaries first: the node count precedes the nodes.
        var starts = new List<int>();
        {
            long bytes = 0, count = 0;
            for (int i = 0; i < s.Entries.Count; i++)
            {
                long size = 0;
                foreach (var x in s.Entries[i].FieldsAndValues) size += x.Length;
                if (starts.Count == 0 || bytes + size >= maxBytes || (maxEntries > 0 && count >= maxEntries))
                {
                    starts.Add(i);
                    bytes = 0;
                    count = 0;
                }
                bytes = EstimateNodeBytes(s, starts[^1], i, lp);
                count++;
            }
        }
        e.WriteLen((ulong)starts.Count);
        Span<byte> key = stackalloc byte[16];
        for (int n = 0; n < starts.Count; n++)
        {
            int from = starts[n], to = n + 1 < starts.Count ? starts[n + 1] : s.Entries.Count;
            BuildNode(s, from, to, lp);
            var master = s.Entries[from].Id;
            BinaryPrimitives.WriteUInt64BigEndian(key, master.Ms);
            BinaryPrimitives.WriteUInt64BigEndian(key[8..], master.Seq);
            e.WriteString(key);
            e.WriteString(lp.Finish());
        }
        e.WriteLen(s.Length);
        e.WriteLen(s.LastId.Ms);
        e.WriteLen(s.LastId.Seq);
        e.WriteLen(s.FirstId.Ms);
        e.WriteLen(s.FirstId.Seq);
        e.WriteLen(s.MaxDeletedId.Ms);
        e.WriteLen(s.MaxDeletedId.Seq);
        e.WriteLen(s.EntriesAdded);
        e.WriteLen((ulong)s.Groups.Count);
        foreach (var g in s.Groups)
        {
            e.WriteString(g.Name);
            e.WriteLen(g.LastId.Ms);
            e.WriteLen(g.LastId.Seq);
            e.WriteLen((ulong)g.EntriesRead);
            e.WriteLen((ulong)g.Pending.Count);
            foreach (var p in g.Pending)
            {
                WriteRawId(e, p.Id, key);
                e.WriteInt64LE(p.DeliveryTimeMs);
                e.WriteLen(p.DeliveryCount);
            }
            e.WriteLen((ulong)g.Consumers.Count);
            foreach (var c in g.Consumers)
            {
                e.WriteString(c.Name);
                e.WriteInt64LE(c.SeenTimeMs);
                e.WriteLen((ulong)c.Pending.Count);
                foreach (var id in c.Pending) WriteRawId(e, id, key);
            }
        }
    }

    private static void WriteRawId(RdbEncoder e, RdbStreamId id, Span<byte> scratch)
    {
        BinaryPrimitives.WriteUInt64BigEndian(scratch, id.Ms);
        BinaryPrimitives.WriteUInt64BigEndian(scratch[8..], id.Seq);
        e.WriteRaw(scratch[..16]);
    }

    private static long EstimateNodeBytes(RdbStreamData s, int from, int last, ListpackBuilder lp)
    {
        BuildNode(s, from, last + 1, lp);
        return lp.Size;
    }

    private static void BuildNode(RdbStreamData s, int from, int to, ListpackBuilder lp)
    {
        lp.Reset();
        var first = s.Entries[from];
        var masterFields = first.FieldsAndValues;
        int numFields = masterFields.Length / 2;
        lp.AppendInt(to - from);
        lp.AppendInt(0);
        lp.AppendInt(numFields);
        for (int f = 0; f < numFields; f++) lp.Append(masterFields[2 * f]);
        lp.AppendInt(0);
        for (int i = from; i < to; i++)
        {
            var en = s.Entries[i];
            var fv = en.FieldsAndValues;
            bool same = fv.Length == masterFields.Length;
            for (int f = 0; same && f < numFields; f++) same = fv[2 * f].AsSpan().SequenceEqual(masterFields[2 * f]);
            lp.AppendInt(same ? FlagSameFields : 0);
            lp.AppendInt((long)(en.Id.Ms - first.Id.Ms));
            lp.AppendInt((long)(en.Id.Seq - first.Id.Seq));
            int n = fv.Length / 2;
            if (same)
            {
                for (int f = 0; f < n; f++) lp.Append(fv[2 * f + 1]);
                lp.AppendInt(n + 3);
            }
            else
            {
                lp.AppendInt(n);
                for (int f = 0; f < fv.Length; f++) lp.Append(fv[f]);
                lp.AppendInt(2 * n + 4);
            }
        }
    }

    // ---- reading -------------------------------------------------------------------------------

    public static RdbStreamData Read(RdbReader r, int type, bool deep)
    {
        var s = new RdbStreamData();
        ulong nodes = r.ReadLen();
        var scratch = new byte[24];
        RdbStreamId previous = default;
        bool any = false;
        for (ulong n = 0; n < nodes; n++)
        {
            var nodeKey = r.ReadStringSpan();
            if (nodeKey.Length != 16) throw new RdbFormatException("Stream node key entry is not the size of a stream ID");
            var master = new RdbStreamId(BinaryPrimitives.ReadUInt64BigEndian(nodeKey), BinaryPrimitives.ReadUInt64BigEndian(nodeKey[8..]));
            var lpBytes = r.ReadStringSpan();
            ListpackReader.Validate(lpBytes, deep);
            var lp = new ListpackReader(lpBytes);
            if (!lp.Next(out _, out long count, out bool isInt) || !isInt) throw new RdbFormatException("Empty listpack inside stream");
            long deleted = NextInt(ref lp);
            long numFields = NextInt(ref lp);
            if (numFields < 0 || numFields > lpBytes.Length) throw new RdbFormatException("stream master fields corrupt");
            var fields = new byte[numFields][];
            for (int f = 0; f < numFields; f++) fields[f] = NextBytes(ref lp, scratch).ToArray();
            if (NextInt(ref lp) != 0) throw new RdbFormatException("stream master entry not terminated");
            long seen = 0, records = 0;
            while (lp.Next(out _, out long flags, out isInt))
            {
                if (!isInt) throw new RdbFormatException("stream entry flags corrupt");
                long msDiff = NextInt(ref lp), seqDiff = NextInt(ref lp);
                var id = new RdbStreamId(master.Ms + (ulong)msDiff, master.Seq + (ulong)seqDiff);
                byte[][] fv;
                records++;
                if ((flags & FlagSameFields) != 0)
                {
                    fv = new byte[numFields * 2][];
                    for (int f = 0; f < numFields; f++)
                    {
                        fv[2 * f] = fields[f];
                        fv[2 * f + 1] = NextBytes(ref lp, scratch).ToArray();
                    }
                }
                else
                {
                    long nf = NextInt(ref lp);
                    if (nf < 0 || nf > lpBytes.Length) throw new RdbFormatException("stream entry fields corrupt");
                    fv = new byte[nf * 2][];
                    for (int f = 0; f < fv.Length; f++) fv[f] = NextBytes(ref lp, scratch).ToArray();
                }
                // lp-count lets XREVRANGE walk backwards: the entry's elements besides itself.
                long lpCount = NextInt(ref lp);
                if (deep && lpCount != ((flags & FlagSameFields) != 0 ? numFields + 3 : fv.Length + 4))
                    throw new RdbFormatException("stream entry lp-count corrupt");
                if ((flags & FlagDeleted) != 0) continue;
                if (any && id.CompareTo(previous) <= 0) throw new RdbFormatException("stream entries out of order");
                previous = id;
                any = true;
                seen++;
                s.Entries.Add(new RdbStreamEntry(id, fv));
            }
            if (deep && (seen != count || records != count + deleted)) throw new RdbFormatException("stream node count mismatch");
        }
        s.Length = r.ReadLen();
        s.LastId = new RdbStreamId(r.ReadLen(), r.ReadLen());
        if (type == Rdb.TypeStreamListpacks2)
        {
            s.FirstId = new RdbStreamId(r.ReadLen(), r.ReadLen());
            s.MaxDeletedId = new RdbStreamId(r.ReadLen(), r.ReadLen());
            s.EntriesAdded = r.ReadLen();
        }
        else
        {
            s.FirstId = s.Entries.Count > 0 ? s.Entries[0].Id : default;
            s.EntriesAdded = s.Length;
            s.Legacy = true;
        }
        if ((ulong)s.Entries.Count != s.Length && deep) throw new RdbFormatException("stream length mismatch");
        ulong groups = r.ReadLen();
        Span<byte> rawId = stackalloc byte[16];
        for (ulong g = 0; g < groups; g++)
        {
            var name = r.ReadStringBytes();
            var lastId = new RdbStreamId(r.ReadLen(), r.ReadLen());
            long entriesRead = type == Rdb.TypeStreamListpacks2 ? (long)r.ReadLen() : -1;
            ulong pelSize = r.ReadLen();
            r.CheckCount(pelSize, 16);
            var pel = new List<RdbStreamPending>((int)pelSize);
            var pelIds = new HashSet<RdbStreamId>();
            for (ulong p = 0; p < pelSize; p++)
            {
                var id = ReadRawId(r, rawId);
                long delivery = r.ReadInt64LE();
                ulong deliveryCount = r.ReadLen();
                if (!pelIds.Add(id)) throw new RdbFormatException("Duplicated global PEL entry loading stream consumer group");
                pel.Add(new RdbStreamPending(id, delivery, deliveryCount));
            }
            ulong consumers = r.ReadLen();
            r.CheckCount(consumers, 9);
            var list = new List<RdbStreamConsumer>();
            var owned = new HashSet<RdbStreamId>();
            var names = new HashSet<string>();
            for (ulong c = 0; c < consumers; c++)
            {
                var cname = r.ReadStringBytes();
                long seenTime = r.ReadInt64LE();
                if (!names.Add(System.Text.Encoding.Latin1.GetString(cname))) throw new RdbFormatException("Duplicate stream consumer detected.");
                ulong n = r.ReadLen();
                r.CheckCount(n, 16);
                var ids = new List<RdbStreamId>((int)n);
                for (ulong k = 0; k < n; k++)
                {
                    var id = ReadRawId(r, rawId);
                    if (!pelIds.Contains(id)) throw new RdbFormatException("Consumer entry not found in group global PEL");
                    if (!owned.Add(id)) throw new RdbFormatException("Duplicated consumer PEL entry loading a stream consumer group");
                    ids.Add(id);
                }
                list.Add(new RdbStreamConsumer(cname, seenTime, ids));
            }
            if (deep && owned.Count != pelIds.Count) throw new RdbFormatException("Global PEL entry without a consumer");
            s.Groups.Add(new RdbStreamGroup(name, lastId, entriesRead, pel, list));
        }
        return s;
    }

    private static RdbStreamId ReadRawId(RdbReader r, Span<byte> buf)
    {
        r.ReadRaw(buf);
        return new RdbStreamId(BinaryPrimitives.ReadUInt64BigEndian(buf), BinaryPrimitives.ReadUInt64BigEndian(buf[8..]));
    }

    private static long NextInt(ref ListpackReader lp)
    {
        if (!lp.Next(out var s, out long v, out bool isInt)) throw new RdbFormatException("stream listpack truncated");
        if (isInt) return v;
        if (!NumberParser.TryParseInt64(s, out v)) throw new RdbFormatException("stream listpack integer expected");
        return v;
    }

    private static ReadOnlySpan<byte> NextBytes(ref ListpackReader lp, Span<byte> scratch)
    {
        if (!lp.NextBytes(scratch, out var v)) throw new RdbFormatException("stream listpack truncated");
        return v;
    }
}
