namespace Redoubt.Server;

public sealed partial class RedisServer
{
    /// <summary>Points collected by a GEO search before sorting and replying (reused under the lock).</summary>
    internal readonly List<Commands.GeoCommands.GeoPoint> GeoSearchScratch = new();
}
