namespace HealthMate.Backup;

/// <summary>
/// Produces the bytes of one backup: a database dump, a tar of files, a WAL segment, any stream.
/// </summary>
/// <remarks>
/// The pipeline calls <see cref="WriteToAsync"/> once per backup and compresses, encrypts, hashes and stores
/// what the source writes, as it writes it. A source must stream: it never needs to hold its whole content.
/// If it throws, or the token is cancelled, the backup is aborted and nothing is stored.
/// </remarks>
public interface IBackupSource
{
    /// <summary>Gets the kind of data this source produces, such as <c>files</c> or <c>postgresql</c>.
    /// It names the folder the backup is stored under and must be a lower-case identifier (<c>[a-z0-9-]</c>).</summary>
    string Kind { get; }

    /// <summary>Gets a human-readable description of what is backed up (a database name, a folder). Never a secret.</summary>
    string Name { get; }

    /// <summary>Writes the source's content to <paramref name="destination"/>.</summary>
    /// <param name="destination">The stream the pipeline reads from. The source must not dispose it.</param>
    /// <param name="context">The backup being produced; sources record what they learned in <see cref="BackupContext.Properties"/>.</param>
    /// <param name="cancellationToken">Cancels the backup.</param>
    /// <returns>A task that completes when all content has been written.</returns>
    ValueTask WriteToAsync(Stream destination, BackupContext context, CancellationToken cancellationToken = default);
}
