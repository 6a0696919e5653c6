namespace HealthMate.Backup.Catalog;

/// <summary>Lists, finds and loads committed backups from the storage alone: no database or local state is needed.</summary>
public interface IBackupCatalog
{
    /// <summary>Lists committed backups, oldest first. Manifests that fail authentication are left out, logged (event
    /// 1300) and counted (<c>healthmate.backup.catalog.invalid_manifests</c>); <see cref="ListEntriesAsync"/> lists them
    /// with the reason, and the backup health report is unhealthy while any exists.</summary>
    /// <param name="kind">Only backups of this kind, or <see langword="null"/> for all.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The authenticated manifests.</returns>
    IAsyncEnumerable<BackupManifest> ListAsync(string? kind = null, CancellationToken cancellationToken = default);

    /// <summary>Lists every manifest in the storage, oldest first, each with its authenticated manifest or the reason it
    /// is not valid (tampered, damaged, another key, a key the ring lacks).</summary>
    /// <param name="kind">Only backups of this kind, or <see langword="null"/> for all.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The entries.</returns>
    IAsyncEnumerable<CatalogEntry> ListEntriesAsync(string? kind = null, CancellationToken cancellationToken = default);

    /// <summary>Finds a backup by id.</summary>
    /// <param name="backupId">The backup id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The manifest, or <see langword="null"/> if no backup has that id.</returns>
    /// <exception cref="ArgumentException"><paramref name="backupId"/> is not a backup id.</exception>
    /// <exception cref="BackupIntegrityException">The manifest exists but is not authentic.</exception>
    /// <exception cref="WrongKeyException">The manifest was written with another key under the same key id.</exception>
    /// <exception cref="BackupKeyNotFoundException">The manifest names a key id the keyring lacks.</exception>
    ValueTask<BackupManifest?> FindAsync(string backupId, CancellationToken cancellationToken = default);

    /// <summary>Finds a backup of a known kind by id with one read (no listing).</summary>
    /// <param name="kind">The backup's kind.</param>
    /// <param name="backupId">The backup id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The manifest, or <see langword="null"/> if no backup of that kind has that id.</returns>
    /// <exception cref="BackupIntegrityException">The manifest exists but is not authentic.</exception>
    ValueTask<BackupManifest?> FindAsync(string kind, string backupId, CancellationToken cancellationToken = default);

    /// <summary>Gets a backup by id.</summary>
    /// <param name="backupId">The backup id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The manifest.</returns>
    /// <exception cref="BackupNotFoundException">No backup has that id.</exception>
    ValueTask<BackupManifest> GetAsync(string backupId, CancellationToken cancellationToken = default);
}
