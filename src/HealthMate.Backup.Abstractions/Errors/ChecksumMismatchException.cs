namespace HealthMate.Backup;

/// <summary>A SHA-256 or size recomputed from stored or restored bytes differs from the one in the manifest.</summary>
public sealed class ChecksumMismatchException : BackupIntegrityException
{
    /// <summary>Initializes a new instance of the <see cref="ChecksumMismatchException"/> class.</summary>
    /// <param name="subject">What was checked, such as <c>stored bytes of backup X</c>.</param>
    /// <param name="expected">The value in the manifest.</param>
    /// <param name="actual">The value recomputed.</param>
    public ChecksumMismatchException(string subject, string expected, string actual)
        : base($"Checksum mismatch for {subject}: the manifest says {expected}, the data gives {actual}.")
    {
        Subject = subject;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>Gets what was checked.</summary>
    public string Subject { get; }

    /// <summary>Gets the value recorded in the manifest.</summary>
    public string Expected { get; }

    /// <summary>Gets the value recomputed from the data.</summary>
    public string Actual { get; }
}
