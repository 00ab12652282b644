using System.Runtime.CompilerServices;

namespace Redoubt.Server.Storage;

/// <summary>
/// Equality of sorted-set members by content. Besides byte arrays it compares spans against stored
/// arrays, so the member dictionary answers a lookup straight from a command argument
/// (<c>GetAlternateLookup&lt;ReadOnlySpan&lt;byte&gt;&gt;()</c>) without copying it first.
/// </summary>
public sealed class ZSetMemberComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly ZSetMemberComparer Instance = new();

    private ZSetMemberComparer() { }

    /// <summary>
    /// Content hash. <see cref="HashCode"/> is seeded per process, so members chosen to collide on
    /// purpose cannot degrade the dictionary into long chains.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int HashOf(ReadOnlySpan<byte> member)
    {
        var h = new HashCode();
        h.AddBytes(member);
        return h.ToHashCode();
    }

    public bool Equals(byte[]? a, byte[]? b)
        => ReferenceEquals(a, b) || (a != null && b != null && a.AsSpan().SequenceEqual(b));

    public int GetHashCode(byte[] member) => HashOf(member);

    public bool Equals(ReadOnlySpan<byte> probe, byte[] stored) => probe.SequenceEqual(stored);

    public int GetHashCode(ReadOnlySpan<byte> probe) => HashOf(probe);

    public byte[] Create(ReadOnlySpan<byte> probe) => probe.ToArray();
}
