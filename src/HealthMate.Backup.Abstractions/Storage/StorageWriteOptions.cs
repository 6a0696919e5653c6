namespace HealthMate.Backup.Storage;

/// <summary>Options of one storage write.</summary>
public sealed record StorageWriteOptions
{
    /// <summary>Gets a value indicating whether the commit may replace an existing object.</summary>
    /// <value>The default value is <see langword="false"/>: committing over an existing object fails.</value>
    public bool Overwrite { get; init; }

    /// <summary>Gets the SHA-256 of the content, lower-case hex, if the caller knows it in advance; providers may
    /// store it as object metadata. Most backup writes do not know it until the end.</summary>
    public string? ContentSha256 { get; init; }
}
