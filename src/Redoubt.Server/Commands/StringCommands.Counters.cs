using System.Globalization;
using System.Text;
using Redoubt.Server.Protocol;
using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>Counters on string values: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT.</summary>
public static partial class StringCommands
{
    private static void BindCounters(CommandTable t)
    {
        t.Bind("incr", c => IncrDecr(c, 1));
        t.Bind("decr", c => IncrDecr(c, -1));
        t.Bind("incrby", IncrBy);
        t.Bind("decrby", DecrBy);
        t.Bind("incrbyfloat", IncrByFloat);
    }

    private static void IncrBy(Client c)
    {
        if (!c.TryGetLong(2, out long incr)) return;
        IncrDecr(c, incr);
    }

    private static void DecrBy(Client c)
    {
        if (!c.TryGetLong(2, out long decr)) return;
        // Negating the smallest integer would overflow.
        if (decr == long.MinValue)
        {
            c.Reply.Error("decrement would overflow");
            return;
        }
        IncrDecr(c, -decr);
    }

    /// <summary>
    /// Adds <paramref name="incr"/> to the integer stored at the key (0 when missing), keeping its TTL.
    /// A result of the same width is written in place; otherwise the record is rebuilt.
    /// </summary>
    private static void IncrDecr(Client c, long incr)
    {
        var key = c.Arg(1);
        var db = c.Db;
        int slot = FindForWrite(c, key);
        long value = 0;
        byte[]? rec = null;
        if (slot >= 0)
        {
            rec = db.ObjectAt(slot) as byte[];
            if (rec is null)
            {
                c.WrongType();
                return;
            }
            if (!NumberParser.TryParseInt64(StringRecord.Value(rec), out value))
            {
                c.Reply.Error("value is not an integer or out of range");
                return;
            }
        }
        if ((incr < 0 && value < 0 && incr < long.MinValue - value) ||
            (incr > 0 && value > 0 && incr > long.MaxValue - value))
        {
            c.Reply.Error("increment or decrement would overflow");
            return;
        }
        value += incr;

        Span<byte> text = stackalloc byte[20];
        int n = NumberFormat.WriteInt64(text, value);
        StoreComputed(c, key, text[..n], slot, rec);
        c.Server.Notify(KeyspaceEventClass.String, "incrby", key, db.Id);
        c.Server.Dirty();
        c.Reply.Integer(value);
    }

    /// <summary>
    /// Stores a value computed from the old one (Redis's dbOverwrite/dbAdd): the TTL stays, the record is
    /// reused when the length matches.
    /// </summary>
    private static void StoreComputed(Client c, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, int slot, byte[]? rec)
    {
        var db = c.Db;
        if (rec is null) db.Add(StringRecord.Create(key, value));
        else if (StringRecord.ValueLength(rec) == value.Length)
        {
            value.CopyTo(StringRecord.MutableValue(rec));
            db.ReplaceAt(slot, rec);
        }
        else db.ReplaceAt(slot, StringRecord.Create(key, value));
        c.Server.SignalModifiedKey(db, key);
    }

    /// <summary>
    /// INCRBYFLOAT key increment, computed in 80-bit extended precision like Redis's long double and
    /// stored in its human-readable form (at most 17 decimals, no exponent, trailing zeros removed).
    /// </summary>
    private static void IncrByFloat(Client c)
    {
        var key = c.Arg(1);
        var db = c.Db;
        int slot = FindForWrite(c, key);
        byte[]? rec = null;
        var value = LongDouble.Zero;
        if (slot >= 0)
        {
            rec = db.ObjectAt(slot) as byte[];
            if (rec is null)
            {
                c.WrongType();
                return;
            }
            if (!LongDouble.TryParse(StringRecord.Value(rec), out value))
            {
                c.Reply.Error("value is not a valid float");
                return;
            }
        }
        if (!LongDouble.TryParse(c.Arg(2), out var incr))
        {
            c.Reply.Error("value is not a valid float");
            return;
        }
        var sum = value + incr;
        if (!sum.IsFinite)
        {
            c.Reply.Error("increment would produce NaN or Infinity");
            return;
        }
        string text = sum.ToHumanString();
        Span<byte> bytes = text.Length <= 128 ? stackalloc byte[text.Length] : new byte[text.Length];
        Encoding.ASCII.GetBytes(text, bytes);
        StoreComputed(c, key, bytes, slot, rec);
        c.Server.Notify(KeyspaceEventClass.String, "incrbyfloat", key, db.Id);
        c.Server.Dirty();
        // The result, not the increment, propagates: float formatting must not differ between replays.
        if (c.Propagating) c.PropagateAs(SetName, c.ArgBytes(1), bytes.ToArray(), KeepTtlName);
        c.Reply.Bulk(bytes);
    }
}
