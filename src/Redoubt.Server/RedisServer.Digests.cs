using Redoubt.Server.Commands;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

/// <summary>
/// DEBUG DIGEST / DIGEST-VALUE for sets, sorted sets and hashes, as Redis's xorObjectDigest computes
/// them: order-independent (each element's digest is xored in), so a replica's digest equals its
/// master's whatever order its tables hold the elements in.
/// </summary>
public sealed partial class RedisServer
{
    internal void AttachDigests()
    {
        ValueDigesters[RedisType.Set] = static (value, digest) =>
        {
            var set = (SetObject)value;
            Span<byte> scratch = stackalloc byte[SetObject.ScratchSize];
            for (int pos = set.First(); pos >= 0; pos = set.NextPosition(pos))
                ServerCommands.XorDigest(digest, set.MemberAt(pos, scratch));
        };
        ValueDigesters[RedisType.ZSet] = static (value, digest) =>
        {
            var z = (SortedSetObject)value;
            Span<byte> element = stackalloc byte[20];
            Span<byte> score = stackalloc byte[40];
            for (int pos = z.First(); pos >= 0; pos = z.Next(pos))
            {
                var member = z.EntryAt(pos, out double s);
                element.Clear();
                ServerCommands.MixDigest(element, member);
                ServerCommands.MixDigest(element, score[..Protocol.NumberFormat.WriteG17(score, s)]);
                ServerCommands.XorDigest(digest, element);
            }
        };
        ValueDigesters[RedisType.Hash] = static (value, digest) =>
        {
            var h = (HashObject)value;
            Span<byte> element = stackalloc byte[20];
            for (int pos = h.First(); pos >= 0; pos = h.NextPosition(pos))
            {
                element.Clear();
                ServerCommands.MixDigest(element, h.FieldAt(pos));
                ServerCommands.MixDigest(element, h.ValueAt(pos));
                ServerCommands.XorDigest(digest, element);
            }
        };
    }
}
