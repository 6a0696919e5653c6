namespace HealthMate.Backup;

/// <summary>An encrypted segment is authentic but stored at the wrong position: segments were reordered.</summary>
public sealed class BackupSegmentOrderException : BackupIntegrityException
{
    /// <summary>Initializes a new instance of the <see cref="BackupSegmentOrderException"/> class.</summary>
    /// <param name="position">The zero-based position where the segment was found.</param>
    /// <param name="writtenAs">The zero-based index the segment was written as.</param>
    public BackupSegmentOrderException(long position, long writtenAs)
        : base($"Encrypted segment found at position {position} was written as segment {writtenAs}: the object's segments were reordered.")
    {
        Position = position;
        WrittenAs = writtenAs;
    }

    /// <summary>Gets the zero-based position where the segment was found.</summary>
    public long Position { get; }

    /// <summary>Gets the zero-based index the segment was written as.</summary>
    public long WrittenAs { get; }
}
