using System.Text;

namespace Redoubt.Server.Monitoring;

/// <summary>One SLOWLOG entry: what ran, when, for how long, and from which client.</summary>
public sealed class SlowLogEntry
{
    public long Id;
    public long UnixSeconds;
    public long DurationMicros;
    public byte[][] Args = Array.Empty<byte[]>();
    public string PeerId = "";
    public string ClientName = "";
}

/// <summary>
/// The slow log: the newest entries first, trimmed to slowlog-max-len. Arguments are copied when an
/// entry is created (the originals are slices of the query buffer), keeping at most 32 of them and
/// 128 bytes of each, the rest summarized as "... (N more arguments)" / "... (N more bytes)".
/// </summary>
public sealed class SlowLog
{
    public const int MaxArgc = 32;
    public const int MaxArgLength = 128;
    private static readonly byte[] Redacted = "(redacted)"u8.ToArray();

    private readonly LinkedList<SlowLogEntry> _entries = new();
    private long _nextId;

    public int Count => _entries.Count;

    /// <summary>Newest first.</summary>
    public IEnumerable<SlowLogEntry> Entries => _entries;

    /// <summary>Logs the client's current command when it took at least <paramref name="slowerThan"/> microseconds.</summary>
    public void PushIfNeeded(Client c, long durationMicros, long slowerThan, long maxLen)
    {
        if (slowerThan < 0) return;
        if (durationMicros >= slowerThan) _entries.AddFirst(CreateEntry(c, durationMicros));
        while (_entries.Count > maxLen) _entries.RemoveLast();
    }

    public void Reset() => _entries.Clear();

    private SlowLogEntry CreateEntry(Client c, long durationMicros)
    {
        int argc = c.Argc;
        int kept = Math.Min(argc, MaxArgc);
        var args = new byte[kept][];
        for (int j = 0; j < kept; j++)
        {
            if (kept != argc && j == kept - 1)
            {
                args[j] = Encoding.ASCII.GetBytes($"... ({argc - kept + 1} more arguments)");
                continue;
            }
            if (c.IsArgRedacted(j))
            {
                args[j] = Redacted;
                continue;
            }
            var a = c.Arg(j);
            if (a.Length > MaxArgLength)
            {
                var suffix = Encoding.ASCII.GetBytes($"... ({a.Length - MaxArgLength} more bytes)");
                var trimmed = new byte[MaxArgLength + suffix.Length];
                a[..MaxArgLength].CopyTo(trimmed);
                suffix.CopyTo(trimmed, MaxArgLength);
                args[j] = trimmed;
            }
            else args[j] = a.ToArray();
        }
        return new SlowLogEntry
        {
            Id = _nextId++,
            UnixSeconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            DurationMicros = durationMicros,
            Args = args,
            PeerId = c.Address,
            ClientName = c.Name ?? "",
        };
    }
}
