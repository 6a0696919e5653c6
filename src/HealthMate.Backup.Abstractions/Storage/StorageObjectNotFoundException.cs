namespace HealthMate.Backup.Storage;

/// <summary>No object has the requested key.</summary>
public sealed class StorageObjectNotFoundException : StorageException
{
    /// <summary>Initializes a new instance of the <see cref="StorageObjectNotFoundException"/> class.</summary>
    public StorageObjectNotFoundException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageObjectNotFoundException"/> class.</summary>
    /// <param name="message">The message.</param>
    public StorageObjectNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageObjectNotFoundException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public StorageObjectNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StorageObjectNotFoundException"/> class.</summary>
    /// <param name="providerName">The provider's name.</param>
    /// <param name="key">The key that was not found.</param>
    /// <param name="innerException">The cause.</param>
    public StorageObjectNotFoundException(string providerName, string key, Exception? innerException)
        : base($"Storage '{providerName}' has no object '{key}'.", key, isTransient: false, innerException)
    {
    }
}
