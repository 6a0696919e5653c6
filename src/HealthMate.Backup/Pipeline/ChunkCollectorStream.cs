namespace HealthMate.Backup.Pipeline;

/// <summary>A write-only stream that gathers what a compressing stream writes into pooled chunks of a fixed size.</summary>
internal sealed class ChunkCollectorStream(ChunkPool pool, int chunkSize) : WriteOnlyStream
{
    private readonly Queue<Chunk> _ready = new();
    private Chunk _current = pool.Rent(chunkSize);
    private int _filled;

    internal bool TryTake(out Chunk chunk) => _ready.TryDequeue(out chunk);

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var count = Math.Min(buffer.Length, chunkSize - _filled);
            buffer[..count].CopyTo(_current.Buffer.AsSpan(_filled));
            _filled += count;
            buffer = buffer[count..];
            if (_filled == chunkSize)
            {
                Flush();
            }
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    /// <summary>Moves the partly filled chunk to the ready queue.</summary>
    public override void Flush()
    {
        if (_filled == 0)
        {
            return;
        }

        _ready.Enqueue(_current.WithLength(_filled));
        _current = pool.Rent(chunkSize);
        _filled = 0;
    }


    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _current.Return();
            while (_ready.TryDequeue(out var chunk))
            {
                chunk.Return();
            }
        }

        base.Dispose(disposing);
    }
}
