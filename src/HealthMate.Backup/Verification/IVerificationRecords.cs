namespace HealthMate.Backup.Verification;

/// <summary>Stores and reads verification records next to their backups.</summary>
public interface IVerificationRecords
{
    /// <summary>Stores a record for a backup (never replacing another).</summary>
    /// <param name="backup">The verified backup.</param>
    /// <param name="method"><c>checksum</c>, <c>full</c>, <c>deep</c> or <c>test-restore</c>.</param>
    /// <param name="startedAt">When the verification started.</param>
    /// <param name="failure">Why it failed, or null when it passed.</param>
    /// <param name="details">What it measured.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>The stored record.</returns>
    Task<VerificationRecord> AddAsync(Catalog.BackupManifest backup, string method, DateTimeOffset startedAt, Exception? failure, IReadOnlyDictionary<string, string>? details = null, CancellationToken cancellationToken = default);

    /// <summary>Lists a backup's records, oldest first; each is authenticated.</summary>
    /// <param name="kind">The backup's kind.</param>
    /// <param name="backupId">The backup's id.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The records.</returns>
    IAsyncEnumerable<VerificationRecord> ListAsync(string kind, string backupId, CancellationToken cancellationToken = default);
}
