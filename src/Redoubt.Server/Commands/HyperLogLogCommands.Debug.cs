using System.Buffers.Binary;
using System.Text;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>PFDEBUG (inspect or convert one HLL) and PFSELFTEST (check the implementation itself).</summary>
public static partial class HyperLogLogCommands
{
    /// <summary>
    /// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key. GETREG and TODENSE convert a sparse value to dense,
    /// which counts as a change (for propagation) but, as in Redis, does not touch WATCH.
    /// </summary>
    private static void PfDebug(Client c)
    {
        var db = c.Db;
        int slot = db.FindForWrite(c.Arg(2));
        if (slot < 0)
        {
            c.Reply.Error("The specified key does not exist");
            return;
        }
        if (!CheckHll(c, db.ObjectAt(slot), out var rec)) return;
        bool sparse = !HyperLogLog.IsDense(StringRecord.Value(rec));

        if (c.ArgIs(1, "getreg"u8))
        {
            if (sparse)
            {
                if (!ConvertToDense(c, slot, rec)) return;
                rec = (byte[])db.ObjectAt(slot);
            }
            var registers = StringRecord.Value(rec)[HyperLogLog.HeaderSize..];
            c.Reply.ArrayHeader(HyperLogLog.Registers);
            for (int j = 0; j < HyperLogLog.Registers; j++) c.Reply.Integer(HyperLogLog.GetRegister(registers, j));
        }
        else if (c.ArgIs(1, "decode"u8))
        {
            if (!sparse)
            {
                c.Reply.Error("HLL encoding is not sparse");
                return;
            }
            c.Reply.Bulk(Encoding.ASCII.GetBytes(HyperLogLog.DecodeSparse(StringRecord.Value(rec))));
        }
        else if (c.ArgIs(1, "encoding"u8))
        {
            c.Reply.Simple(sparse ? "sparse"u8 : "dense"u8);
        }
        else if (c.ArgIs(1, "todense"u8))
        {
            if (sparse && !ConvertToDense(c, slot, rec)) return;
            c.Reply.Integer(sparse ? 1 : 0);
        }
        else c.Reply.Error($"Unknown PFDEBUG subcommand '{c.ArgString(1)}'");
    }

    /// <summary>Rewrites the sparse HLL at <paramref name="slot"/> as dense; false after replying when it is corrupt.</summary>
    private static bool ConvertToDense(Client c, int slot, byte[] rec)
    {
        var b = c.Server.HllScratch;
        b.Load(StringRecord.Value(rec));
        if (!HyperLogLog.SparseToDense(b))
        {
            c.Reply.Error(HyperLogLog.CorruptedError);
            return false;
        }
        StoreValue(c.Db, slot, rec, b.Value);
        c.Server.Dirty();
        return true;
    }

    private const int SelfTestCycles = 1000;

    /// <summary>
    /// PFSELFTEST: first, random values written to every dense register read back unchanged without
    /// disturbing neighbours; then ten million distinct elements are added to a dense and a sparse HLL
    /// side by side, checking at every power of ten that the sparse one is still sparse while small,
    /// that both estimate the same, and that the error stays within six standard errors.
    /// </summary>
    private static void PfSelfTest(Client c)
    {
        var rng = new Random();
        var dense = new byte[HyperLogLog.DenseSize];
        var registers = dense.AsSpan(HyperLogLog.HeaderSize);
        var expected = new byte[HyperLogLog.Registers];

        for (int cycle = 0; cycle < SelfTestCycles; cycle++)
        {
            for (int i = 0; i < HyperLogLog.Registers; i++)
            {
                int r = rng.Next() & HyperLogLog.RegisterMax;
                expected[i] = (byte)r;
                HyperLogLog.SetRegister(registers, i, r);
            }
            for (int i = 0; i < HyperLogLog.Registers; i++)
            {
                int val = HyperLogLog.GetRegister(registers, i);
                if (val != expected[i])
                {
                    c.Reply.Error($"TESTFAILED Register {i} should be {expected[i]} but is {val}");
                    return;
                }
            }
        }

        registers.Clear();
        var sparse = new HllBuffer();
        HyperLogLog.WriteEmpty(sparse);
        long maxBytes = c.Server.HllSparseMaxBytes();
        double relerr = 1.04 / Math.Sqrt(HyperLogLog.Registers);
        long checkpoint = 1;
        ulong seed = (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 63);
        Span<byte> ele = stackalloc byte[8];
        for (long j = 1; j <= 10_000_000; j++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(ele, (ulong)j ^ seed);
            HyperLogLog.DenseAdd(registers, ele);
            HyperLogLog.Add(sparse, ele, maxBytes);
            if (j != checkpoint) continue;

            if (j < maxBytes / 2 && HyperLogLog.IsDense(sparse.Value))
            {
                c.Reply.Error("TESTFAILED sparse encoding not used");
                return;
            }
            HyperLogLog.TryCount(dense, out ulong denseCard);
            if (!HyperLogLog.TryCount(sparse.Value, out ulong sparseCard) || denseCard != sparseCard)
            {
                c.Reply.Error("TESTFAILED dense/sparse disagree");
                return;
            }
            long abserr = Math.Abs(checkpoint - (long)denseCard);
            // Collisions make a large error at 10 statistically likely: allow one.
            long maxerr = j == 10 ? 1 : (long)Math.Ceiling(relerr * 6 * checkpoint);
            if (abserr > maxerr)
            {
                c.Reply.Error($"TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}");
                return;
            }
            checkpoint *= 10;
        }
        c.Reply.Ok();
    }
}
