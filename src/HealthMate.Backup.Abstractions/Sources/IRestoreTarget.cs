namespace HealthMate.Backup;

/// <summary>Consumes the restored bytes of a backup: writes a file, feeds <c>pg_restore</c>, extracts a tar.</summary>
/// <remarks>
/// The bytes handed to a target are only trustworthy once the pipeline has checked the last segment and the
/// checksums. The pipeline reports a failure by making the source stream throw, and after the target
/// returns it still fails the restore if a checksum does not match; a target that commits (renames a file,
/// ends a transaction) should do so only when <see cref="RestoreFromAsync"/> reads to the end without error.
/// </remarks>
public interface IRestoreTarget
{
    /// <summary>Reads the restored content from <paramref name="source"/> until its end.</summary>
    /// <param name="source">The decrypted, decompressed content. The target must not dispose it.</param>
    /// <param name="context">The backup being restored.</param>
    /// <param name="cancellationToken">Cancels the restore.</param>
    /// <returns>A task that completes when the target has consumed all content.</returns>
    ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gets a value indicating whether the target acts on bytes as it reads them, in ways a later failure cannot undo
    /// (<c>pg_restore</c> and <c>psql</c> execute statements). Such a target sees only authentic bytes: an encrypted
    /// object's segments are each authenticated before they are released, and an unencrypted object is first read in
    /// full and checked against its stored size and SHA-256, then restored (and checked again). Someone able to rewrite
    /// the storage between those two reads is only kept out by encryption.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: the target stages what it reads and commits only at the end.</value>
    bool ActsWhileReading => false;
}
