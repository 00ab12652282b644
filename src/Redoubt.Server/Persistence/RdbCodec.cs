using System.Buffers.Binary;

namespace Redoubt.Server.Persistence;

/// <summary>RDB version 10 opcodes and type bytes, as Redis 7.0 writes and reads them.</summary>
public static class Rdb
{
    public const int Version = 10;

    public const byte TypeString = 0, TypeList = 1, TypeSet = 2, TypeZSet = 3, TypeHash = 4, TypeZSet2 = 5;
    public const byte TypeModule = 6, TypeModule2 = 7;
    public const byte TypeHashZipmap = 9, TypeListZiplist = 10, TypeSetIntset = 11, TypeZSetZiplist = 12;
    public const byte TypeHashZiplist = 13, TypeListQuicklist = 14, TypeStreamListpacks = 15;
    public const byte TypeHashListpack = 16, TypeZSetListpack = 17, TypeListQuicklist2 = 18, TypeStreamListpacks2 = 19;

    public const byte OpFunction2 = 245, OpFunction = 246, OpModuleAux = 247, OpIdle = 248, OpFreq = 249;
    public const byte OpAux = 250, OpResizeDb = 251, OpExpireTimeMs = 252, OpExpireTime = 253, OpSelectDb = 254, OpEof = 255;

    /// <summary>Type bytes this version understands (7.0's rdbIsObjectType).</summary>
    public static bool IsObjectType(int t) => (t >= 0 && t <= 7) || (t >= 9 && t <= 19);
}

/// <summary>
/// CRC-64 "Jones" as RDB files and DUMP payloads carry it: reflected polynomial 0x95ac9329ac4bc9b5, initial
/// value 0, no final xor. Eight tables let the loop consume 8 bytes per step, which keeps checksumming
/// far below the cost of encoding.
/// </summary>
public static class Crc64
{
    private const ulong Poly = 0x95ac9329ac4bc9b5UL;
    private static readonly ulong[][] Tables = Build();

    private static ulong[][] Build()
    {
        var t = new ulong[8][];
        for (int k = 0; k < 8; k++) t[k] = new ulong[256];
        for (int i = 0; i < 256; i++)
        {
            ulong c = (ulong)i;
            for (int j = 0; j < 8; j++) c = (c & 1) != 0 ? (c >> 1) ^ Poly : c >> 1;
            t[0][i] = c;
        }
        for (int i = 0; i < 256; i++)
            for (int k = 1; k < 8; k++) t[k][i] = t[0][t[k - 1][i] & 0xFF] ^ (t[k - 1][i] >> 8);
        return t;
    }

    public static ulong Update(ulong crc, ReadOnlySpan<byte> data)
    {
        var t0 = Tables[0]; var t1 = Tables[1]; var t2 = Tables[2]; var t3 = Tables[3];
        var t4 = Tables[4]; var t5 = Tables[5]; var t6 = Tables[6]; var t7 = Tables[7];
        int i = 0;
        while (data.Length - i >= 8)
        {
            crc ^= BinaryPrimitives.ReadUInt64LittleEndian(data[i..]);
            crc = t7[crc & 0xFF] ^ t6[(crc >> 8) & 0xFF] ^ t5[(crc >> 16) & 0xFF] ^ t4[(crc >> 24) & 0xFF]
                ^ t3[(crc >> 32) & 0xFF] ^ t2[(crc >> 40) & 0xFF] ^ t1[(crc >> 48) & 0xFF] ^ t0[crc >> 56];
            i += 8;
        }
        for (; i < data.Length; i++) crc = t0[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
        return crc;
    }
}

/// <summary>
/// LZF, the compression of RDB strings. The compressor follows the reference algorithm's choices (16-bit
/// hash of three bytes, matches no further than 8 KB back, the two-position re-hash after a match) so
/// that what it produces is byte-for-byte what Redis writes for the same string.
/// </summary>
public static class Lzf
{
    private const int HashLog = 16, MaxLit = 32, MaxOff = 1 << 13, MaxRef = (1 << 8) + (1 << 3);

    [ThreadStatic] private static int[]? _table, _epochs;
    [ThreadStatic] private static int _epoch;

    private static uint Index(uint h) => ((h >> (3 * 8 - HashLog)) - h * 5) & ((1u << HashLog) - 1);

    /// <summary>
    /// Compresses <paramref name="input"/> into <paramref name="output"/> (capacity = the most bytes the
    /// result may take, plus 8 bytes of slack); returns the compressed size or 0 when it does not fit.
    /// </summary>
    public static int Compress(ReadOnlySpan<byte> input, Span<byte> output, int outLimit)
    {
        int n = input.Length;
        if (n < 3 || outLimit <= 0) return 0;
        // Slots hold position + 1 so that 0 means "empty". Every call starts from an empty table (so results
        // are deterministic) without clearing 256 KB per string: a slot counts only when its epoch is this call's.
        var table = _table ??= new int[1 << HashLog];
        var epochs = _epochs ??= new int[1 << HashLog];
        if (++_epoch == int.MaxValue)
        {
            Array.Clear(epochs);
            _epoch = 1;
        }
        int epoch = _epoch;
        int ip = 0, op = 1, lit = 0;
        uint hval = (uint)((input[0] << 8) | input[1]);
        while (ip < n - 2)
        {
            hval = (hval << 8) | input[ip + 2];
            uint slot = Index(hval);
            int refPlus = epochs[slot] == epoch ? table[slot] : 0;
            table[slot] = ip + 1;
            epochs[slot] = epoch;
            int r = refPlus - 1;
            if (refPlus != 0 && r > 0 && ip - r - 1 < MaxOff && input[r + 2] == input[ip + 2]
                && input[r] == input[ip] && input[r + 1] == input[ip + 1])
            {
                int off = ip - r - 1;
                int len = 2;
                int maxlen = n - ip - len;
                if (maxlen > MaxRef) maxlen = MaxRef;
                if (op + 3 + 1 >= outLimit && op - (lit == 0 ? 1 : 0) + 3 + 1 >= outLimit) return 0;
                output[op - lit - 1] = (byte)(lit - 1);
                if (lit == 0) op--;
                bool stopped = false;
                if (maxlen > 16)
                {
                    for (int k = 0; k < 16; k++)
                    {
                        len++;
                        if (input[r + len] != input[ip + len]) { stopped = true; break; }
                    }
                }
                if (!stopped)
                {
                    do len++;
                    while (len < maxlen && input[r + len] == input[ip + len]);
                }
                len -= 2;
                ip++;
                if (len < 7) output[op++] = (byte)((off >> 8) + (len << 5));
                else
                {
                    output[op++] = (byte)((off >> 8) + (7 << 5));
                    output[op++] = (byte)(len - 7);
                }
                output[op++] = (byte)off;
                lit = 0; op++;
                ip += len + 1;
                if (ip >= n - 2) break;
                ip -= 2;
                hval = (uint)((input[ip] << 8) | input[ip + 1]);
                hval = (hval << 8) | input[ip + 2];
                uint h1 = Index(hval);
                table[h1] = ip + 1;
                epochs[h1] = epoch;
                ip++;
                hval = (hval << 8) | input[ip + 2];
                uint h2 = Index(hval);
                table[h2] = ip + 1;
                epochs[h2] = epoch;
                ip++;
            }
            else
            {
                if (op >= outLimit) return 0;
                lit++;
                output[op++] = input[ip++];
                if (lit == MaxLit)
                {
                    output[op - lit - 1] = (byte)(lit - 1);
                    lit = 0; op++;
                }
            }
        }
        if (op + 3 > outLimit) return 0;
        while (ip < n)
        {
            lit++;
            output[op++] = input[ip++];
            if (lit == MaxLit)
            {
                output[op - lit - 1] = (byte)(lit - 1);
                lit = 0; op++;
            }
        }
        output[op - lit - 1] = (byte)(lit - 1);
        if (lit == 0) op--;
        return op;
    }

    /// <summary>Decompresses into <paramref name="output"/>, which must be exactly the original length; false when corrupt.</summary>
    public static bool Decompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int ip = 0, op = 0;
        while (ip < input.Length)
        {
            int ctrl = input[ip++];
            if (ctrl < 32)
            {
                int count = ctrl + 1;
                if (op + count > output.Length || ip + count > input.Length) return false;
                input.Slice(ip, count).CopyTo(output[op..]);
                ip += count; op += count;
            }
            else
            {
                int len = ctrl >> 5;
                if (len == 7)
                {
                    if (ip >= input.Length) return false;
                    len += input[ip++];
                }
                if (ip >= input.Length) return false;
                int back = op - ((ctrl & 0x1f) << 8) - input[ip++] - 1;
                len += 2;
                if (back < 0 || op + len > output.Length) return false;
                for (int k = 0; k < len; k++) output[op++] = output[back++];
            }
        }
        return op == output.Length;
    }
}
