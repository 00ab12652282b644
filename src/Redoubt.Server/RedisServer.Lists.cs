using Redoubt.Server.Commands;
using Redoubt.Server.Storage;

namespace Redoubt.Server;

public sealed partial class RedisServer
{
    /// <summary>
    /// list-max-listpack-size for lists created from now on: positive, elements per node; -1..-5, nodes
    /// of at most 4, 8, 16, 32 or 64 KB (Redis 7.0's default is -2).
    /// </summary>
    public int ListMaxListpackSize => (int)Math.Clamp(Config.ListMaxListpackSize, int.MinValue, int.MaxValue);

    /// <summary>Links lists into DEBUG DIGEST and SORT (called once when commands are bound).</summary>
    internal void AttachLists()
    {
        ListItems = static value =>
        {
            var list = (ListObject)value;
            var items = new List<byte[]>((int)Math.Min(list.Count, int.MaxValue));
            if (list.TrySeek(0, out var cur))
            {
                do items.Add(ListObject.Current(cur).ToArray());
                while (ListObject.MoveNext(ref cur));
            }
            return items;
        };
        CreateListFromItems = (key, items) =>
        {
            var list = new ListObject(key, ListMaxListpackSize);
            foreach (var item in items) list.PushTail(item);
            return list;
        };
        // Redis's xorObjectDigest: the elements mixed in order, head to tail.
        ValueDigesters[RedisType.List] = static (value, digest) =>
        {
            var list = (ListObject)value;
            if (!list.TrySeek(0, out var cur)) return;
            do ServerCommands.MixDigest(digest, ListObject.Current(cur));
            while (ListObject.MoveNext(ref cur));
        };
    }
}
