namespace HealthMate.Backup.Encryption;

/// <summary>
/// One key-encryption key: an id and exactly one source of its 256-bit material. The material never appears in
/// logs, exceptions, manifests or <see cref="ToString"/>.
/// </summary>
public sealed class BackupKeyOptions
{
    /// <summary>The default number of PBKDF2-HMAC-SHA256 iterations for <see cref="Passphrase"/> (OWASP 2023 guidance).</summary>
    public const int DefaultPassphraseIterations = 600_000;

    /// <summary>Gets or sets the key id, 1 to 64 characters of <c>A-Z a-z 0-9 . _ -</c>. Stored in headers and manifests.</summary>
    public string Id { get; set; } = string.Empty;

    /// <summary>Gets or sets the key as base64 of 32 bytes. Prefer <see cref="EnvironmentVariable"/> or <see cref="File"/>
    /// over putting key material in a configuration file.</summary>
    public string? Base64 { get; set; }

    /// <summary>Gets or sets the name of an environment variable holding the key as base64 of 32 bytes.</summary>
    public string? EnvironmentVariable { get; set; }

    /// <summary>Gets or sets the path of a file holding the key: 32 raw bytes, or base64 of 32 bytes.</summary>
    public string? File { get; set; }

    /// <summary>Gets or sets a passphrase stretched into the key with PBKDF2-HMAC-SHA256.</summary>
    public string? Passphrase { get; set; }

    /// <summary>Gets or sets the PBKDF2 iteration count for <see cref="Passphrase"/>; at least 100,000. Changing it
    /// changes the key, so keep it with the passphrase.</summary>
    /// <value>The default value is 600,000.</value>
    public int PassphraseIterations { get; set; } = DefaultPassphraseIterations;

    /// <summary>Gets or sets the base64 salt for <see cref="Passphrase"/>.</summary>
    /// <value>The default value is <see langword="null"/>: the salt is SHA-256 of
    /// <c>"HealthMate.Backup v1 passphrase salt " + Id</c>, so the same passphrase gives a different key per id.</value>
    public string? PassphraseSalt { get; set; }

    /// <inheritdoc/>
    public override string ToString() => $"Key '{Id}' from {KeyMaterialLoader.DescribeSource(this)}";
}
