namespace HealthMate.Backup.Health;

/// <summary>The health of every backup group (kind and plan): is the newest recovery point recent enough, did the
/// recent runs succeed, is it verified.</summary>
/// <param name="GeneratedAt">When the report was made.</param>
/// <param name="Status">The worst group status.</param>
/// <param name="Groups">One entry per group, targets first.</param>
public sealed record BackupHealthReport(DateTimeOffset GeneratedAt, ProbeStatus Status, IReadOnlyList<BackupGroupHealth> Groups);

/// <summary>The health of the backups of one kind and plan.</summary>
public sealed record BackupGroupHealth
{
    /// <summary>Gets the backup kind.</summary>
    public required string Kind { get; init; }

    /// <summary>Gets the plan, if any.</summary>
    public string? Plan { get; init; }

    /// <summary>Gets the tier whose RPO applies, if any.</summary>
    public string? Tier { get; init; }

    /// <summary>Gets the group's status.</summary>
    public ProbeStatus Status { get; init; }

    /// <summary>Gets what is wrong, one line each (empty when healthy).</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];

    /// <summary>Gets the newest backup's id.</summary>
    public string? LastSuccessId { get; init; }

    /// <summary>Gets when the newest backup completed.</summary>
    public DateTimeOffset? LastSuccessAt { get; init; }

    /// <summary>Gets the newest backup's age.</summary>
    public TimeSpan? LastSuccessAge { get; init; }

    /// <summary>Gets the number of backups in the window.</summary>
    public int BackupsInWindow { get; init; }

    /// <summary>Gets the share of the target job's runs in the window that succeeded, if it has a job and runs.</summary>
    public double? SuccessRate { get; init; }

    /// <summary>Gets the target job's failed runs in the window.</summary>
    public int FailedRuns { get; init; }

    /// <summary>Gets the newest backup's stored size.</summary>
    public long? LastStoredSize { get; init; }

    /// <summary>Gets the median stored size of the backups in the window before the newest.</summary>
    public long? MedianStoredSize { get; init; }

    /// <summary>Gets the newest stored size over that median (1 is steady; a sudden 0.1 is worth a look).</summary>
    public double? SizeTrend { get; init; }

    /// <summary>Gets when the newest verification of a recent backup completed.</summary>
    public DateTimeOffset? LastVerifiedAt { get; init; }

    /// <summary>Gets whether that verification passed.</summary>
    public bool? LastVerificationPassed { get; init; }

    /// <summary>Gets when the newest test restore of a recent backup completed.</summary>
    public DateTimeOffset? LastTestRestoreAt { get; init; }

    /// <summary>Gets how long that test restore took (the measured time to restore).</summary>
    public double? LastTestRestoreSeconds { get; init; }

    /// <summary>Gets the newest point the group can be restored to (its newest backup, or the newest archived WAL).</summary>
    public DateTimeOffset? RecoveryPointAt { get; init; }

    /// <summary>Gets the data that would be lost restoring now: the recovery point's age.</summary>
    public TimeSpan? RecoveryPointAge { get; init; }

    /// <summary>Gets the tier's RPO, if a tier applies.</summary>
    public TimeSpan? Rpo { get; init; }

    /// <summary>Gets whether the recovery point meets the RPO (<see langword="null"/> without a tier).</summary>
    public bool? RpoCompliant { get; init; }
}
