using System.Text;
using Redoubt.Server.Storage;
using Xunit;

namespace Redoubt.Server.Tests;

/// <summary>
/// The pipeline prefetch scan: it must measure exactly the complete commands it looked at, stop at
/// anything it does not understand, and never fail or change the table whatever the buffer holds.
/// </summary>
public sealed class LookupPrefetcherTests
{
    private static byte[] Command(params string[] args)
    {
        var sb = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args) sb.Append('$').Append(Encoding.ASCII.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    private static KeyTable TableWith(int keys)
    {
        var table = new KeyTable(7);
        for (int i = 0; i < keys; i++) table.Add(StringRecord.Create(Encoding.ASCII.GetBytes($"key:{i}"), "v"u8), 0);
        return table;
    }

    [Fact]
    public void MeasuresAtMostOneBatchOfCompleteCommands()
    {
        var table = TableWith(100);
        var commands = Enumerable.Range(0, LookupPrefetcher.BatchSize + 4).Select(i => Command("GET", $"key:{i}")).ToList();
        byte[] buffer = commands.SelectMany(c => c).ToArray();
        int expected = commands.Take(LookupPrefetcher.BatchSize).Sum(c => c.Length);
        Assert.Equal(expected, LookupPrefetcher.Run(table, buffer));
    }

    [Fact]
    public void StopsBeforeAnIncompleteCommand()
    {
        var table = TableWith(10);
        byte[] first = Command("SET", "key:1", "x"), second = Command("PING"), third = Command("GET", "key:2");
        for (int cut = 1; cut < third.Length; cut++)
        {
            byte[] buffer = first.Concat(second).Concat(third.Take(cut)).ToArray();
            Assert.Equal(first.Length + second.Length, LookupPrefetcher.Run(table, buffer));
        }
    }

    [Fact]
    public void InlineCommandsAndBigCommandsEndTheScan()
    {
        var table = TableWith(10);
        Assert.Equal(0, LookupPrefetcher.Run(table, "GET key:1\r\n"u8));
        byte[] get = Command("GET", "key:1");
        byte[] wide = Command(new[] { "MSET" }.Concat(Enumerable.Range(0, 20).Select(i => $"k{i}")).ToArray());
        Assert.Equal(get.Length, LookupPrefetcher.Run(table, get.Concat(wide).Concat(get).ToArray()));
        // A key longer than the scan hashes is skipped, not an end: the command after it is scanned.
        byte[] longKey = Command("GET", new string('k', LookupPrefetcher.MaxKeyLength + 1));
        Assert.Equal(longKey.Length + get.Length, LookupPrefetcher.Run(table, longKey.Concat(get).ToArray()));
    }

    [Fact]
    public void FieldsOfBigHashesAndSetsAreScannedWithoutChangingThem()
    {
        // The second stage looks the key up and prefetches the field's place in the collection's table:
        // it must neither change the collections nor stop the scan, whatever mix of keys a batch holds.
        var table = TableWith(10);
        var hash = new HashObject("big:h"u8.ToArray());
        var set = new SetObject("big:s"u8.ToArray());
        for (int i = 0; i < 500; i++)
        {
            hash.Set(Encoding.ASCII.GetBytes($"f{i}"), "v"u8, 128, 64);
            set.Add(Encoding.ASCII.GetBytes($"m{i}"), 512);
        }
        Assert.NotNull(hash.Table);
        Assert.NotNull(set.Table);
        table.Add(hash, 0);
        table.Add(set, 0);
        var commands = new List<byte[]>();
        for (int i = 0; i < 40; i++)
        {
            commands.Add(i % 3 == 0 ? Command("SADD", "big:s", $"m{i * 7}")
                : i % 3 == 1 ? Command("HSET", "big:h", $"f{i * 5}", "x")
                : Command("GET", $"key:{i % 10}"));
        }
        commands.Add(Command("HGET", "missing", "f1"));
        commands.Add(Command("SADD", "key:1", "m1"));
        byte[] buffer = commands.SelectMany(c => c).ToArray();
        int offset = 0;
        while (offset < buffer.Length)
        {
            int scanned = LookupPrefetcher.Run(table, buffer.AsSpan(offset));
            Assert.True(scanned > 0);
            offset += scanned;
        }
        Assert.Equal(buffer.Length, offset);
        Assert.Equal(500, hash.Count);
        Assert.Equal(500, set.Count);
        Assert.Equal(12, table.Count);
    }

    [Theory]
    [InlineData("*2\r\n$3\r\nGET\r\n$-1\r\n")]
    [InlineData("*2\r\n$3\r\nGET\r\n$99999999999\r\n")]
    [InlineData("*-5\r\n")]
    [InlineData("*2\r\n$3\r\nGET\r\n$5\r\nkey\r\n")]
    [InlineData("*1\r\n$4\nPING\r\n")]
    [InlineData("*1\r$4\r\nPING\r\n")]
    public void MalformedInputScansNothing(string input)
    {
        Assert.Equal(0, LookupPrefetcher.Run(TableWith(10), Encoding.ASCII.GetBytes(input)));
    }

    [Fact]
    public void RandomBytesNeverFailAndLeaveTheTableAlone()
    {
        var rng = new Random(5);
        var table = TableWith(1000);
        byte[] valid = Enumerable.Range(0, 40).SelectMany(i => Command("GET", $"key:{i}")).ToArray();
        for (int round = 0; round < 20000; round++)
        {
            byte[] buffer = valid[..rng.Next(valid.Length)];
            for (int flips = rng.Next(4); flips > 0 && buffer.Length > 0; flips--)
                buffer[rng.Next(buffer.Length)] = (byte)"*$\r\n0123456789-xGET"[rng.Next(19)];
            int scanned = LookupPrefetcher.Run(table, buffer);
            Assert.InRange(scanned, 0, buffer.Length);
        }
        Assert.Equal(1000, table.Count);
        for (int i = 0; i < 1000; i++) Assert.True(table.Find(Encoding.ASCII.GetBytes($"key:{i}")) >= 0);
    }
}
