using Redoubt.Server.Storage;

namespace Redoubt.Server.Commands;

/// <summary>
/// The stream family (t_stream): XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID here; consumer
/// groups, blocking reads and XINFO in the other parts.
/// </summary>
public static partial class StreamCommands
{
    public static void Bind(CommandTable t)
    {
        t.Bind("xadd", XAdd);
        t.Bind("xrange", c => XRange(c, rev: false));
        t.Bind("xrevrange", c => XRange(c, rev: true));
        t.Bind("xlen", XLen);
        t.Bind("xdel", XDel);
        t.Bind("xtrim", XTrim);
        t.Bind("xsetid", XSetId);
        BindGroups(t);
        BindBlocking(t);
        BindInfo(t);
    }

    internal const string InvalidIdError = "Invalid stream ID specified as stream command argument";

    /// <summary>The command's arguments as a field source for <see cref="StreamObject.Append{TSource}"/>.</summary>
    private readonly struct ArgSource(Client c) : IFieldSource
    {
        public ReadOnlySpan<byte> Get(int i) => c.Arg(i);
    }

    /// <summary>Looks a stream up for reading; false after WRONGTYPE. <paramref name="s"/> is null when missing.</summary>
    internal static bool TryRead(Client c, ReadOnlySpan<byte> key, out StreamObject? s)
    {
        var obj = c.Db.LookupRead(key, (c.Flags & ClientFlags.NoTouch) != 0);
        s = obj as StreamObject;
        if (obj is null || s != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>Looks a stream up for writing; false after WRONGTYPE.</summary>
    internal static bool TryWrite(Client c, ReadOnlySpan<byte> key, out StreamObject? s, out int slot)
    {
        s = null;
        slot = StringCommands.FindForWrite(c, key);
        if (slot < 0) return true;
        s = c.Db.ObjectAt(slot) as StreamObject;
        if (s != null) return true;
        c.WrongType();
        return false;
    }

    /// <summary>
    /// Redis's streamGenericParseIDOrReply: "-" and "+" (unless <paramref name="strict"/>), "ms" (the
    /// sequence is <paramref name="missingSeq"/>) or "ms-seq"; with <paramref name="allowSeqStar"/>
    /// also "ms-*" (<paramref name="seqGiven"/> false).
    /// </summary>
    internal static bool TryParseId(Client c, ReadOnlySpan<byte> s, ulong missingSeq, bool strict, out StreamId id,
        bool allowSeqStar, out bool seqGiven, bool reply = true)
    {
        seqGiven = true;
        id = default;
        if (s.Length == 1 && (s[0] == '-' || s[0] == '+'))
        {
            if (!strict)
            {
                id = s[0] == '-' ? StreamId.Zero : StreamId.Max;
                return true;
            }
        }
        else if (allowSeqStar && s.Length >= 2 && s[^1] == '*' && s[^2] == '-' && s.Length <= 127)
        {
            if (ParseULong(s[..^2], out ulong ms))
            {
                id = new StreamId(ms, 0);
                seqGiven = false;
                return true;
            }
        }
        else if (s.Length <= 127)
        {
            int dash = s.IndexOf((byte)'-');
            if (dash < 0)
            {
                if (ParseULong(s, out ulong ms)) { id = new StreamId(ms, missingSeq); return true; }
            }
            else if (ParseULong(s[..dash], out ulong ms) && ParseULong(s[(dash + 1)..], out ulong seq))
            {
                id = new StreamId(ms, seq);
                return true;
            }
        }
        if (reply) c.Reply.Error(InvalidIdError);
        return false;
    }

    internal static bool TryParseId(Client c, int idx, ulong missingSeq, bool strict, out StreamId id)
        => TryParseId(c, c.Arg(idx), missingSeq, strict, out id, false, out _);

    /// <summary>Redis's string2ull: a non-negative long long, or what strtoull accepts whole.</summary>
    private static bool ParseULong(ReadOnlySpan<byte> s, out ulong v)
    {
        if (Protocol.NumberParser.TryParseInt64(s, out long l))
        {
            v = (ulong)l;
            return l >= 0;
        }
        // strtoull also takes leading spaces and a sign ("-1" wraps around).
        int i = 0;
        while (i < s.Length && (s[i] == ' ' || (s[i] >= 9 && s[i] <= 13))) i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
        if (!StreamId.TryParseULong(s[i..], out v)) return false;
        if (neg) v = 0 - v;
        return true;
    }

    /// <summary>
    /// Redis's streamParseIntervalIDOrReply: like an ID, or with a "(" prefix an exclusive bound (then
    /// "-"/"+" are not allowed).
    /// </summary>
    private static bool TryParseInterval(Client c, int idx, ulong missingSeq, out StreamId id, out bool exclusive)
    {
        var s = c.Arg(idx);
        exclusive = s.Length > 1 && s[0] == '(';
        if (exclusive) return TryParseId(c, s[1..], missingSeq, strict: true, out id, false, out _);
        return TryParseId(c, s, missingSeq, strict: false, out id, false, out _);
    }

    internal static void ReplyId(Client c, StreamId id)
    {
        Span<byte> buf = stackalloc byte[48];
        c.Reply.Bulk(buf[..id.Format(buf)]);
    }

    /// <summary>An entry as [id, [field, value, ...]].</summary>
    internal static void ReplyEntry(Client c, StreamObject s, in StreamCursor cur)
    {
        c.Reply.ArrayHeader(2);
        ReplyId(c, cur.Id);
        var fields = s.Fields(cur);
        c.Reply.ArrayHeader(fields.Count * 2);
        while (fields.MoveNext())
        {
            c.Reply.Bulk(fields.Field);
            c.Reply.Bulk(fields.Value);
        }
    }

    /// <summary>Entries in [start, end] forward or backward, at most <paramref name="count"/> (0 = all).</summary>
    internal static long ReplyRange(Client c, StreamObject s, StreamId start, StreamId end, long count, bool rev)
    {
        int mark = c.Reply.BeginDeferred();
        long n = 0;
        if (start <= end)
        {
            if (!rev)
            {
                if (s.SeekFirst(start, out var cur))
                {
                    do
                    {
                        if (cur.Id > end) break;
                        ReplyEntry(c, s, cur);
                        n++;
                    } while ((count == 0 || n < count) && s.MoveNext(ref cur));
                }
            }
            else if (s.SeekLast(end, out var cur))
            {
                do
                {
                    if (cur.Id < start) break;
                    ReplyEntry(c, s, cur);
                    n++;
                } while ((count == 0 || n < count) && s.MovePrevious(ref cur));
            }
        }
        c.Reply.EndDeferred(mark, n);
        return n;
    }

    // ---- XADD / XTRIM ----------------------------------------------------------------------------

    private struct TrimArgs
    {
        public bool HasStrategy, IsMaxLen, Approx, NoMkStream, IdGiven, SeqGiven;
        public long MaxLen, Limit;
        public StreamId MinId, Id;
        /// <summary>Index of the MAXLEN/MINID threshold argument (rewritten for propagation).</summary>
        public int TrimArgIdx;
    }

    /// <summary>Redis's streamParseAddOrTrimArgsOrReply: returns the ID's index (XADD), or -1 after an error.</summary>
    private static int ParseAddOrTrim(Client c, ref TrimArgs a, bool xadd)
    {
        int i = 2;
        bool limitGiven = false;
        for (; i < c.Argc; i++)
        {
            int more = c.Argc - 1 - i;
            var opt = c.Arg(i);
            if (xadd && opt.Length == 1 && opt[0] == '*') break;
            bool maxlen = c.ArgIs(i, "maxlen"u8), minid = !maxlen && c.ArgIs(i, "minid"u8);
            if ((maxlen || minid) && more > 0)
            {
                if (a.HasStrategy)
                {
                    c.Reply.Error("syntax error, MAXLEN and MINID options at the same time are not compatible");
                    return -1;
                }
                a.Approx = false;
                var next = c.Arg(i + 1);
                if (more >= 2 && next.Length == 1 && next[0] == '~') { a.Approx = true; i++; }
                else if (more >= 2 && next.Length == 1 && next[0] == '=') i++;
                if (maxlen)
                {
                    if (!c.TryGetLong(i + 1, out a.MaxLen)) return -1;
                    if (a.MaxLen < 0)
                    {
                        c.Reply.Error("The MAXLEN argument must be >= 0.");
                        return -1;
                    }
                }
                else if (!TryParseId(c, i + 1, 0, strict: true, out a.MinId)) return -1;
                i++;
                a.TrimArgIdx = i;
                a.HasStrategy = true;
                a.IsMaxLen = maxlen;
            }
            else if (c.ArgIs(i, "limit"u8) && more > 0)
            {
                if (!c.TryGetLong(i + 1, out a.Limit)) return -1;
                if (a.Limit < 0)
                {
                    c.Reply.Error("The LIMIT argument must be >= 0.");
                    return -1;
                }
                limitGiven = true;
                i++;
            }
            else if (xadd && c.ArgIs(i, "nomkstream"u8)) a.NoMkStream = true;
            else if (xadd)
            {
                if (!TryParseId(c, opt, 0, strict: true, out a.Id, allowSeqStar: true, out a.SeqGiven)) return -1;
                a.IdGiven = true;
                break;
            }
            else
            {
                c.SyntaxError();
                return -1;
            }
        }
        if (a.Limit != 0 && !a.HasStrategy)
        {
            c.Reply.Error("syntax error, LIMIT cannot be used without specifying a trimming strategy");
            return -1;
        }
        if (!xadd && !a.HasStrategy)
        {
            c.Reply.Error("syntax error, XTRIM must be called with a trimming strategy");
            return -1;
        }
        if (c.Id == -1 || (c.Flags & ClientFlags.Master) != 0)
        {
            // The AOF and a master send trims already rewritten to exact thresholds: no work limit applies.
            a.Limit = 0;
        }
        else if (limitGiven)
        {
            if (!a.Approx)
            {
                c.Reply.Error("syntax error, LIMIT cannot be used without the special ~ option");
                return -1;
            }
        }
        else if (a.Approx)
        {
            // Without LIMIT, approximate trimming does at most about 100 nodes' worth of work.
            long perNode = c.Server.Config.StreamNodeMaxEntries;
            a.Limit = perNode > 1_000_000 / 100 ? 1_000_000 : 100 * perNode;
            if (a.Limit <= 0) a.Limit = 10000;
        }
        else a.Limit = 0;
        return i;
    }

    private static long Trim(StreamObject s, in TrimArgs a)
        => s.Trim(a.IsMaxLen ? a.MaxLen : -1, a.MinId, a.Approx, a.Limit);

    /// <summary>XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]</summary>
    private static void XAdd(Client c)
    {
        var a = new TrimArgs();
        int idPos = ParseAddOrTrim(c, ref a, xadd: true);
        if (idPos < 0) return;
        int fieldPos = idPos + 1;
        if (c.Argc - fieldPos < 2 || (c.Argc - fieldPos) % 2 == 1)
        {
            c.Reply.Error($"wrong number of arguments for '{c.Cmd!.FullName}' command");
            return;
        }
        if (a.IdGiven && a.SeqGiven && a.Id.IsZero)
        {
            c.Reply.Error("The ID specified in XADD must be greater than 0-0");
            return;
        }
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var s, out int slot)) return;
        if (s is null)
        {
            if (a.NoMkStream)
            {
                c.Reply.Null();
                return;
            }
            s = new StreamObject(key.ToArray());
            slot = c.Db.Add(s);
        }
        if (s.LastId == StreamId.Max)
        {
            c.Reply.Error("The stream has exhausted the last possible ID, unable to add more items");
            return;
        }
        StreamId id;
        bool ok = true;
        if (a.IdGiven)
        {
            if (a.SeqGiven) id = a.Id;
            else if (s.LastId.Ms == a.Id.Ms)
            {
                ok = s.LastId.Seq != ulong.MaxValue;
                id = new StreamId(a.Id.Ms, s.LastId.Seq + 1);
            }
            else id = a.Id;
        }
        else
        {
            ulong ms = (ulong)c.Server.NowMs;
            if (ms > s.LastId.Ms) id = new StreamId(ms, 0);
            else ok = s.LastId.TryIncrement(out id);
        }
        if (!ok || id <= s.LastId)
        {
            c.Reply.Error("The ID specified in XADD is equal or smaller than the target stream top item");
            return;
        }
        // A node's sizes are 32-bit in Redis: one entry may hold at most 1 GB of fields and values.
        long total = 0;
        for (int i = fieldPos; i < c.Argc; i++) total += c.Arg(i).Length;
        if (total > 1L << 30)
        {
            c.Reply.Error("Elements are too large to be stored");
            return;
        }
        var cfg = c.Server.Config;
        s.Append(id, new ArgSource(c), fieldPos, (c.Argc - fieldPos) / 2, cfg.StreamNodeMaxBytes, cfg.StreamNodeMaxEntries);
        ReplyId(c, id);
        c.Db.ReplaceAt(slot, s);
        c.Server.SignalModifiedKey(c.Db, key);
        c.Server.Notify(KeyspaceEventClass.Stream, "xadd", key, c.Db.Id);
        c.Server.Dirty();
        if (a.HasStrategy && Trim(s, a) > 0)
            c.Server.Notify(KeyspaceEventClass.Stream, "xtrim", key, c.Db.Id);
        // An approximate trim propagates as MAXLEN = <length now> / MINID = <first ID now>, and the ID
        // argument as the ID generated, so the AOF and replicas end up identical.
        if (c.Propagating && ((a.HasStrategy && a.Approx) || !a.IdGiven || !a.SeqGiven))
        {
            var argv = CopyArgv(c);
            if (a.HasStrategy && a.Approx) RewriteTrim(argv, s, a);
            if (!a.IdGiven || !a.SeqGiven) argv[idPos] = IdBytes(id);
            c.PropagateAs(argv);
        }
    }

    private static byte[][] CopyArgv(Client c)
    {
        var argv = new byte[c.Argc][];
        for (int i = 0; i < argv.Length; i++) argv[i] = c.ArgBytes(i);
        return argv;
    }

    private static byte[] IdBytes(StreamId id) => System.Text.Encoding.ASCII.GetBytes($"{id.Ms}-{id.Seq}");

    /// <summary>'~ n' becomes '= length' (MAXLEN) or '= first id' (MINID): what the trim actually left.</summary>
    private static void RewriteTrim(byte[][] argv, StreamObject s, in TrimArgs a)
    {
        argv[a.TrimArgIdx - 1] = "="u8.ToArray();
        if (a.IsMaxLen) argv[a.TrimArgIdx] = System.Text.Encoding.ASCII.GetBytes(s.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        else argv[a.TrimArgIdx] = IdBytes(s.SeekFirst(StreamId.Zero, out var cur) ? cur.Id : StreamId.Max);
    }

    /// <summary>XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]</summary>
    private static void XTrim(Client c)
    {
        var key = c.Arg(1);
        var a = new TrimArgs();
        if (ParseAddOrTrim(c, ref a, xadd: false) < 0) return;
        if (!TryWrite(c, key, out var s, out int slot)) return;
        if (s is null)
        {
            c.Reply.Integer(0);
            return;
        }
        long deleted = Trim(s, a);
        if (deleted > 0)
        {
            c.Db.ReplaceAt(slot, s);
            c.Server.Notify(KeyspaceEventClass.Stream, "xtrim", key, c.Db.Id);
            c.Server.SignalModifiedKey(c.Db, key);
            c.Server.Dirty(deleted);
            // Approximate trims propagate as exact ones with the resulting threshold, as for XADD.
            if (a.Approx && c.Propagating)
            {
                var argv = CopyArgv(c);
                RewriteTrim(argv, s, a);
                c.PropagateAs(argv);
            }
        }
        c.Reply.Integer(deleted);
    }

    // ---- reads -----------------------------------------------------------------------------------

    /// <summary>XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n]</summary>
    private static void XRange(Client c, bool rev)
    {
        int startIdx = rev ? 3 : 2, endIdx = rev ? 2 : 3;
        if (!TryParseInterval(c, startIdx, 0, out var start, out bool startEx)) return;
        if (startEx && !start.TryIncrement(out start))
        {
            c.Reply.Error("invalid start ID for the interval");
            return;
        }
        if (!TryParseInterval(c, endIdx, ulong.MaxValue, out var end, out bool endEx)) return;
        if (endEx && !end.TryDecrement(out end))
        {
            c.Reply.Error("invalid end ID for the interval");
            return;
        }
        long count = -1;
        for (int j = 4; j < c.Argc; j++)
        {
            if (c.ArgIs(j, "count"u8) && j + 1 < c.Argc)
            {
                if (!c.TryGetLong(j + 1, out count)) return;
                if (count < 0) count = 0;
                j++;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        if (!TryRead(c, c.Arg(1), out var s)) return;
        if (s is null)
        {
            c.Reply.EmptyArray();
            return;
        }
        if (count == 0)
        {
            c.Reply.NullArray();
            return;
        }
        ReplyRange(c, s, start, end, count < 0 ? 0 : count, rev);
    }

    private static void XLen(Client c)
    {
        if (!TryRead(c, c.Arg(1), out var s)) return;
        c.Reply.Integer(s?.Length ?? 0);
    }

    /// <summary>XDEL key id [id ...]: the IDs are all checked before any is deleted.</summary>
    private static void XDel(Client c)
    {
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var s, out int slot)) return;
        if (s is null)
        {
            c.Reply.Integer(0);
            return;
        }
        for (int j = 2; j < c.Argc; j++)
            if (!TryParseId(c, j, 0, strict: true, out _)) return;
        long deleted = 0;
        bool firstEntry = false;
        for (int j = 2; j < c.Argc; j++)
        {
            TryParseId(c, j, 0, strict: true, out var id);
            if (s.Delete(id))
            {
                if (id == s.FirstId) firstEntry = true;
                if (id > s.MaxDeletedId) s.MaxDeletedId = id;
                deleted++;
            }
        }
        if (firstEntry) s.RefreshFirstId();
        if (deleted > 0)
        {
            c.Db.ReplaceAt(slot, s);
            c.Server.SignalModifiedKey(c.Db, key);
            c.Server.Notify(KeyspaceEventClass.Stream, "xdel", key, c.Db.Id);
            c.Server.Dirty(deleted);
        }
        c.Reply.Integer(deleted);
    }

    /// <summary>XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]</summary>
    private static void XSetId(Client c)
    {
        if (!TryParseId(c, 2, 0, strict: true, out var id)) return;
        long entriesAdded = -1;
        StreamId maxXdel = default;
        for (int i = 3; i < c.Argc; i++)
        {
            int more = c.Argc - 1 - i;
            if (c.ArgIs(i, "entriesadded"u8) && more > 0)
            {
                if (!c.TryGetLong(i + 1, out entriesAdded)) return;
                if (entriesAdded < 0)
                {
                    c.Reply.Error("entries_added must be positive");
                    return;
                }
                i++;
            }
            else if (c.ArgIs(i, "maxdeletedid"u8) && more > 0)
            {
                if (!TryParseId(c, i + 1, 0, strict: true, out maxXdel)) return;
                if (id < maxXdel)
                {
                    c.Reply.Error("The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
                    return;
                }
                i++;
            }
            else
            {
                c.SyntaxError();
                return;
            }
        }
        var key = c.Arg(1);
        if (!TryWrite(c, key, out var s, out int slot)) return;
        if (s is null)
        {
            c.Reply.Error("-ERR no such key");
            return;
        }
        if (s.Length > 0)
        {
            if (id < s.LastValidId())
            {
                c.Reply.Error("The ID specified in XSETID is smaller than the target stream top item");
                return;
            }
            if (entriesAdded != -1 && s.Length > entriesAdded)
            {
                c.Reply.Error("The entries_added specified in XSETID is smaller than the target stream length");
                return;
            }
        }
        s.LastId = id;
        if (entriesAdded != -1) s.EntriesAdded = entriesAdded;
        if (!maxXdel.IsZero) s.MaxDeletedId = maxXdel;
        c.Db.ReplaceAt(slot, s);
        c.Reply.Ok();
        c.Server.Notify(KeyspaceEventClass.Stream, "xsetid", key, c.Db.Id);
        c.Server.Dirty();
    }
}
