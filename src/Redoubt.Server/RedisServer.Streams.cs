using Redoubt.Server.Commands;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

public sealed partial class RedisServer
{
    /// <summary>Links streams into DEBUG DIGEST and FLUSHDB (called once when commands are bound).</summary>
    internal void AttachStreams()
    {
        // Redis's xorObjectDigest for streams: each entry's ID written "ms.seq", then its fields and
        // values, in order (groups are not part of the digest).
        ValueDigesters[RedisType.Stream] = static (value, digest) =>
        {
            var s = (StreamObject)value;
            Span<byte> id = stackalloc byte[48];
            if (!s.SeekFirst(StreamId.Zero, out var cur)) return;
            do
            {
                int n = cur.Id.Format(id);
                id[id[..n].IndexOf((byte)'-')] = (byte)'.';
                ServerCommands.MixDigest(digest, id[..n]);
                var fields = s.Fields(cur);
                while (fields.MoveNext())
                {
                    ServerCommands.MixDigest(digest, fields.Field);
                    ServerCommands.MixDigest(digest, fields.Value);
                }
            } while (s.MoveNext(ref cur));
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
}
