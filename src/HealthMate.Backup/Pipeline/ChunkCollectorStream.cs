namespace HealthMate.Backup.Pipeline;

/// <summary>A write-only stream that gathers what a compressing stream writes into pooled chunks of a fixed size.</summary>
internal sealed class ChunkCollectorStream(ChunkPool pool, int chunkSize) : Stream
{
    private readonly Queue<Chunk> _ready = new();
    private Chunk _current = pool.Rent(chunkSize);
    private int _filled;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

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

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

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

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

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
