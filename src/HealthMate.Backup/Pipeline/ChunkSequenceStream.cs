namespace HealthMate.Backup.Pipeline;

/// <summary>A read-only stream over a sequence of chunks, for the decoders that only take a <see cref="Stream"/>.</summary>
internal sealed class ChunkSequenceStream(IAsyncEnumerable<Chunk> chunks, CancellationToken cancellationToken) : Stream
{
    private readonly IAsyncEnumerator<Chunk> _enumerator = chunks.GetAsyncEnumerator(cancellationToken);
    private Chunk _current;
    private int _offset;
    private bool _ended;

    /// <summary>Gets a value indicating whether the upstream sequence failed (so a reader's error is not the reader's fault).</summary>
    internal bool SourceFailed => SourceError is not null;

    /// <summary>Gets the error the upstream sequence failed with, if it did.</summary>
    internal Exception? SourceError { get; private set; }

    /// <summary>Gets a value indicating whether the reader reached the end of the sequence.</summary>
    internal bool Ended => _ended;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken token = default)
    {
        while (_current.IsEmpty || _offset == _current.Length)
        {
            if (_ended)
            {
                return 0;
            }

            ReleaseCurrent();
            bool moved;
            try
            {
                moved = await _enumerator.MoveNextAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Boundary: remember that the pipeline (not the reader) failed, then let the reader see the error.
                SourceError = ex;
                throw;
            }

            if (!moved)
            {
                _ended = true;
                return 0;
            }

            _current = _enumerator.Current;
            _offset = 0;
        }

        var count = Math.Min(buffer.Length, _current.Length - _offset);
        _current.Buffer.AsSpan(_offset, count).CopyTo(buffer.Span);
        _offset += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken token) =>
        ReadAsync(buffer.AsMemory(offset, count), token).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("Read this stream asynchronously.");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        ReleaseCurrent();
        await _enumerator.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private void ReleaseCurrent()
    {
        if (!_current.IsEmpty)
        {
            _current.Return();
            _current = default;
        }
    }
}
