using System.Buffers.Binary;
using System.Numerics;

namespace Redoubt.Server.Storage;

/// <summary>
/// HyperLogLog values in Redis's own byte layout, so a GET of an HLL key, a DUMP, or a value written by
/// real Redis are interchangeable with ours. A value is a plain string:
/// <code>
///   "HYLL" | encoding (0 dense, 1 sparse) | 3 unused bytes | cached cardinality (8 bytes, little endian) | data
/// </code>
/// The top bit of the last cardinality byte marks the cache invalid. Dense data is 16384 registers of
/// 6 bits packed from the least significant bit of each byte upwards; sparse data is a run-length
/// sequence of ZERO (00xxxxxx), XZERO (01xxxxxx xxxxxxxx) and VAL (1vvvvvxx) opcodes.
/// This file holds the layout, hashing and the cardinality estimator; the dense and sparse
/// representations live in HyperLogLog.Dense.cs and HyperLogLog.Sparse.cs.
/// </summary>
public static partial class HyperLogLog
{
    public const int P = 14;
    public const int Q = 64 - P;
    public const int Registers = 1 << P;
    private const int PMask = Registers - 1;
    public const int Bits = 6;
    public const int RegisterMax = (1 << Bits) - 1;
    public const int HeaderSize = 16;
    public const int DenseSize = HeaderSize + (Registers * Bits + 7) / 8;
    public const byte EncodingDense = 0;
    public const byte EncodingSparse = 1;
    private const int EncodingOffset = 4;
    private const int CardOffset = 8;
    /// <summary>What hll-sparse-max-bytes defaults to.</summary>
    public const long DefaultSparseMaxBytes = 3000;

    private const ulong HashSeed = 0xadc83b19UL;
    /// <summary>0.5 / ln(2), the estimator's constant for an infinite number of registers.</summary>
    private const double AlphaInf = 0.721347520444481703680;

    public const string NotHllError = "-WRONGTYPE Key is not a valid HyperLogLog string value.";
    public const string CorruptedError = "-INVALIDOBJ Corrupted HLL object detected";

    /// <summary>
    /// The structural checks a string must pass to be used as an HLL: long enough for the header, the
    /// magic, a known encoding, and for dense the exact size. Sparse payloads are only validated while
    /// they are walked (a corrupt one then yields <see cref="CorruptedError"/>).
    /// </summary>
    public static bool IsHll(ReadOnlySpan<byte> value)
    {
        if (value.Length < HeaderSize) return false;
        if (value[0] != 'H' || value[1] != 'Y' || value[2] != 'L' || value[3] != 'L') return false;
        byte enc = value[EncodingOffset];
        if (enc > EncodingSparse) return false;
        return enc != EncodingDense || value.Length == DenseSize;
    }

    public static byte EncodingOf(ReadOnlySpan<byte> value) => value[EncodingOffset];

    public static bool IsDense(ReadOnlySpan<byte> value) => value[EncodingOffset] == EncodingDense;

    public static bool IsCacheValid(ReadOnlySpan<byte> value) => (value[CardOffset + 7] & 0x80) == 0;

    /// <summary>
    /// Marks the cached cardinality stale. Only the flag bit changes: the other cache bytes keep the old
    /// count, exactly as Redis leaves them.
    /// </summary>
    public static void InvalidateCache(Span<byte> value) => value[CardOffset + 7] |= 0x80;

    public static ulong ReadCache(ReadOnlySpan<byte> value) => BinaryPrimitives.ReadUInt64LittleEndian(value.Slice(CardOffset, 8));

    public static void WriteCache(Span<byte> value, ulong card) => BinaryPrimitives.WriteUInt64LittleEndian(value.Slice(CardOffset, 8), card);

    /// <summary>The empty HLL every new key starts as: sparse, one XZERO opcode covering all registers.</summary>
    public static void WriteEmpty(HllBuffer b)
    {
        const int xzeros = (Registers + XZeroMaxLen - 1) / XZeroMaxLen;
        b.Reset(HeaderSize + xzeros * 2);
        var d = b.Data;
        d[0] = (byte)'H'; d[1] = (byte)'Y'; d[2] = (byte)'L'; d[3] = (byte)'L';
        d[EncodingOffset] = EncodingSparse;
        int p = HeaderSize;
        for (int left = Registers; left > 0;)
        {
            int run = Math.Min(left, XZeroMaxLen);
            SetXZero(d, p, run);
            p += 2;
            left -= run;
        }
    }

    /// <summary>MurmurHash2, 64-bit variant, reading blocks as little endian on every platform.</summary>
    public static ulong MurmurHash64A(ReadOnlySpan<byte> key, ulong seed)
    {
        const ulong m = 0xc6a4a7935bd1e995UL;
        const int r = 47;
        int len = key.Length;
        ulong h = seed ^ unchecked((ulong)len * m);
        int blocks = len & ~7;
        for (int i = 0; i < blocks; i += 8)
        {
            ulong k = BinaryPrimitives.ReadUInt64LittleEndian(key.Slice(i, 8));
            k *= m;
            k ^= k >> r;
            k *= m;
            h ^= k;
            h *= m;
        }
        int tail = len & 7;
        if (tail != 0)
        {
            for (int i = tail - 1; i >= 0; i--) h ^= (ulong)key[blocks + i] << (8 * i);
            h *= m;
        }
        h ^= h >> r;
        h *= m;
        h ^= h >> r;
        return h;
    }

    /// <summary>
    /// Hashes an element: the low P bits pick the register, and the count is the position of the first
    /// 1 bit in the rest (1 for "1", 2 for "01"...), at most Q + 1.
    /// </summary>
    public static int PatternLength(ReadOnlySpan<byte> element, out int index)
    {
        ulong hash = MurmurHash64A(element, HashSeed);
        index = (int)(hash & PMask);
        hash >>= P;
        hash |= 1UL << Q;
        return BitOperations.TrailingZeroCount(hash) + 1;
    }

    /// <summary>
    /// Cardinality of a dense or sparse value. False when a sparse payload does not describe exactly
    /// <see cref="Registers"/> registers.
    /// </summary>
    public static bool TryCount(ReadOnlySpan<byte> value, out ulong card)
    {
        Span<int> histo = stackalloc int[64];
        histo.Clear();
        card = 0;
        if (IsDense(value)) DenseHistogram(value[HeaderSize..], histo);
        else if (!SparseHistogram(value[HeaderSize..], histo)) return false;
        card = Estimate(histo);
        return true;
    }

    /// <summary>Cardinality of one byte per register (the union PFCOUNT builds for several keys).</summary>
    public static ulong CountRaw(ReadOnlySpan<byte> registers)
    {
        Span<int> histo = stackalloc int[64];
        histo.Clear();
        for (int i = 0; i < Registers; i++) histo[registers[i] & 63]++;
        return Estimate(histo);
    }

    /// <summary>
    /// The estimator of Ertl, "New cardinality estimation algorithms for HyperLogLog sketches"
    /// (arXiv:1702.01284), over the histogram of register values, with the same operation order and
    /// rounding as Redis so both agree to the unit.
    /// </summary>
    public static ulong Estimate(ReadOnlySpan<int> histo)
    {
        double m = Registers;
        double z = m * Tau((m - histo[Q + 1]) / m);
        for (int j = Q; j >= 1; --j)
        {
            z += histo[j];
            z *= 0.5;
        }
        z += m * Sigma(histo[0] / m);
        return RoundToCard(AlphaInf * m * m / z);
    }

    /// <summary>
    /// Rounds half away from zero into a signed 64-bit count, as C's llroundl; a result out of that range
    /// (an infinite estimate from registers all at their maximum) becomes the minimum long, which read
    /// back as unsigned is 2^63, the value Redis caches and replies for it.
    /// </summary>
    private static ulong RoundToCard(double e)
    {
        double r = Math.Round(e, MidpointRounding.AwayFromZero);
        if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0)) return 0x8000000000000000UL;
        return unchecked((ulong)(long)r);
    }

    private static double Sigma(double x)
    {
        if (x == 1.0) return double.PositiveInfinity;
        double zPrime;
        double y = 1;
        double z = x;
        do
        {
            x *= x;
            zPrime = z;
            z += x * y;
            y += y;
        } while (zPrime != z);
        return z;
    }

    private static double Tau(double x)
    {
        if (x == 0.0 || x == 1.0) return 0.0;
        double zPrime;
        double y = 1.0;
        double z = 1 - x;
        do
        {
            x = Math.Sqrt(x);
            zPrime = z;
            y *= 0.5;
            z -= Math.Pow(1 - x, 2) * y;
        } while (zPrime != z);
        return z / 3;
    }

    /// <summary>
    /// Adds one element to the HLL in <paramref name="b"/> (either encoding; a sparse one may be promoted
    /// to dense). Returns 1 when a register grew, 0 when none did, -1 for a corrupt sparse payload.
    /// </summary>
    public static int Add(HllBuffer b, ReadOnlySpan<byte> element, long sparseMaxBytes)
    {
        int count = PatternLength(element, out int index);
        byte enc = b.Data[EncodingOffset];
        if (enc == EncodingDense) return DenseSet(b.Data.AsSpan(HeaderSize, DenseSize - HeaderSize), index, count) ? 1 : 0;
        if (enc == EncodingSparse) return SparseSet(b, index, count, sparseMaxBytes);
        return -1;
    }

    /// <summary>
    /// Folds an HLL into <paramref name="max"/> (one byte per register) by taking the larger of each
    /// register. False for a corrupt sparse payload.
    /// </summary>
    public static bool MergeInto(ReadOnlySpan<byte> value, Span<byte> max)
    {
        if (IsDense(value))
        {
            DenseMergeInto(value[HeaderSize..], max);
            return true;
        }
        return SparseMergeInto(value[HeaderSize..], max);
    }
}

/// <summary>
/// A working copy of an HLL value that may change length (sparse edits insert and remove opcode bytes,
/// promotion replaces it by the dense form). Capacity always exceeds the length by a few bytes so that
/// opcode reads one byte past the end, and the widest split written near the end, stay in bounds; the
/// byte after the value reads as zero, as the terminator after a Redis string does.
/// </summary>
public sealed class HllBuffer
{
    /// <summary>Room kept after the value: an opcode split widens it by at most 3 bytes and writes at most 5.</summary>
    internal const int Slack = 16;

    public byte[] Data = new byte[HyperLogLog.DenseSize + Slack];
    public int Length;

    public ReadOnlySpan<byte> Value => new(Data, 0, Length);

    /// <summary>Copies <paramref name="value"/> in, zeroing the slack after it.</summary>
    public void Load(ReadOnlySpan<byte> value)
    {
        Reset(value.Length);
        value.CopyTo(Data);
    }

    /// <summary>Makes room for <paramref name="length"/> bytes, all zero, plus the slack.</summary>
    public void Reset(int length)
    {
        if (Data.Length < length + Slack) Data = new byte[length + Slack];
        else Array.Clear(Data, 0, length + Slack);
        Length = length;
    }

    /// <summary>Ensures the slack after the current length (after the value grew), keeping the contents.</summary>
    public void EnsureSlack()
    {
        if (Data.Length >= Length + Slack) return;
        var bigger = new byte[Math.Max(Data.Length * 2, Length + Slack)];
        Array.Copy(Data, bigger, Data.Length);
        Data = bigger;
    }

    /// <summary>Takes <paramref name="data"/> (holding a value of <paramref name="length"/> bytes and the slack) as the contents.</summary>
    internal void Replace(byte[] data, int length)
    {
        Data = data;
        Length = length;
    }
}
