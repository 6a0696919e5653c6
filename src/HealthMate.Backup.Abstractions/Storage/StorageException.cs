namespace HealthMate.Backup.Storage;

/// <summary>A storage operation failed. <see cref="IsTransient"/> says whether retrying may help.</summary>
public class StorageException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="StorageException"/> class.</summary>
    public StorageException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageException"/> class.</summary>
    /// <param name="message">What failed, naming the provider and key, never a credential.</param>
    public StorageException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageException"/> class.</summary>
    /// <param name="message">What failed, naming the provider and key, never a credential.</param>
    /// <param name="innerException">The cause.</param>
    public StorageException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageException"/> class.</summary>
    /// <param name="message">What failed, naming the provider and key, never a credential.</param>
    /// <param name="key">The object key concerned.</param>
    /// <param name="isTransient">Whether retrying may succeed (throttling, timeouts, 5xx).</param>
    /// <param name="innerException">The cause.</param>
    public StorageException(string message, string? key, bool isTransient, Exception? innerException = null)
        : base(message, innerException)
    {
        Key = key;
        IsTransient = isTransient;
    }

    /// <summary>Gets the object key concerned, if any.</summary>
    public string? Key { get; }

    /// <summary>Gets a value indicating whether retrying the operation may succeed.</summary>
    public bool IsTransient { get; }
}
