namespace HealthMate.Backup;

/// <summary>The data names a key id that the configured keyring does not hold.</summary>
public sealed class BackupKeyNotFoundException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="BackupKeyNotFoundException"/> class.</summary>
    /// <param name="keyId">The key id that is missing.</param>
    public BackupKeyNotFoundException(string keyId)
        : base($"The keyring has no key with id '{keyId}'. Add that key (for example from the retired key's configuration) to restore this backup.")
    {
        KeyId = keyId;
    }

    /// <summary>Gets the key id that is missing from the keyring.</summary>
    public string KeyId { get; }
}
