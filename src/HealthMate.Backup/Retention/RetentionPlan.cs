namespace HealthMate.Backup.Retention;

/// <summary>What retention decided for one backup.</summary>
/// <param name="Kind">The backup's kind.</param>
/// <param name="BackupId">The backup's id.</param>
/// <param name="Plan">The backup's plan, if any.</param>
/// <param name="Name">The source's name.</param>
/// <param name="Type">Full, differential or incremental.</param>
/// <param name="CompletedAt">When the backup completed.</param>
/// <param name="Keep">Whether it is kept.</param>
/// <param name="Reasons">Why it is kept (every rule that keeps it) or deleted.</param>
public sealed record RetentionDecision(string Kind, string BackupId, string? Plan, string Name, BackupType Type, DateTimeOffset CompletedAt, bool Keep, IReadOnlyList<string> Reasons);

/// <summary>An archive object (such as a WAL segment) that retention deletes, and why.</summary>
/// <param name="Key">The object's key relative to the storage prefix (such as <c>wal/{system}/{timeline}/{name}</c>).</param>
/// <param name="Reason">Why it is no longer needed.</param>
public sealed record ArchivePruneItem(string Key, string Reason);

/// <summary>
/// A retention plan: every backup with keep or delete and the reason, the archive objects no kept backup needs, and
/// incomplete uploads past their grace period. <see cref="IBackupRetention.PlanAsync"/> makes one without deleting
/// anything; <see cref="IBackupRetention.ApplyAsync"/> makes a fresh one and carries it out.
/// </summary>
/// <param name="PlannedAt">When the plan was made (its "now").</param>
/// <param name="Backups">Every backup, oldest first, in the order deletes happen reversed.</param>
/// <param name="ArchiveObjects">Archive objects to delete, oldest first.</param>
/// <param name="IncompleteUploads">Keys (with the storage prefix) of data without a manifest, past the grace period.</param>
public sealed record RetentionPlan(DateTimeOffset PlannedAt, IReadOnlyList<RetentionDecision> Backups, IReadOnlyList<ArchivePruneItem> ArchiveObjects, IReadOnlyList<string> IncompleteUploads)
{
    /// <summary>Gets the backups to delete, in the order they are deleted (dependents before what they depend on).</summary>
    public IReadOnlyList<RetentionDecision> ToDelete { get; init; } = [];

    /// <summary>Gets the backups kept.</summary>
    public IEnumerable<RetentionDecision> ToKeep => Backups.Where(b => b.Keep);

    /// <summary>Gets the time before which data no manifest names counts as abandoned: the plan's time, or the storage's
    /// where that is behind (the newest object listed), less <see cref="RetentionOptions.IncompleteUploadGrace"/>.</summary>
    public DateTimeOffset GraceEnd { get; init; }
}

/// <summary>What applying retention did.</summary>
/// <param name="Plan">The plan that was applied.</param>
/// <param name="DeletedBackups">The ids of the backups deleted, in order.</param>
/// <param name="DeletedArchiveObjects">How many archive objects were deleted.</param>
/// <param name="DeletedIncompleteUploads">How many incomplete-upload objects were deleted.</param>
/// <param name="DeletedJobRecords">How many old job run records were deleted.</param>
public sealed record RetentionResult(RetentionPlan Plan, IReadOnlyList<string> DeletedBackups, int DeletedArchiveObjects, int DeletedIncompleteUploads, int DeletedJobRecords)
{
    /// <summary>Gets how many abandoned writes (temporary files of killed writers, incomplete multipart uploads) older
    /// than the grace period were removed.</summary>
    public int AbandonedWritesRemoved { get; init; }
}

/// <summary>An archive whose objects depend on backups of one kind (PostgreSQL WAL on base backups): retention asks it
/// which objects the kept backups no longer need.</summary>
public interface IArchiveRetention
{
    /// <summary>Gets the kind of the backups the archive continues (such as <c>postgres-base</c>); their groups keep
    /// the backup that starts the point-in-time window.</summary>
    string BackupKind { get; }

    /// <summary>Gets the archive's key prefix relative to the storage prefix (such as <c>wal/</c>).</summary>
    string Prefix { get; }

    /// <summary>Gets the kind the archive's object manifests record (such as <c>wal</c>).</summary>
    string ObjectKind { get; }

    /// <summary>Decides which archive objects no kept backup needs.</summary>
    /// <param name="retained">The kept backups of <see cref="BackupKind"/>.</param>
    /// <param name="objectKeys">The archive's committed object keys (relative to the storage prefix).</param>
    /// <returns>The objects to delete, oldest first, with reasons.</returns>
    IReadOnlyList<ArchivePruneItem> Plan(IReadOnlyList<Catalog.BackupManifest> retained, IReadOnlyList<string> objectKeys);
}

/// <summary>Plans and applies retention: which backups, archive objects and incomplete uploads to delete.</summary>
public interface IBackupRetention
{
    /// <summary>Makes a plan without deleting anything (a dry run): every backup with keep or delete and why.</summary>
    /// <param name="cancellationToken">Cancels the planning.</param>
    /// <returns>The plan.</returns>
    Task<RetentionPlan> PlanAsync(CancellationToken cancellationToken = default);

    /// <summary>Makes a fresh plan and deletes what it says, in a crash-safe order: backups dependents first, each
    /// manifest before its data (so a crash leaves no manifest pointing at missing data), then archive objects oldest
    /// first, then incomplete uploads.</summary>
    /// <param name="beforeDelete">A check run before each delete (a scheduled job's lease check), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels between deletes.</param>
    /// <returns>What was deleted.</returns>
    Task<RetentionResult> ApplyAsync(Func<CancellationToken, ValueTask>? beforeDelete = null, CancellationToken cancellationToken = default);
}
