namespace HealthMate.Backup;

/// <summary>A stored object ends early (or, for an encrypted object, carries data after its final segment).</summary>
public sealed class BackupTruncatedException : BackupIntegrityException
{
    /// <summary>Initializes a new instance of the <see cref="BackupTruncatedException"/> class.</summary>
    /// <param name="message">Where the object ends and where it should have ended.</param>
    public BackupTruncatedException(string message)
        : base(message)
    {
    }
}
