namespace HealthMate.Backup;

/// <summary>A stored object or manifest is not in a format this version understands, or its header is damaged.</summary>
public sealed class BackupFormatException : BackupIntegrityException
{
    /// <summary>Initializes a new instance of the <see cref="BackupFormatException"/> class.</summary>
    /// <param name="message">What is wrong with the format.</param>
    public BackupFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="BackupFormatException"/> class.</summary>
    /// <param name="message">What is wrong with the format.</param>
    /// <param name="innerException">The cause.</param>
    public BackupFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
