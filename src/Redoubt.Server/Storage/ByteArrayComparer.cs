using System.Runtime.CompilerServices;

namespace Redoubt.Server.Storage;

/// <summary>
/// Content equality for byte arrays, usable by <see cref="Dictionary{TKey,TValue}"/> and
/// <see cref="HashSet{T}"/>. It is also an alternate comparer for spans, so a collection's
/// <c>GetAlternateLookup&lt;ReadOnlySpan&lt;byte&gt;&gt;()</c> finds keys straight from a command's
/// argument without copying it into an array first.
/// </summary>
public sealed class ByteArrayComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly ByteArrayComparer Instance = new();

    private ByteArrayComparer() { }

    /// <summary>
    /// The hash every byte-keyed table uses. HashCode is seeded randomly per process, which keeps
    /// crafted collisions (hash flooding through HSET/SADD) from being predictable.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Hash(ReadOnlySpan<byte> bytes)
    {
        var h = new HashCode();
        h.AddBytes(bytes);
        return h.ToHashCode();
    }

    public bool Equals(byte[]? x, byte[]? y)
    {
        if (ReferenceEquals(x, y)) return true;
        if (x is null || y is null) return false;
        return x.AsSpan().SequenceEqual(y);
    }

    public int GetHashCode(byte[] obj) => Hash(obj);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}
