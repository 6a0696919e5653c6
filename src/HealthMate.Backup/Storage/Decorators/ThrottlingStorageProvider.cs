using System.Runtime.CompilerServices;

namespace HealthMate.Backup.Storage.Decorators;

/// <summary>
/// Caps how many operations run against a provider at once (an open writer or reader holds its slot until disposed), so
/// a host can keep backups from saturating a link or a store's request rate.
/// </summary>
public sealed class ThrottlingStorageProvider(IStorageProvider inner, int maxConcurrentOperations) : IStorageProvider, IDisposable
{
    private readonly SemaphoreSlim _slots = new(maxConcurrentOperations > 0 ? maxConcurrentOperations : throw new ArgumentOutOfRangeException(nameof(maxConcurrentOperations)));

    /// <inheritdoc />
    public string Name => inner.Name;

    /// <inheritdoc />
    public async ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return new SlotWriter(await inner.OpenWriteAsync(key, options, cancellationToken).ConfigureAwait(false), _slots);
        }
        catch
        {
            // Boundary: a writer or stream that was not handed out cannot release its slot; give it back, rethrow.
            _slots.Release();
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask<Stream> OpenReadAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return new SlotStream(await inner.OpenReadAsync(key, range, cancellationToken).ConfigureAwait(false), _slots);
        }
        catch
        {
            // Boundary: a writer or stream that was not handed out cannot release its slot; give it back, rethrow.
            _slots.Release();
            throw;
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await foreach (var item in inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <inheritdoc />
    public ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default) => WithSlotAsync(() => inner.StatAsync(key, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => WithSlotAsync(() => inner.DeleteAsync(key, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public ValueTask<int> RemoveAbandonedWritesAsync(string prefix, DateTimeOffset startedBefore, CancellationToken cancellationToken = default) =>
        inner.RemoveAbandonedWritesAsync(prefix, startedBefore, cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) =>
        WithSlotAsync(() => inner.PutIfAbsentAsync(key, content, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _slots.Dispose();

    private async ValueTask<T> WithSlotAsync<T>(Func<ValueTask<T>> action, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await action().ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    private sealed class SlotWriter(IStorageWriter inner, SemaphoreSlim slots) : IStorageWriter
    {
        private int _released;

        public string Key => inner.Key;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) => inner.WriteAsync(data, cancellationToken);

        public ValueTask<StorageObjectInfo> CommitAsync(CancellationToken cancellationToken = default) => inner.CommitAsync(cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                slots.Release();
            }
        }
    }

    private sealed class SlotStream(Stream inner, SemaphoreSlim slots) : DelegatingReadStream(inner)
    {
        private int _released;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Inner.Dispose();
                if (Interlocked.Exchange(ref _released, 1) == 0)
                {
                    slots.Release();
                }
            }

            base.Dispose(disposing);
        }
    }
}
