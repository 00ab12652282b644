namespace Redoubt.Server;

public sealed partial class Client
{
    /// <summary>Client-side caching options while <see cref="ClientFlags.TrackingOn"/> is set.</summary>
    public Tracking.TrackingMode TrackingMode;

    /// <summary>The client invalidation messages go to instead of this one; 0 for none.</summary>
    public long TrackingRedirect;

    /// <summary>BCAST prefixes, in byte order; null when not broadcasting.</summary>
    public SortedSet<byte[]>? TrackingPrefixes;
}
