namespace HealthMate.Backup.Storage;

/// <summary>A range of bytes of an object.</summary>
public readonly record struct ByteRange
{
    /// <summary>Initializes a new instance of the <see cref="ByteRange"/> struct.</summary>
    /// <param name="offset">The first byte to read.</param>
    /// <param name="length">How many bytes to read, or <see langword="null"/> to read to the end.</param>
    public ByteRange(long offset, long? length = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(l, nameof(length));
        }

        Offset = offset;
        Length = length;
    }

    /// <summary>Gets the first byte to read.</summary>
    public long Offset { get; }

    /// <summary>Gets how many bytes to read, or <see langword="null"/> to read to the end of the object.</summary>
    public long? Length { get; }
}
