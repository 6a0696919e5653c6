namespace HealthMate.Backup.Encryption;

/// <summary>Encryption of stored backups and authentication of manifests.</summary>
public sealed class EncryptionOptions
{
    /// <summary>Gets or sets a value indicating whether backup data is encrypted.</summary>
    /// <value>The default value is <see langword="true"/>. Manifests are authenticated with the keyring either way,
    /// so a keyring is always required.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the key id new backups use. Older key ids stay in <see cref="Keys"/> to restore old backups.</summary>
    public string ActiveKeyId { get; set; } = string.Empty;

    /// <summary>Gets the key-encryption keys, each with an id and exactly one source of key material.</summary>
    public IList<BackupKeyOptions> Keys { get; } = [];

    /// <summary>Gets or sets the plaintext bytes per encrypted segment, from 4 KiB to 16 MiB.</summary>
    /// <value>The default value is 1 MiB.</value>
    public int SegmentSize { get; set; } = StreamingAeadConstants.DefaultSegmentSize;

    /// <inheritdoc/>
    public override string ToString() => $"Encryption(enabled {Enabled}, active key '{ActiveKeyId}', {Keys.Count} key(s))";
}
