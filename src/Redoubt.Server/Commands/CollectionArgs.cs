namespace Redoubt.Server.Commands;

/// <summary>Argument parsing shared by the collection families, with Redis's exact error replies.</summary>
public static class CollectionArgs
{
    /// <summary>
    /// Redis's getRangeLongFromObjectOrReply: an integer within [min, max]. Without <paramref name="message"/>
    /// the errors are "value is not an integer or out of range" and "value is out of range, value must
    /// between min and max"; with it, that message replaces both.
    /// </summary>
    public static bool TryGetRangeLong(Client c, int idx, long min, long max, out long value, string? message = null)
    {
        if (!c.TryGetLong(idx, out value, message ?? "value is not an integer or out of range")) return false;
        if (value >= min && value <= max) return true;
        c.Reply.Error(message ?? $"value is out of range, value must between {min} and {max}");
        return false;
    }

    /// <summary>Redis's getPositiveLongFromObjectOrReply: a non-negative integer.</summary>
    public static bool TryGetPositiveLong(Client c, int idx, out long value, string? message = null)
        => TryGetRangeLong(c, idx, 0, long.MaxValue, out value, message ?? "value is out of range, must be positive");

    /// <summary>
    /// Replies with huge random counts (HRANDFIELD/SRANDMEMBER with a negative count) stop once the
    /// client's output reaches this size and the client is closed, as Redis does for a client past its
    /// output buffer limit; the reply buffer is a single array and cannot grow without bound.
    /// </summary>
    public const int MaxReplyBytes = 1 << 30;

    /// <summary>True (and the client marked to close) when its pending output is past <see cref="MaxReplyBytes"/>.</summary>
    public static bool ReplyOverflowed(Client c)
    {
        if (c.Reply.Length < MaxReplyBytes) return false;
        c.Flags |= ClientFlags.CloseAsap;
        return true;
    }
}
