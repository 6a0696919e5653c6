namespace HealthMate.Backup.Pipeline;

/// <summary>
/// The stream a backup source writes to. It checks the run's token before every write and flush: once a run is
/// aborted, the pipe behind it may no longer wait (and so no longer observe cancellation), and a source that writes
/// in a loop would otherwise spin forever while the runner waits for it to return.
/// </summary>
internal sealed class SourceWriteStream(Stream inner, CancellationToken runToken) : WriteOnlyStream
{
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
}
