namespace HealthMate.Backup.FileTree;

/// <summary>
/// Reads exactly <c>length</c> bytes of a file whose size was taken before reading: a file that grows is cut at that
/// length, one that shrinks is padded with zeros, so a tar header never disagrees with its data. Whether either
/// happened is in <see cref="SizeChanged"/>. Seekable (to its own position only) so TarWriter takes its length as given.
/// </summary>
internal sealed class FixedLengthReadStream(Stream inner, long length) : Stream
{
    private readonly long _length = length;
    private readonly System.Security.Cryptography.IncrementalHash _hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
    private long _position;

    /// <summary>Gets the SHA-256 (hex) of the bytes this stream returned, once it has been read to its end.</summary>
    internal string Sha256Hex() => Convert.ToHexStringLower(_hash.GetHashAndReset());

    internal bool SizeChanged { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => false;

    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set
        {
            if (value != _position)
            {
                throw new NotSupportedException("This stream reads forward only.");
            }
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var wanted = (int)Math.Min(buffer.Length, _length - _position);
        if (wanted == 0)
        {
            return 0;
        }

        var read = inner.Read(buffer[..wanted]);
        return Advance(buffer, wanted, read);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var wanted = (int)Math.Min(buffer.Length, _length - _position);
        if (wanted == 0)
        {
            return 0;
        }

        var read = await inner.ReadAsync(buffer[..wanted], cancellationToken).ConfigureAwait(false);
        return Advance(buffer.Span, wanted, read);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>After the last byte, a file that still has data grew while it was read.</summary>
    internal bool GrewBeyondLength()
    {
        Span<byte> probe = stackalloc byte[1];
        return inner.Read(probe) > 0;
    }

    public override long Seek(long offset, SeekOrigin origin) =>
        (origin == SeekOrigin.Begin && offset == _position) || (origin == SeekOrigin.Current && offset == 0) ? _position : throw new NotSupportedException("This stream reads forward only.");

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int Advance(Span<byte> buffer, int wanted, int read)
    {
        if (read == 0)
        {
            // The file shrank: pad with zeros so the archive stays well-formed, and record the change.
            SizeChanged = true;
            buffer[..wanted].Clear();
            read = wanted;
        }

        _hash.AppendData(buffer[..read]);
        _position += read;
        return read;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
