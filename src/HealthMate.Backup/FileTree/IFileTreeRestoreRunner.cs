namespace HealthMate.Backup.FileTree;

/// <summary>Restores and deeply verifies file backups, applying their chain (full, differential, incrementals).</summary>
public interface IFileTreeRestoreRunner
{
    /// <summary>
    /// Restores the tree as it was at a backup point into a folder. Every file comes from the backup in the chain that
    /// holds its bytes (per the point's index); files deleted before the point are not restored. The tree is staged and
    /// moved into place only once every archive of the chain has been read and verified.
    /// </summary>
    /// <param name="backupId">The backup point (a full, differential or incremental file backup).</param>
    /// <param name="targetDirectory">The folder: missing or empty unless <see cref="DirectoryRestoreOptions.Overwrite"/> is set.</param>
    /// <param name="options">Overwrite, subset and ownership options, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the restore; nothing reaches the target.</param>
    /// <returns>What was restored.</returns>
    /// <exception cref="Catalog.BackupNotFoundException">The point, or a backup its chain needs, is missing.</exception>
    /// <exception cref="BackupStageException">Reading or extracting an archive failed; its inner exception says why
    /// (<see cref="DirectoryRestoreException"/>, <see cref="UnsafeArchiveEntryException"/>, an integrity error).</exception>
    ValueTask<DirectoryRestoreResult> RestoreAsync(string backupId, string targetDirectory, DirectoryRestoreOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Reads every archive of the point's chain and checks each file's SHA-256 against the index.</summary>
    /// <param name="backupId">The backup point.</param>
    /// <param name="cancellationToken">Cancels verification.</param>
    /// <returns>The outcome; integrity problems are in <see cref="VerificationResult.Failure"/>.</returns>
    ValueTask<VerificationResult> VerifyDeepAsync(string backupId, CancellationToken cancellationToken = default);
}
