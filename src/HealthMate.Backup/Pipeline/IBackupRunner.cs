namespace HealthMate.Backup;

/// <summary>Takes backups: source → compress → encrypt → hash → storage, then the manifest.</summary>
public interface IBackupRunner
{
    /// <summary>Backs up a source. The backup exists only once this returns: on failure or cancellation nothing is
    /// committed, no partial object remains visible, and older backups are untouched.</summary>
    /// <param name="source">What to back up.</param>
    /// <param name="request">The backup type and parent, or <see langword="null"/> for a full backup.</param>
    /// <param name="progress">Receives progress reports, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the backup.</param>
    /// <returns>The committed backup.</returns>
    /// <exception cref="BackupStageException">A stage failed; <see cref="BackupStageException.Stage"/> says which.</exception>
    ValueTask<BackupResult> RunAsync(IBackupSource source, BackupRequest? request = null, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default);
}
