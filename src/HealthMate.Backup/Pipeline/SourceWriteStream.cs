namespace HealthMate.Backup.Pipeline;

/// <summary>
/// The stream a backup source writes to. It checks the run's token before every write and flush: once a run is
/// aborted, the pipe behind it may no longer wait (and so no longer observe cancellation), and a source that writes
/// in a loop would otherwise spin forever while the runner waits for it to return.
/// </summary>
internal sealed class SourceWriteStream(Stream inner, CancellationToken runToken) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        runToken.ThrowIfCancellationRequested();
        inner.Write(buffer);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        runToken.ThrowIfCancellationRequested();
        cancellationToken.ThrowIfCancellationRequested();
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
        runToken.ThrowIfCancellationRequested();
        inner.Flush();
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        runToken.ThrowIfCancellationRequested();
        return inner.FlushAsync(cancellationToken);
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
