namespace HealthMate.Backup.Storage;

/// <summary>An object being written. It becomes visible only through <see cref="CommitAsync"/>.</summary>
/// <remarks>Disposing a writer that was not committed aborts it: whatever was written is discarded.</remarks>
public interface IStorageWriter : IAsyncDisposable
{
    /// <summary>Gets the key the object will be committed under.</summary>
    string Key { get; }

    /// <summary>Appends bytes to the object.</summary>
    /// <param name="data">The bytes to append.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the bytes are accepted.</returns>
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>Makes the object durable and visible under <see cref="Key"/>, atomically.</summary>
    /// <param name="cancellationToken">Cancels the commit; a cancelled commit leaves nothing visible.</param>
    /// <returns>The committed object's description.</returns>
    /// <exception cref="StorageObjectExistsException">An object with that key exists and overwriting was not allowed.</exception>
    ValueTask<StorageObjectInfo> CommitAsync(CancellationToken cancellationToken = default);
}
