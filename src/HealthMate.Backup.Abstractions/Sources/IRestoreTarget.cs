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
}
