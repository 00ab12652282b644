using System.Runtime.CompilerServices;

namespace Redoubt.Server.Storage;

/// <summary>
/// The dense representation: 16384 registers of 6 bits. Register i starts at bit 6*i, counting from
/// the least significant bit of byte 0 upwards, so a register may straddle two bytes. The spans here are
/// the register bytes (the value after its 16-byte header).
/// </summary>
public static partial class HyperLogLog
{
    /// <summary>
    /// Reads register <paramref name="index"/>. The second byte is only touched when the register
    /// straddles it (bit offset 4 or 6), so the last register never reads past the array.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int GetRegister(ReadOnlySpan<byte> registers, int index)
    {
        int bit = index * Bits;
        int at = bit >> 3, fb = bit & 7;
        int v = registers[at] >> fb;
        if (fb > 8 - Bits) v |= registers[at + 1] << (8 - fb);
        return v & RegisterMax;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetRegister(Span<byte> registers, int index, int value)
    {
        int bit = index * Bits;
        int at = bit >> 3, fb = bit & 7;
        registers[at] = (byte)((registers[at] & ~(RegisterMax << fb)) | (value << fb));
        if (fb > 8 - Bits)
        {
            int fb8 = 8 - fb;
            registers[at + 1] = (byte)((registers[at + 1] & ~(RegisterMax >> fb8)) | (value >> fb8));
        }
    }

    /// <summary>Raises register <paramref name="index"/> to <paramref name="count"/> if lower; true when it changed.</summary>
    public static bool DenseSet(Span<byte> registers, int index, int count)
    {
        if (count <= GetRegister(registers, index)) return false;
        SetRegister(registers, index, count);
        return true;
    }

    /// <summary>Adds an element to dense registers; true when a register grew.</summary>
    public static bool DenseAdd(Span<byte> registers, ReadOnlySpan<byte> element)
    {
        int count = PatternLength(element, out int index);
        return DenseSet(registers, index, count);
    }

    /// <summary>Counts how many registers hold each value, four registers (three bytes) at a time.</summary>
    public static void DenseHistogram(ReadOnlySpan<byte> registers, Span<int> histo)
    {
        registers = registers[..(Registers * Bits / 8)];
        for (int i = 0; i + 2 < registers.Length; i += 3)
        {
            int b0 = registers[i], b1 = registers[i + 1], b2 = registers[i + 2];
            histo[b0 & 63]++;
            histo[((b0 >> 6) | (b1 << 2)) & 63]++;
            histo[((b1 >> 4) | (b2 << 4)) & 63]++;
            histo[b2 >> 2]++;
        }
    }

    /// <summary>Raises each byte of <paramref name="max"/> to the matching dense register.</summary>
    public static void DenseMergeInto(ReadOnlySpan<byte> registers, Span<byte> max)
    {
        for (int i = 0; i < Registers; i++)
        {
            int v = GetRegister(registers, i);
            if (v > max[i]) max[i] = (byte)v;
        }
    }
}
