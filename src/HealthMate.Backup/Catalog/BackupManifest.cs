namespace HealthMate.Backup.Catalog;

/// <summary>
/// What a committed backup is: written last, its presence in storage commits the backup. Authenticated with an
/// HMAC under a key derived from the key-encryption key (docs/format.md). Holds no secret.
/// </summary>
public sealed record BackupManifest
{
    /// <summary>The manifest format version this library writes (docs/format.md): 2 binds every encrypted object to its
    /// backup id and name, and stores archived objects' data under keys of their own. Version 1 manifests are still read.</summary>
    public const int CurrentFormatVersion = 2;

    /// <summary>Gets the manifest format version.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>Gets the backup id (time-sortable).</summary>
    public required string BackupId { get; init; }

    /// <summary>Gets the kind of data (<c>files</c>, <c>postgresql</c>, ...), also the storage folder.</summary>
    public required string Kind { get; init; }

    /// <summary>Gets the source's description, such as a database or folder name.</summary>
    public required string Name { get; init; }

    /// <summary>Gets the backup type.</summary>
    public BackupType Type { get; init; }

    /// <summary>Gets the id of the backup this one builds on, if any.</summary>
    public string? ParentId { get; init; }

    /// <summary>Gets the named plan the backup was taken for (such as <c>nightly</c>), which chooses its retention
    /// policy and health objectives; <see langword="null"/> when it was taken outside a plan.</summary>
    public string? Plan { get; init; }

    /// <summary>Gets the backup's tags (such as <c>before-migration</c>); a retention policy can keep anything tagged.</summary>
    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>Gets when the backup started.</summary>
    public DateTimeOffset StartedAt { get; init; }

    /// <summary>Gets when the data object was committed.</summary>
    public DateTimeOffset CompletedAt { get; init; }

    /// <summary>Gets what the source recorded about itself (server version, counts). Never secrets.</summary>
    public IReadOnlyDictionary<string, string> Properties { get; init; } = new Dictionary<string, string>();

    /// <summary>Gets how the data was transformed.</summary>
    public required ManifestPipeline Pipeline { get; init; }

    /// <summary>Gets where the data is and its sizes and checksums.</summary>
    public required ManifestData Data { get; init; }

    /// <summary>Gets the companion objects stored beside the data (such as a file backup's <c>index</c>), by name;
    /// each is compressed and encrypted like the data and has its own sizes and checksums.</summary>
    public IReadOnlyDictionary<string, ManifestData>? Objects { get; init; }
}

/// <summary>How a backup's data was compressed and encrypted.</summary>
public sealed record ManifestPipeline
{
    /// <summary>Gets the compression format: <c>zstd</c>, <c>gzip</c>, <c>brotli</c> or <c>none</c>.</summary>
    public required string Compression { get; init; }

    /// <summary>Gets the compression level used.</summary>
    public int CompressionLevel { get; init; }

    /// <summary>Gets the size of the independently compressed blocks (the most a frame decompresses to).</summary>
    public int CompressionBlockSize { get; init; }

    /// <summary>Gets the encryption algorithm, or <c>none</c>.</summary>
    public required string Encryption { get; init; }

    /// <summary>Gets the key id the data was encrypted with, if encrypted.</summary>
    public string? KeyId { get; init; }

    /// <summary>Gets the plaintext bytes per encrypted segment, if encrypted.</summary>
    public int? SegmentSize { get; init; }

    /// <summary>Gets the per-backup HKDF salt (hex), copied from the object header, if encrypted. Not secret.</summary>
    public string? Salt { get; init; }
}

/// <summary>Where a backup's data is, and what it must hash to.</summary>
public sealed record ManifestData
{
    /// <summary>Gets the data object's storage key relative to the storage prefix (<c>backups/{kind}/{id}/data</c>).
    /// Readers derive the key from where the manifest is, so a store copied under another prefix still restores.</summary>
    public required string Key { get; init; }

    /// <summary>Gets the size of the stored object in bytes.</summary>
    public long StoredSize { get; init; }

    /// <summary>Gets the SHA-256 of the stored object (lower-case hex), checkable with <c>sha256sum</c> and no key.</summary>
    public required string StoredSha256 { get; init; }

    /// <summary>Gets the size of the source's bytes.</summary>
    public long PlaintextSize { get; init; }

    /// <summary>Gets the SHA-256 of the source's bytes (lower-case hex).</summary>
    public required string PlaintextSha256 { get; init; }
}
