using System.Buffers.Text;

namespace Redoubt.Server.Propagation;

/// <summary>
/// The single ordered stream of executed writes. Commands (or the forms they rewrite themselves into)
/// are encoded once into a pending buffer while the top-level command runs; when it finishes the batch
/// goes to every consumer, wrapped in MULTI/EXEC when it holds more than one command, with a SELECT
/// before any command whose database differs from the one the consumer last saw.
/// </summary>
/// <remarks>All members are used under the server lock.</remarks>
public sealed class PropagationStream
{
    private sealed class Subscription
    {
        public required IPropagationConsumer Consumer;
        public int SelectedDb = -1;
    }

    private Subscription[] _subs = Array.Empty<Subscription>();
    private byte[] _pending = new byte[4096];
    private int _pendingLength;
    private PropagatedOp[] _ops = new PropagatedOp[8];
    private int _opCount;
    private readonly byte[][] _selectCache = new byte[64][];

    private static readonly byte[] Multi = "*1\r\n$5\r\nMULTI\r\n"u8.ToArray();
    private static readonly byte[] Exec = "*1\r\n$4\r\nEXEC\r\n"u8.ToArray();

    /// <summary>Nesting of command calls (EXEC runs its queue through nested calls).</summary>
    public int Depth;

    /// <summary>True while someone consumes the stream; when false, commands skip all propagation work.</summary>
    public bool Active { get; private set; }

    /// <summary>While positive, nothing is propagated (loading the AOF replays commands that are already there).</summary>
    public int Suspended;

    /// <summary>Commands handed to consumers so far (tests and INFO use it).</summary>
    public long PropagatedCommands;

    public void Subscribe(IPropagationConsumer consumer)
    {
        var subs = _subs.ToList();
        subs.Add(new Subscription { Consumer = consumer });
        _subs = subs.ToArray();
        Active = true;
    }

    public void Unsubscribe(IPropagationConsumer consumer)
    {
        _subs = _subs.Where(s => s.Consumer != consumer).ToArray();
        Active = _subs.Length > 0;
        if (!Active) Discard();
    }

    /// <summary>Makes the next command fed to <paramref name="consumer"/> start with a SELECT (new AOF file, new replica).</summary>
    public void ResetSelectedDb(IPropagationConsumer consumer)
    {
        foreach (var s in _subs) if (s.Consumer == consumer) s.SelectedDb = -1;
    }

    /// <summary>Queues a command given as the client's current arguments.</summary>
    public void Add(int dbId, Client c, PropagationTarget target)
    {
        if (!Active || Suspended > 0) return;
        int start = _pendingLength;
        WriteHeader('*', c.Argc);
        for (int i = 0; i < c.Argc; i++) WriteBulk(c.Arg(i));
        Record(dbId, target, start);
    }

    /// <summary>
    /// Queues a command for propagation after the current command (Redis's alsoPropagate). Outside any
    /// command (active expiry, eviction by the cron, serving blocked clients) it goes out at once.
    /// </summary>
    public void Add(int dbId, byte[][] argv, PropagationTarget target = PropagationTarget.All)
    {
        if (!Active || Suspended > 0) return;
        int start = _pendingLength;
        WriteHeader('*', argv.Length);
        foreach (var a in argv) WriteBulk(a);
        Record(dbId, target, start);
    }

    private void Record(int dbId, PropagationTarget target, int start)
    {
        if (_opCount == _ops.Length) Array.Resize(ref _ops, _ops.Length * 2);
        _ops[_opCount++] = new PropagatedOp { DbId = dbId, Target = target, Offset = start, Length = _pendingLength - start };
        if (Depth == 0) Flush();
    }

    /// <summary>Number of commands waiting for the current command to finish.</summary>
    public int PendingCount => _opCount;

    /// <summary>
    /// Hands the pending commands to the consumers (Redis's propagatePendingCommands): more than one is
    /// wrapped in MULTI/EXEC, the MULTI in the first command's database and the EXEC in the last's.
    /// </summary>
    public void Flush()
    {
        if (_opCount == 0) return;
        bool transaction = _opCount > 1;
        if (transaction) Emit(_ops[0].DbId, PropagationTarget.All, Multi);
        for (int i = 0; i < _opCount; i++)
        {
            ref var op = ref _ops[i];
            Emit(op.DbId, op.Target, new ReadOnlySpan<byte>(_pending, op.Offset, op.Length));
        }
        if (transaction) Emit(_ops[_opCount - 1].DbId, PropagationTarget.All, Exec);
        Discard();
    }

    private void Discard()
    {
        _opCount = 0;
        _pendingLength = 0;
        // Let a one-off huge command's buffer go.
        if (_pending.Length > 1024 * 1024) _pending = new byte[4096];
    }

    private void Emit(int dbId, PropagationTarget target, ReadOnlySpan<byte> command)
    {
        PropagatedCommands++;
        foreach (var s in _subs)
        {
            if ((s.Consumer.Target & target) == 0) continue;
            if (s.SelectedDb != dbId)
            {
                s.Consumer.Feed(SelectCommand(dbId));
                s.SelectedDb = dbId;
            }
            s.Consumer.Feed(command);
        }
    }

    /// <summary>The encoded SELECT for a database (cached for the usual few).</summary>
    public byte[] SelectCommand(int dbId)
    {
        if (dbId < _selectCache.Length && _selectCache[dbId] is { } cached) return cached;
        string id = dbId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var bytes = System.Text.Encoding.ASCII.GetBytes($"*2\r\n$6\r\nSELECT\r\n${id.Length}\r\n{id}\r\n");
        if (dbId < _selectCache.Length) _selectCache[dbId] = bytes;
        return bytes;
    }

    // ---- encoding -------------------------------------------------------------------------------

    private void Ensure(int more)
    {
        if (_pendingLength + more <= _pending.Length) return;
        Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + more));
    }

    private void WriteHeader(char kind, long n)
    {
        Ensure(24);
        _pending[_pendingLength++] = (byte)kind;
        Utf8Formatter.TryFormat(n, _pending.AsSpan(_pendingLength), out int w);
        _pendingLength += w;
        _pending[_pendingLength++] = (byte)'\r';
        _pending[_pendingLength++] = (byte)'\n';
    }

    private void WriteBulk(ReadOnlySpan<byte> arg)
    {
        WriteHeader('$', arg.Length);
        Ensure(arg.Length + 2);
        arg.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += arg.Length;
        _pending[_pendingLength++] = (byte)'\r';
        _pending[_pendingLength++] = (byte)'\n';
    }

    /// <summary>Encodes a command as RESP (used by the AOF rewrite and tests).</summary>
    public static void Encode(System.Buffers.IBufferWriter<byte> w, ReadOnlySpan<byte[]> argv)
    {
        WriteHeaderTo(w, '*', argv.Length);
        foreach (var a in argv)
        {
            WriteHeaderTo(w, '$', a.Length);
            var span = w.GetSpan(a.Length + 2);
            a.CopyTo(span);
            span[a.Length] = (byte)'\r';
            span[a.Length + 1] = (byte)'\n';
            w.Advance(a.Length + 2);
        }
    }

    private static void WriteHeaderTo(System.Buffers.IBufferWriter<byte> w, char kind, long n)
    {
        var span = w.GetSpan(24);
        span[0] = (byte)kind;
        Utf8Formatter.TryFormat(n, span[1..], out int len);
        span[1 + len] = (byte)'\r';
        span[2 + len] = (byte)'\n';
        w.Advance(len + 3);
    }
}
