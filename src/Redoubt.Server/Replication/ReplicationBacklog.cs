namespace Redoubt.Server.Replication;

/// <summary>
/// The master's circular history of the replication stream (repl-backlog-size bytes): a replica that
/// reconnects asking for an offset still inside it gets the missing bytes instead of a full resync.
/// </summary>
public sealed class ReplicationBacklog
{
    private byte[] _buf;
    private int _head; // next write position

    public ReplicationBacklog(long size) => _buf = new byte[Math.Max(16 * 1024, (int)Math.Min(size, Array.MaxLength))];

    public long Size => _buf.Length;

    /// <summary>Bytes of history held.</summary>
    public long HistLen { get; private set; }

    /// <summary>Stream offset of the first byte held (master_repl_offset + 1 while empty).</summary>
    public long FirstByteOffset { get; private set; }

    /// <summary>Starts an empty history whose next byte will have offset <paramref name="nextOffset"/>.</summary>
    public void Reset(long nextOffset)
    {
        _head = 0;
        HistLen = 0;
        FirstByteOffset = nextOffset;
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.Length >= _buf.Length)
        {
            long dropped = data.Length - _buf.Length;
            data[(int)dropped..].CopyTo(_buf);
            _head = 0;
            FirstByteOffset += HistLen + dropped;
            HistLen = _buf.Length;
            return;
        }
        int first = Math.Min(data.Length, _buf.Length - _head);
        data[..first].CopyTo(_buf.AsSpan(_head));
        data[first..].CopyTo(_buf);
        _head = (_head + data.Length) % _buf.Length;
        long total = HistLen + data.Length;
        if (total > _buf.Length)
        {
            FirstByteOffset += total - _buf.Length;
            total = _buf.Length;
        }
        HistLen = total;
    }

    /// <summary>True when the history holds every byte from <paramref name="offset"/> on (or offset is the next byte).</summary>
    public bool Covers(long offset) => offset >= FirstByteOffset && offset <= FirstByteOffset + HistLen;

    /// <summary>Copies the history from <paramref name="offset"/> to its end into <paramref name="dest"/>.</summary>
    public void CopyFrom(long offset, Action<ReadOnlySpan<byte>> dest)
    {
        long skip = offset - FirstByteOffset;
        long count = HistLen - skip;
        if (count <= 0) return;
        int start = (int)(((_head - HistLen + skip) % _buf.Length + _buf.Length) % _buf.Length);
        int first = (int)Math.Min(count, _buf.Length - start);
        dest(_buf.AsSpan(start, first));
        if (count > first) dest(_buf.AsSpan(0, (int)(count - first)));
    }

    /// <summary>repl-backlog-size changed: keeps the newest history that fits.</summary>
    public void Resize(long size)
    {
        var old = new byte[HistLen];
        int pos = 0;
        CopyFrom(FirstByteOffset, s => { s.CopyTo(old.AsSpan(pos)); pos += s.Length; });
        long first = FirstByteOffset;
        _buf = new byte[Math.Max(16 * 1024, (int)Math.Min(size, Array.MaxLength))];
        Reset(first);
        Append(old);
    }
}
