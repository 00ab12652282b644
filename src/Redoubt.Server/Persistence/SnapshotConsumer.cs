using System.Runtime.InteropServices;

namespace Redoubt.Server.Persistence;

/// <summary>
/// A destination of a <see cref="Snapshot"/>'s bytes: the RDB file of a BGSAVE, or a replica's socket
/// for a full resync. Several consumers may share one snapshot (Redis serves every replica waiting for
/// a full resync from one BGSAVE); one that fails is dropped without disturbing the others.
/// </summary>
public abstract class SnapshotConsumer
{
    /// <summary>Where the encoded bytes go, in order. Written on the snapshot's writer thread.</summary>
    public abstract Stream Stream { get; }

    /// <summary>What made this consumer fail, or null.</summary>
    public Exception? Error { get; private set; }

    internal void Fail(Exception e)
    {
        Error ??= e;
        try { OnFailed(e); } catch (Exception) { }
    }

    /// <summary>After the last byte was written, on the writer thread without the lock (fsync, for a file). Throws on failure.</summary>
    public virtual void Finish() { }

    /// <summary>Its stream failed: release what it holds (on the writer thread).</summary>
    protected virtual void OnFailed(Exception e) { }

    /// <summary>The snapshot was cancelled: release what it holds (under the lock).</summary>
    public virtual void Abort() { }

    /// <summary>An error as Redis's strerror would word it ("No space left on device").</summary>
    public static string Describe(Exception e)
    {
        if (e is IOException io && io.HResult > 0 && io.HResult < 4096 && OperatingSystem.IsLinux())
            return Marshal.GetPInvokeErrorMessage(io.HResult);
        return e.Message;
    }
}

/// <summary>A consumer over any stream (a replica's socket, a test's pipe) with a completion callback.</summary>
public sealed class StreamConsumer : SnapshotConsumer
{
    private readonly Stream _stream;
    private readonly Action<Exception?>? _finished;

    public StreamConsumer(Stream stream, Action<Exception?>? finished = null)
    {
        _stream = stream;
        _finished = finished;
    }

    public override Stream Stream => _stream;

    public override void Finish()
    {
        _stream.Flush();
        _finished?.Invoke(null);
    }

    protected override void OnFailed(Exception e) => _finished?.Invoke(e);
}

/// <summary>Writes each chunk to several consumers; one that throws is marked failed and skipped.</summary>
internal sealed class FanoutStream : Stream
{
    private readonly SnapshotConsumer[] _consumers;
    private readonly bool _throw;
    public long Written;

    public FanoutStream(SnapshotConsumer[] consumers, bool throwOnError)
    {
        _consumers = consumers;
        _throw = throwOnError;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        foreach (var c in _consumers)
        {
            if (c.Error != null) continue;
            try { c.Stream.Write(buffer); }
            catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or UnauthorizedAccessException)
            {
                c.Fail(e);
                if (_throw) throw;
            }
        }
        Written += buffer.Length;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void WriteByte(byte value) => Write([value]);
    public override void Flush() { }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => Written;
    public override long Position { get => Written; set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
