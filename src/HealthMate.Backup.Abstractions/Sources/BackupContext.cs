namespace HealthMate.Backup;

/// <summary>Describes the backup a source is writing.</summary>
public sealed class BackupContext
{
    /// <summary>Initializes a new instance of the <see cref="BackupContext"/> class.</summary>
    /// <param name="backupId">The identifier of the backup being written.</param>
    /// <param name="type">The backup type.</param>
    /// <param name="parentId">The backup this one builds on, or <see langword="null"/> for a full backup.</param>
    public BackupContext(string backupId, BackupType type, string? parentId)
    {
        ArgumentException.ThrowIfNullOrEmpty(backupId);
        BackupId = backupId;
        Type = type;
        ParentId = parentId;
    }

    /// <summary>Gets the identifier of the backup being written.</summary>
    public string BackupId { get; }

    /// <summary>Gets the backup type.</summary>
    public BackupType Type { get; }

    /// <summary>Gets the identifier of the backup this one builds on, if any.</summary>
    public string? ParentId { get; }

    /// <summary>
    /// Gets properties the source records about what it wrote (a server version, a file count).
    /// They are stored in the manifest, which is not encrypted: never put a secret here.
    /// </summary>
    public IDictionary<string, string> Properties { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
}
