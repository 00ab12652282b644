using Redoubt.Server.Storage;

namespace Redoubt.Server.Persistence;

/// <summary>
/// Converts between the stream type (<see cref="StreamObject"/>) and the RDB layer's
/// <see cref="RdbStreamData"/>, and installs itself as <see cref="RedisServer.StreamFromRdb"/> /
/// <see cref="RedisServer.StreamToRdb"/> unless the stream type has set its own.
/// </summary>
public static class RdbStreamAdapter
{
    public static void Attach(RedisServer server)
    {
        server.StreamFromRdb ??= (key, data) => ToStream(server, key, data);
        server.StreamToRdb ??= obj => ToData((StreamObject)obj);
    }

    public static RdbStreamData ToData(StreamObject s)
    {
        var d = new RdbStreamData
        {
            Length = (ulong)s.Length,
            LastId = Id(s.LastId),
            FirstId = Id(s.FirstId),
            MaxDeletedId = Id(s.MaxDeletedId),
            EntriesAdded = (ulong)s.EntriesAdded,
        };
        if (s.SeekFirst(StreamId.Zero, out var cur))
        {
            do
            {
                var f = s.Fields(cur);
                var fv = new byte[f.Count * 2][];
                int i = 0;
                while (f.MoveNext())
                {
                    fv[i++] = f.Field.ToArray();
                    fv[i++] = f.Value.ToArray();
                }
                d.Entries.Add(new RdbStreamEntry(Id(cur.Id), fv));
            } while (s.MoveNext(ref cur));
        }
        foreach (var g in s.Groups)
        {
            var pel = g.Pending.Select(p => new RdbStreamPending(Id(p.Id), p.DeliveryTime, (ulong)p.DeliveryCount)).ToList();
            var consumers = g.Consumers.Select(c => new RdbStreamConsumer(c.Name, c.SeenTime, c.Pending.Select(p => Id(p.Id)).ToList())).ToList();
            d.Groups.Add(new RdbStreamGroup(g.Name, Id(g.LastId), g.EntriesRead, pel, consumers));
        }
        return d;
    }

    public static StreamObject ToStream(RedisServer server, byte[] key, RdbStreamData d)
    {
        var s = new StreamObject(key);
        long maxBytes = server.Config.StreamNodeMaxBytes, maxEntries = server.Config.StreamNodeMaxEntries;
        foreach (var e in d.Entries) s.Append(Sid(e.Id), e.FieldsAndValues, maxBytes, maxEntries);
        s.Length = (long)d.Length;
        s.LastId = Sid(d.LastId);
        s.FirstId = Sid(d.FirstId);
        s.MaxDeletedId = Sid(d.MaxDeletedId);
        s.EntriesAdded = (long)d.EntriesAdded;
        foreach (var g in d.Groups)
        {
            // Older files kept no read counter: it is estimated from the stream, as Redis does on load.
            long entriesRead = d.Legacy ? Commands.StreamCommands.EstimateDistanceFromFirstEverEntry(s, Sid(g.LastId)) : g.EntriesRead;
            var group = s.CreateGroup(g.Name, Sid(g.LastId), entriesRead)
                ?? throw new RdbFormatException("Duplicated consumer group name");
            var owner = new Dictionary<RdbStreamId, Storage.StreamConsumer>();
            foreach (var c in g.Consumers)
            {
                var consumer = group.CreateConsumer(c.Name, c.SeenTimeMs) ?? throw new RdbFormatException("Duplicated consumer name");
                consumer.SeenTime = c.SeenTimeMs;
                foreach (var id in c.Pending) owner[id] = consumer;
            }
            foreach (var p in g.Pending)
            {
                // Redis refuses a global PEL entry that no consumer owns.
                if (!owner.TryGetValue(p.Id, out var consumer)) throw new RdbFormatException("Global PEL entry without a consumer");
                group.AddPending(new PendingEntry { Id = Sid(p.Id), DeliveryTime = p.DeliveryTimeMs, DeliveryCount = (long)p.DeliveryCount, Consumer = consumer });
            }
        }
        return s;
    }

    private static RdbStreamId Id(StreamId id) => new(id.Ms, id.Seq);
    private static StreamId Sid(RdbStreamId id) => new(id.Ms, id.Seq);
}
