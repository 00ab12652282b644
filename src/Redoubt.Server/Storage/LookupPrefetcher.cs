namespace Redoubt.Server.Storage;

/// <summary>
/// Warms the cache for the keys of the next pipelined commands before they run. With a keyspace
/// bigger than the cache, every lookup waits on about three dependent memory loads; a pipeline of
/// sixteen GETs executed one by one waits on them sixteen times in a row. Scanning ahead and issuing
/// the loads of all sixteen keys stage by stage (<see cref="KeyTable.PrefetchBucket"/> and the
/// next two) makes them overlap, so the commands then find their keys in the cache.
/// </summary>
/// <remarks>
/// Only a hint: the scan reads the query buffer without consuming it, guesses that a command's first
/// argument after the name is its key (true of most data commands; a wrong guess only costs a
/// wasted prefetch), stops at anything that is not a complete RESP multibulk, and never changes the
/// table. Commands are still parsed and checked by the real parser when they run.
/// </remarks>
public static class LookupPrefetcher
{
    /// <summary>Most commands scanned ahead at once (the loads a core can keep in flight, roughly).</summary>
    public const int BatchSize = 16;
    /// <summary>Longer first arguments are not hashed ahead (long keys are rare, hashing them costs).</summary>
    public const int MaxKeyLength = 128;
    /// <summary>Commands with more arguments end the scan: walking them costs more than it saves.</summary>
    private const int MaxArguments = 16;

    /// <summary>
    /// Prefetches the keys of up to <see cref="BatchSize"/> complete commands at the start of
    /// <paramref name="input"/>; returns how many bytes those commands take (0 when none was scanned).
    /// </summary>
    public static int Run(KeyTable table, ReadOnlySpan<byte> input)
    {
        Span<int> hashes = stackalloc int[BatchSize];
        Span<int> keyStarts = stackalloc int[BatchSize];
        Span<int> keyLengths = stackalloc int[BatchSize];
        Span<int> fieldStarts = stackalloc int[BatchSize];
        Span<int> fieldLengths = stackalloc int[BatchSize];
        int count = 0, pos = 0;
        for (int scanned = 0; scanned < BatchSize; scanned++)
        {
            int commandStart = pos;
            if (!TryScanCommand(input, ref pos, out int keyStart, out int keyLength, out int fieldStart, out int fieldLength)) { pos = commandStart; break; }
            if (keyLength < 0) continue;
            int hash = table.PrefetchHash(input.Slice(keyStart, keyLength));
            table.PrefetchBucket(hash);
            hashes[count] = hash;
            keyStarts[count] = keyStart;
            keyLengths[count] = keyLength;
            fieldStarts[count] = fieldStart;
            fieldLengths[count] = fieldLength;
            count++;
        }
        for (int i = 0; i < count; i++) table.PrefetchChainHead(hashes[i]);
        for (int i = 0; i < count; i++) table.PrefetchChainHeadObject(hashes[i]);
        PrefetchFields(table, input, count, hashes, keyStarts, keyLengths, fieldStarts, fieldLengths);
        return pos;
    }

    /// <summary>
    /// For commands whose key holds a big hash or set (HSET, HGET, SADD, SISMEMBER... on one large
    /// collection), the same two stages for the field or member that follows the key: its bucket and
    /// chain head in the collection's table, the misses that remain once the key itself is cached.
    /// Runs after the key stages, so looking the key up here mostly hits the cache.
    /// </summary>
    private static void PrefetchFields(KeyTable table, ReadOnlySpan<byte> input, int count, Span<int> hashes,
        Span<int> keyStarts, Span<int> keyLengths, Span<int> fieldStarts, Span<int> fieldLengths)
    {
        FieldTable? last = null, target = null;
        int lastKey = -1;
        int fields = 0;
        for (int i = 0; i < count; i++)
        {
            if (fieldLengths[i] < 0) continue;
            var key = input.Slice(keyStarts[i], keyLengths[i]);
            // A pipeline usually repeats one key: look it up once.
            FieldTable? ft;
            if (lastKey >= 0 && key.SequenceEqual(input.Slice(keyStarts[lastKey], keyLengths[lastKey]))) ft = last;
            else
            {
                ft = table.PeekForPrefetch(key, hashes[i]) switch
                {
                    HashObject h => h.Table,
                    SetObject s => s.Table,
                    _ => null,
                };
                last = ft;
                lastKey = i;
            }
            // One collection per batch (a pipeline on one big hash or set); others are skipped.
            if (ft is null || (fields > 0 && ft != target)) continue;
            target = ft;
            int fieldHash = ByteArrayComparer.Hash(input.Slice(fieldStarts[i], fieldLengths[i]));
            ft.PrefetchBucket(fieldHash);
            // Reuse the slot: the key's hash is not needed any more.
            hashes[fields] = fieldHash;
            fields++;
        }
        for (int f = 0; f < fields; f++) target!.PrefetchChainHead(hashes[f]);
    }

    /// <summary>
    /// Walks one complete multibulk at <paramref name="pos"/>. The key is the second argument when
    /// there is one no longer than <see cref="MaxKeyLength"/>, else its length is -1.
    /// </summary>
    private static bool TryScanCommand(ReadOnlySpan<byte> input, ref int pos, out int keyStart, out int keyLength, out int fieldStart, out int fieldLength)
    {
        keyStart = 0;
        keyLength = -1;
        fieldStart = 0;
        fieldLength = -1;
        if (pos >= input.Length || input[pos] != (byte)'*') return false;
        pos++;
        if (!TryReadLength(input, ref pos, out int argc) || argc < 1 || argc > MaxArguments) return false;
        for (int a = 0; a < argc; a++)
        {
            if (pos >= input.Length || input[pos] != (byte)'$') return false;
            pos++;
            if (!TryReadLength(input, ref pos, out int len) || len < 0 || len > input.Length - pos - 2) return false;
            if (a == 1 && len <= MaxKeyLength) { keyStart = pos; keyLength = len; }
            else if (a == 2 && len <= MaxKeyLength) { fieldStart = pos; fieldLength = len; }
            pos += len + 2;
        }
        return true;
    }

    /// <summary>Reads a decimal length up to CRLF (at most 9 digits, so it never overflows).</summary>
    private static bool TryReadLength(ReadOnlySpan<byte> input, ref int pos, out int value)
    {
        value = 0;
        int digits = 0;
        while (pos < input.Length && input[pos] != (byte)'\r')
        {
            uint d = (uint)(input[pos] - '0');
            if (d > 9 || ++digits > 9) return false;
            value = value * 10 + (int)d;
            pos++;
        }
        if (digits == 0 || pos + 1 >= input.Length || input[pos + 1] != (byte)'\n') return false;
        pos += 2;
        return true;
    }
}
