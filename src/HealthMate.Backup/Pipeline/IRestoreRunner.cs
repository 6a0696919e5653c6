namespace HealthMate.Backup;

/// <summary>Restores backups: storage → hash check → decrypt → decompress → target.</summary>
public interface IRestoreRunner
{
    /// <summary>Restores a backup into a target. The target sees the end of its stream only after every segment
    /// authenticated and both checksums matched; otherwise its stream throws.</summary>
    /// <param name="backupId">The backup to restore.</param>
    /// <param name="target">Where the bytes go.</param>
    /// <param name="progress">Receives progress reports, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the restore.</param>
    /// <returns>What was restored.</returns>
    /// <exception cref="Catalog.BackupNotFoundException">No backup has that id.</exception>
    /// <exception cref="BackupIntegrityException">The data or manifest is corrupt, tampered with, truncated or reordered.</exception>
    /// <exception cref="WrongKeyException">The configured key for the backup's key id is not the one it was written with.</exception>
    /// <exception cref="BackupKeyNotFoundException">The keyring lacks the backup's key id.</exception>
    /// <exception cref="BackupStageException">Another failure, naming the stage.</exception>
    ValueTask<RestoreResult> RestoreAsync(string backupId, IRestoreTarget target, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default);
}
