using System.Buffers.Binary;
using Redoubt.Server.Commands;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

public sealed partial class RedisServer
{
    /// <summary>Links streams into DEBUG DIGEST and FLUSHDB (called once when commands are bound).</summary>
    internal void AttachStreams()
    {
        // Redis's xorObjectDigest for streams: each entry's ID (big-endian 128 bits) then its fields
        // and values, then the last ID, and per group its name, last ID and PEL IDs.
        ValueDigesters[RedisType.Stream] = static (value, digest) =>
        {
            var s = (StreamObject)value;
            Span<byte> id = stackalloc byte[16];
            if (s.SeekFirst(StreamId.Zero, out var cur))
            {
                do
                {
                    WriteId(id, cur.Id);
                    ServerCommands.MixDigest(digest, id);
                    var fields = s.Fields(cur);
                    while (fields.MoveNext())
                    {
                        ServerCommands.MixDigest(digest, fields.Field);
                        ServerCommands.MixDigest(digest, fields.Value);
                    }
                } while (s.MoveNext(ref cur));
            }
            WriteId(id, s.LastId);
            ServerCommands.MixDigest(digest, id);
            foreach (var g in s.Groups)
            {
                ServerCommands.MixDigest(digest, g.Name);
                WriteId(id, g.LastId);
                ServerCommands.MixDigest(digest, id);
                foreach (var p in g.Pending)
                {
                    WriteId(id, p.Id);
                    ServerCommands.MixDigest(digest, id);
                }
            }
        };
        // An expired stream or one swapped away is gone for the XREADGROUP clients waiting on it;
        // serving tells them (readers without a group keep waiting).
        KeyExpiredHooks += (db, key) => Blocking.SignalKeyAsReady(db, key);
        DbSwappedHooks += (a, b) =>
        {
            Blocking.SignalAllWaitedKeys(Databases[a]);
            Blocking.SignalAllWaitedKeys(Databases[b]);
        };
        // A flush deletes streams that XREADGROUP clients may wait on: they must be told.
        DbFlushedHooks += dbId =>
        {
            for (int i = 0; i < Databases.Length; i++)
                if (dbId == -1 || dbId == i) Blocking.SignalAllWaitedKeys(Databases[i]);
        };
    }

    private static void WriteId(Span<byte> dest, StreamId id)
    {
        BinaryPrimitives.WriteUInt64BigEndian(dest, id.Ms);
        BinaryPrimitives.WriteUInt64BigEndian(dest[8..], id.Seq);
    }
}
