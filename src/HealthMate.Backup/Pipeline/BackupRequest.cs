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

    /// <summary>Gets the named plan this backup belongs to (1 to 32 lower-case letters, digits and '-'), recorded in the
    /// manifest; retention and health group backups by kind and plan.</summary>
    public string? Plan { get; init; }

    /// <summary>Gets tags recorded in the manifest (each 1 to 64 letters, digits, '-', '_', '.' or ':'); a retention
    /// policy's <c>KeepTags</c> keeps backups that carry one of its tags.</summary>
    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>Gets a check run immediately before the manifest is written (the commit). A scheduled job passes its
    /// leader lease's check here, so a holder that lost its lease throws instead of committing; the backup then
    /// fails and removes what it stored.</summary>
    public Func<CancellationToken, ValueTask>? BeforeCommit { get; init; }
}
