namespace HealthMate.Backup;

/// <summary>
/// The key configured under a key id is not the key the data was written with. The data itself may be intact.
/// </summary>
public sealed class WrongKeyException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="WrongKeyException"/> class.</summary>
    /// <param name="keyId">The key id named by the data.</param>
    /// <param name="what">What was being opened, such as <c>encrypted object</c> or <c>manifest</c>.</param>
    public WrongKeyException(string keyId, string what)
        : base($"The key configured as '{keyId}' is not the key this {what} was written with. Configure the original key material for key id '{keyId}'.")
    {
        KeyId = keyId;
    }

    /// <summary>Gets the key id named by the data.</summary>
    public string KeyId { get; }
}
