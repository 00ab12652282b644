using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>HRANDFIELD, with Redis's four strategies and reply shapes.</summary>
public static partial class HashCommands
{
    /// <summary>Past this many times the requested count, unique picks are drawn at random; below it, by elimination.</summary>
    private const int SubStrategyMultiplier = 3;

    /// <summary>HRANDFIELD key [count [WITHVALUES]].</summary>
    private static void HRandField(Client c)
    {
        if (c.Argc >= 3)
        {
            if (!CollectionArgs.TryGetRangeLong(c, 2, -long.MaxValue, long.MaxValue, out long l)) return;
            if (c.Argc > 4 || (c.Argc == 4 && !c.ArgIs(3, "withvalues"u8)))
            {
                c.SyntaxError();
                return;
            }
            bool withValues = c.Argc == 4;
            // Twice the count must still fit in the reply's length.
            if (withValues && (l < -long.MaxValue / 2 || l > long.MaxValue / 2))
            {
                c.Reply.Error("value is out of range");
                return;
            }
            RandomFieldsWithCount(c, l, withValues);
            return;
        }

        if (!TryRead(c, c.Arg(1), out var hash)) return;
        if (hash is null)
        {
            c.Reply.Null();
            return;
        }
        c.Reply.Bulk(hash.FieldAt(hash.RandomPosition(c.Server.Rng)));
    }

    /// <summary>One element of the reply: the field, or in RESP3 with values a [field, value] pair.</summary>
    private static void ReplyElement(Client c, HashObject hash, int pos, bool withValues)
    {
        if (withValues && c.Reply.IsResp3) c.Reply.ArrayHeader(2);
        c.Reply.Bulk(hash.FieldAt(pos));
        if (withValues) c.Reply.Bulk(hash.ValueAt(pos));
    }

    private static void RandomFieldsWithCount(Client c, long l, bool withValues)
    {
        if (!TryRead(c, c.Arg(1), out var hash)) return;
        if (hash is null)
        {
            c.Reply.EmptyArray();
            return;
        }
        bool unique = l >= 0;
        ulong count = unique ? (ulong)l : (ulong)(-l);
        if (count == 0)
        {
            c.Reply.EmptyArray();
            return;
        }
        int size = hash.Count;
        var rng = c.Server.Rng;
        bool flat = withValues && !c.Reply.IsResp3;

        // Positions of a packed hash, so that random picks do not rescan it.
        int[]? packed = null;
        if (hash.IsPacked)
        {
            packed = new int[size];
            hash.CollectPackedPositions(packed);
        }
        int RandomPos() => packed != null ? packed[rng.Next(size)] : hash.RandomPosition(rng);

        // Case 1: repeats allowed (or a single pick): independent draws, in random order.
        if (!unique || count == 1)
        {
            c.Reply.ArrayHeader(flat ? (long)count * 2 : (long)count);
            for (ulong i = 0; i < count; i++)
            {
                ReplyElement(c, hash, RandomPos(), withValues);
                if (CollectionArgs.ReplyOverflowed(c)) break;
            }
            return;
        }

        long replySize = (long)Math.Min(count, (ulong)size);
        c.Reply.ArrayHeader(flat ? replySize * 2 : replySize);

        // Case 2: at least the whole hash was asked for.
        if (count >= (ulong)size)
        {
            for (int pos = hash.First(); pos >= 0; pos = hash.NextPosition(pos)) ReplyElement(c, hash, pos, withValues);
            return;
        }

        int n = (int)count;
        // Case 3: the count is close to the size: start from everything and drop random elements.
        if ((ulong)n * SubStrategyMultiplier > (ulong)size)
        {
            var all = packed ?? AllPositions(hash, size);
            int left = size;
            while (left > n)
            {
                int victim = rng.Next(left);
                all[victim] = all[--left];
            }
            for (int i = 0; i < n; i++) ReplyElement(c, hash, all[i], withValues);
            return;
        }

        // Case 4: the hash is much bigger than the count: draw until enough distinct elements.
        var seen = new HashSet<int>(n);
        while (seen.Count < n)
        {
            int pos = RandomPos();
            if (seen.Add(pos)) ReplyElement(c, hash, pos, withValues);
        }
    }

    private static int[] AllPositions(HashObject hash, int size)
    {
        var all = new int[size];
        int i = 0;
        for (int pos = hash.First(); pos >= 0; pos = hash.NextPosition(pos)) all[i++] = pos;
        return all;
    }
}
