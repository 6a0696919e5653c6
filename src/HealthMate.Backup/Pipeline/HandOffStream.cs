namespace HealthMate.Backup.Pipeline;

/// <summary>A restore target that hands its stream to a reader elsewhere and holds the pipeline open until that reader is done.</summary>
internal sealed class HandOffTarget(bool actsWhileReading = false) : IRestoreTarget
{
    /// <summary>Gets whether the reader executes what it reads (psql): then an unencrypted object is verified first.</summary>
    public bool ActsWhileReading => actsWhileReading;

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
internal sealed class HandOffStream(Stream inner, HandOffTarget target, Task running) : HealthMate.Backup.Storage.DelegatingReadStream(inner)
{
    /// <summary>Reads, and turns a pipeline failure into the error a caller sees (integrity and key errors as themselves).</summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw PipelineErrors.Throw(PipelineErrors.Map(ex, "restore", PipelineStage.Read));
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

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
