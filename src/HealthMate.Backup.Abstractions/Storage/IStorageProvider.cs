namespace HealthMate.Backup.Storage;

/// <summary>
/// Stores opaque objects under slash-separated keys (<c>backups/files/{id}/data</c>). A provider knows nothing of
/// compression or encryption.
/// </summary>
/// <remarks>
/// Every provider guarantees: a write becomes visible only when committed, atomically, and an aborted write leaves
/// nothing visible; committed objects are never overwritten unless the caller asks for it; keys are validated so
/// no key can address anything outside the provider's root. Retry, throttling and replication are decorators
/// around a provider, not options inside one.
/// </remarks>
public interface IStorageProvider
{
    /// <summary>Gets a short name for logs and errors (never a credential).</summary>
    string Name { get; }

    /// <summary>Starts writing an object. Nothing is visible under <paramref name="key"/> until
    /// <see cref="IStorageWriter.CommitAsync"/> succeeds; disposing the writer without committing aborts it.</summary>
    /// <param name="key">The object key.</param>
    /// <param name="options">Write options, or <see langword="null"/> for the defaults (never overwrite).</param>
    /// <param name="cancellationToken">Cancels opening the write.</param>
    /// <returns>The writer.</returns>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not a valid key.</exception>
    ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Opens a committed object for reading, whole or a byte range of it.</summary>
    /// <param name="key">The object key.</param>
    /// <param name="range">The bytes to read, or <see langword="null"/> for the whole object.</param>
    /// <param name="cancellationToken">Cancels opening the read.</param>
    /// <returns>A stream of the object's bytes; the caller disposes it.</returns>
    /// <exception cref="StorageObjectNotFoundException">No object has that key.</exception>
    ValueTask<Stream> OpenReadAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default);

    /// <summary>Lists committed objects whose key starts with <paramref name="prefix"/>, in ordinal key order.</summary>
    /// <param name="prefix">The key prefix; empty lists everything.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The objects.</returns>
    IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Gets an object's size and time, or <see langword="null"/> if it does not exist.</summary>
    /// <param name="key">The object key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The object's description, or <see langword="null"/>.</returns>
    ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Deletes an object.</summary>
    /// <param name="key">The object key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see langword="true"/> if an object was deleted; <see langword="false"/> if there was none.</returns>
    ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Creates a small object only if no object has that key, atomically (used for leases).</summary>
    /// <param name="key">The object key.</param>
    /// <param name="content">The object's content.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see langword="true"/> if this call created the object; <see langword="false"/> if it already existed.</returns>
    ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes what writes that never committed nor aborted left behind (a process killed mid-write leaves a temporary
    /// file on disk, an incomplete multipart upload in a bucket): never an object, never visible, but taking space.
    /// Retention calls it with its grace period, so a write still running is never touched. Decorators pass it on.
    /// </summary>
    /// <param name="prefix">Only writes to keys under this prefix (another deployment may share the store).</param>
    /// <param name="startedBefore">Only what was started before this time is removed.</param>
    /// <param name="cancellationToken">Cancels the clean-up.</param>
    /// <returns>How many abandoned writes were removed.</returns>
    ValueTask<int> RemoveAbandonedWritesAsync(string prefix, DateTimeOffset startedBefore, CancellationToken cancellationToken = default) => ValueTask.FromResult(0);
}
