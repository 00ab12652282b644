namespace Redoubt.Server.Tracking;

/// <summary>
/// How a client with <see cref="ClientFlags.TrackingOn"/> is tracked (CLIENT TRACKING options and the
/// state they lead to). Shown by CLIENT TRACKINGINFO and, for BCAST and a broken redirect, CLIENT LIST.
/// </summary>
[Flags]
public enum TrackingMode : byte
{
    None = 0,
    /// <summary>Told about every change to keys under its prefixes rather than about keys it read.</summary>
    Bcast = 1 << 0,
    /// <summary>Only reads after CLIENT CACHING yes are remembered.</summary>
    OptIn = 1 << 1,
    /// <summary>Reads are remembered unless preceded by CLIENT CACHING no.</summary>
    OptOut = 1 << 2,
    /// <summary>CLIENT CACHING yes/no was given for the next command (or transaction).</summary>
    Caching = 1 << 3,
    /// <summary>Not told about keys it changed itself.</summary>
    NoLoop = 1 << 4,
    /// <summary>The client invalidations are redirected to has gone away.</summary>
    BrokenRedirect = 1 << 5,
}
