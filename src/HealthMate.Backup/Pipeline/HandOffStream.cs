namespace HealthMate.Backup.Pipeline;

/// <summary>A restore target that hands its stream to a reader elsewhere and holds the pipeline open until that reader is done.</summary>
internal sealed class HandOffTarget : IRestoreTarget
{
    private readonly TaskCompletionSource<Stream> _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal Task<Stream> Opened => _opened.Task;

    public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default)
    {
        _opened.TrySetResult(source);
        // Not cancellable on its own: the stream belongs to the pipeline until the reader releases it.
        await _released.Task.ConfigureAwait(false);
    }

    internal void Fail(Exception error) => _opened.TrySetException(error);

    internal void Release() => _released.TrySetResult();
}

/// <summary>The reading side of a <see cref="HandOffTarget"/>: forwards reads; disposing it lets the pipeline finish.</summary>
internal sealed class HandOffStream(Stream inner, HandOffTarget target, Task running) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => inner.Read(buffer);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        target.Release();
        try
        {
            await running.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Boundary: a reader that read to the end has seen every error through its reads; one that stopped early
            // abandoned the object, and the pipeline's complaint about that is expected.
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            target.Release();
        }

        base.Dispose(disposing);
    }
}
