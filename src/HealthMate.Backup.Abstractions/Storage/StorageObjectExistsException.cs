namespace HealthMate.Backup.Storage;

/// <summary>A commit would have overwritten an existing object, which was not allowed.</summary>
public sealed class StorageObjectExistsException : StorageException
{
    /// <summary>Initializes a new instance of the <see cref="StorageObjectExistsException"/> class.</summary>
    public StorageObjectExistsException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageObjectExistsException"/> class.</summary>
    /// <param name="message">The message.</param>
    public StorageObjectExistsException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageObjectExistsException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public StorageObjectExistsException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageObjectExistsException"/> class.</summary>
    /// <param name="providerName">The provider's name.</param>
    /// <param name="key">The key that exists.</param>
    /// <param name="innerException">The cause.</param>
    public StorageObjectExistsException(string providerName, string key, Exception? innerException)
        : base($"Storage '{providerName}' already has an object '{key}'; it was left untouched.", key, isTransient: false, innerException)
    {
    }
}
