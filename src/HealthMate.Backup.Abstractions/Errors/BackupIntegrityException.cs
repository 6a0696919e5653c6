namespace HealthMate.Backup;

/// <summary>
/// Stored data is not what was written: corrupted, tampered with, truncated, reordered or forged.
/// Catch this type to handle every integrity failure; its subclasses say which one.
/// </summary>
public class BackupIntegrityException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="BackupIntegrityException"/> class.</summary>
    /// <param name="message">What was found.</param>
    public BackupIntegrityException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="BackupIntegrityException"/> class.</summary>
    /// <param name="message">What was found.</param>
    /// <param name="innerException">The cause.</param>
    public BackupIntegrityException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
