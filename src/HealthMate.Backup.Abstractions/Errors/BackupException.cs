namespace HealthMate.Backup;

/// <summary>The base of every error HealthMate.Backup raises on purpose.</summary>
public class BackupException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="BackupException"/> class.</summary>
    public BackupException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="BackupException"/> class.</summary>
    /// <param name="message">What went wrong and what to do about it.</param>
    public BackupException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="BackupException"/> class.</summary>
    /// <param name="message">What went wrong and what to do about it.</param>
    /// <param name="innerException">The cause.</param>
    public BackupException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
