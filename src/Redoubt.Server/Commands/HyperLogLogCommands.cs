using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// The HyperLogLog family (hyperloglog.c): PFADD, PFCOUNT, PFMERGE, and PFDEBUG/PFSELFTEST in
/// HyperLogLogCommands.Debug.cs. Values are ordinary strings in Redis's HLL layout (see
/// <see cref="HyperLogLog"/>). Dense values never change length and are edited inside their record;
/// sparse ones are edited in the server's scratch buffer and written back, since an update may insert
/// or remove opcode bytes or promote the value to dense.
/// </summary>
public static partial class HyperLogLogCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("pfadd", PfAdd);
        t.Bind("pfcount", PfCount);
        t.Bind("pfmerge", PfMerge);
        t.Bind("pfdebug", PfDebug);
        t.Bind("pfselftest", PfSelfTest);
    }

    /// <summary>
    /// Redis's isHLLObjectOrReply: the record of a string that looks like an HLL, or false after
    /// replying WRONGTYPE (the generic one for other types, the HLL one for other strings).
    /// </summary>
    private static bool CheckHll(Client c, object obj, out byte[] rec)
    {
        if (obj is not byte[] r)
        {
            rec = [];
            c.WrongType();
            return false;
        }
        rec = r;
        if (!HyperLogLog.IsHll(StringRecord.Value(rec)))
        {
            c.Reply.Error(HyperLogLog.NotHllError);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Writes an edited HLL back as the value of the record at <paramref name="slot"/>: in place when the
    /// length is unchanged, in the record's spare room when it shrinks or grows a little, and as an exact
    /// record when it became dense (dense values never change length again, so room would be waste).
    /// </summary>
    private static void StoreValue(Database db, int slot, byte[] rec, ReadOnlySpan<byte> value)
    {
        int oldLen = StringRecord.ValueLength(rec);
        if (value.Length > oldLen && HyperLogLog.IsDense(value))
        {
            db.ReplaceAt(slot, StringRecord.Create(StringRecord.Key(rec), value));
            return;
        }
        if (value.Length < oldLen) rec = StringRecord.ShrinkValue(rec, value.Length);
        else if (value.Length > oldLen) rec = StringRecord.GrowValue(rec, value.Length);
        value.CopyTo(StringRecord.MutableValue(rec));
        db.ReplaceAt(slot, rec);
    }

    /// <summary>
    /// PFADD key [element ...]: creates the key (even with no elements) and adds the elements; replies 1
    /// when the key was created or a register changed. A corrupt sparse value replies INVALIDOBJ, keeping
    /// whatever the elements before the corruption was met had already changed, as Redis does.
    /// </summary>
    private static void PfAdd(Client c)
    {
        var key = c.Arg(1);
        var db = c.Db;
        int slot = db.FindForWrite(key);
        byte[]? rec = null;
        int updated = 0;
        bool failed = false;
        if (slot >= 0)
        {
            if (!CheckHll(c, db.ObjectAt(slot), out rec)) return;
            var value = StringRecord.MutableValue(rec);
            if (HyperLogLog.IsDense(value))
            {
                var registers = value[HyperLogLog.HeaderSize..];
                for (int j = 2; j < c.Argc; j++)
                    if (HyperLogLog.DenseAdd(registers, c.Arg(j))) updated++;
                if (updated > 0)
                {
                    HyperLogLog.InvalidateCache(value);
                    db.ReplaceAt(slot, rec);
                }
                Finish(c, key, updated);
                return;
            }
        }

        var b = c.Server.HllScratch;
        if (rec is null)
        {
            HyperLogLog.WriteEmpty(b);
            updated++;
        }
        else b.Load(StringRecord.Value(rec));
        if (c.Argc > 2)
        {
            long maxBytes = c.Server.HllSparseMaxBytes();
            for (int j = 2; j < c.Argc; j++)
            {
                int r = HyperLogLog.Add(b, c.Arg(j), maxBytes);
                if (r > 0) updated++;
                else if (r < 0)
                {
                    failed = true;
                    break;
                }
            }
        }
        if (updated > 0 && !failed) HyperLogLog.InvalidateCache(b.Data);
        if (rec is null) db.Add(StringRecord.Create(key, b.Value));
        else if (updated > 0) StoreValue(db, slot, rec, b.Value);
        if (failed)
        {
            c.Reply.Error(HyperLogLog.CorruptedError);
            return;
        }
        Finish(c, key, updated);
    }

    private static void Finish(Client c, ReadOnlySpan<byte> key, int updated)
    {
        if (updated > 0)
        {
            c.Server.SignalModifiedKey(c.Db, key);
            c.Server.Notify(KeyspaceEventClass.String, "pfadd", key, c.Db.Id);
            c.Server.Dirty(updated);
        }
        c.Reply.Integer(updated > 0 ? 1 : 0);
    }

    /// <summary>
    /// PFCOUNT key [key ...]. One key: the cached cardinality, or a fresh count written back into the
    /// cache (a change of the value, so it is signalled and counted as a write, though the command is
    /// read-only). Several keys: the count of their union, built in scratch registers; nothing is written.
    /// Missing keys count as empty HLLs.
    /// </summary>
    private static void PfCount(Client c)
    {
        var db = c.Db;
        bool noTouch = (c.Flags & ClientFlags.NoTouch) != 0;
        if (c.Argc > 2)
        {
            var max = c.Server.HllRegisters;
            Array.Clear(max);
            for (int j = 1; j < c.Argc; j++)
            {
                var obj = db.LookupRead(c.Arg(j), noTouch);
                if (obj is null) continue;
                if (!CheckHll(c, obj, out var r)) return;
                if (!HyperLogLog.MergeInto(StringRecord.Value(r), max))
                {
                    c.Reply.Error(HyperLogLog.CorruptedError);
                    return;
                }
            }
            c.Reply.Integer(unchecked((long)HyperLogLog.CountRaw(max)));
            return;
        }

        var key = c.Arg(1);
        int slot = db.FindForRead(key, noTouch);
        if (slot < 0)
        {
            c.Reply.Integer(0);
            return;
        }
        if (!CheckHll(c, db.ObjectAt(slot), out var rec)) return;
        var value = StringRecord.MutableValue(rec);
        ulong card;
        if (HyperLogLog.IsCacheValid(value)) card = HyperLogLog.ReadCache(value);
        else
        {
            if (!HyperLogLog.TryCount(value, out card))
            {
                c.Reply.Error(HyperLogLog.CorruptedError);
                return;
            }
            HyperLogLog.WriteCache(value, card);
            db.ReplaceAt(slot, rec);
            c.Server.SignalModifiedKey(db, key);
            c.Server.Dirty();
        }
        c.Reply.Integer(unchecked((long)card));
    }

    /// <summary>
    /// PFMERGE destkey [sourcekey ...]: the register-wise maximum of every given HLL (the destination
    /// included) stored at destkey, created when missing. The result is dense when any input was dense;
    /// otherwise it stays sparse until it outgrows hll-sparse-max-bytes. Announced as "pfadd".
    /// </summary>
    private static void PfMerge(Client c)
    {
        var db = c.Db;
        bool noTouch = (c.Flags & ClientFlags.NoTouch) != 0;
        var max = c.Server.HllRegisters;
        Array.Clear(max);
        bool useDense = false;
        for (int j = 1; j < c.Argc; j++)
        {
            var obj = db.LookupRead(c.Arg(j), noTouch);
            if (obj is null) continue;
            if (!CheckHll(c, obj, out var r)) return;
            var v = StringRecord.Value(r);
            if (HyperLogLog.IsDense(v)) useDense = true;
            if (!HyperLogLog.MergeInto(v, max))
            {
                c.Reply.Error(HyperLogLog.CorruptedError);
                return;
            }
        }

        var key = c.Arg(1);
        int slot = db.FindForWrite(key);
        // An existing destination was validated as the first source above.
        var rec = slot >= 0 ? (byte[])db.ObjectAt(slot) : null;
        if (rec != null && HyperLogLog.IsDense(StringRecord.Value(rec)))
        {
            var value = StringRecord.MutableValue(rec);
            var registers = value[HyperLogLog.HeaderSize..];
            for (int j = 0; j < HyperLogLog.Registers; j++)
                if (max[j] != 0) HyperLogLog.DenseSet(registers, j, max[j]);
            HyperLogLog.InvalidateCache(value);
            db.ReplaceAt(slot, rec);
        }
        else
        {
            var b = c.Server.HllScratch;
            if (rec is null) HyperLogLog.WriteEmpty(b);
            else b.Load(StringRecord.Value(rec));
            if (useDense && !HyperLogLog.SparseToDense(b))
            {
                c.Reply.Error(HyperLogLog.CorruptedError);
                return;
            }
            long maxBytes = c.Server.HllSparseMaxBytes();
            for (int j = 0; j < HyperLogLog.Registers; j++)
            {
                if (max[j] == 0) continue;
                // A sparse destination may be promoted part way: look at the encoding every time.
                if (HyperLogLog.IsDense(b.Value)) HyperLogLog.DenseSet(b.Data.AsSpan(HyperLogLog.HeaderSize, HyperLogLog.DenseSize - HyperLogLog.HeaderSize), j, max[j]);
                else HyperLogLog.SparseSet(b, j, max[j], maxBytes);
            }
            HyperLogLog.InvalidateCache(b.Data);
            if (rec is null) db.Add(StringRecord.Create(key, b.Value));
            else StoreValue(db, slot, rec, b.Value);
        }
        c.Server.SignalModifiedKey(db, key);
        c.Server.Notify(KeyspaceEventClass.String, "pfadd", key, db.Id);
        c.Server.Dirty();
        c.Reply.Ok();
    }
}
