using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Tests.Support;

/// <summary>A decorator whose writes fail after a number of bytes, as a full disk or a dropped connection would, and
/// whose deletes fail (as a crash would stop them) once <paramref name="failDelete"/> says so.</summary>
internal sealed class FailingStorage(IStorageProvider inner, long failAfterBytes, Func<bool>? failDelete = null) : IStorageProvider
{
    public string Name => "failing";

    public async ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? options = null, CancellationToken cancellationToken = default) =>
        new Writer(await inner.OpenWriteAsync(key, options, cancellationToken), failAfterBytes);

    public ValueTask<Stream> OpenReadAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default) => inner.OpenReadAsync(key, range, cancellationToken);

    public IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

    public ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default) => inner.StatAsync(key, cancellationToken);

    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        failDelete?.Invoke() == true ? throw new IOException($"simulated crash before deleting {key}") : inner.DeleteAsync(key, cancellationToken);

    public ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) => inner.PutIfAbsentAsync(key, content, cancellationToken);

    public ValueTask<int> RemoveAbandonedWritesAsync(string prefix, DateTimeOffset startedBefore, CancellationToken cancellationToken = default) => inner.RemoveAbandonedWritesAsync(prefix, startedBefore, cancellationToken);

    private sealed class Writer(IStorageWriter inner, long failAfterBytes) : IStorageWriter
    {
        private long _written;

        public string Key => inner.Key;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            _written += data.Length;
            return _written > failAfterBytes
                ? throw new StorageException("simulated: no space left on device", Key, isTransient: false)
                : inner.WriteAsync(data, cancellationToken);
        }

        public ValueTask<StorageObjectInfo> CommitAsync(CancellationToken cancellationToken = default) => inner.CommitAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
