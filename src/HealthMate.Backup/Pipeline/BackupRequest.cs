namespace HealthMate.Backup;

/// <summary>What backup to take.</summary>
public sealed record BackupRequest
{
    /// <summary>Gets the backup type.</summary>
    /// <value>The default value is <see cref="BackupType.Full"/>.</value>
    public BackupType Type { get; init; } = BackupType.Full;

    /// <summary>Gets the committed backup of the same kind this one builds on: required for incremental and
    /// differential backups, not allowed for full ones.</summary>
    public string? ParentId { get; init; }
}
