using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// A decorator that runs a test's hooks around each storage operation, to inject a fault at an exact point or to hold
/// one writer while another runs: before a commit, after the inner commit succeeded (throwing there is "the object is
/// stored but the caller sees an error", as after a lost response), before a delete, a read, a stat or a listing.
/// </summary>
internal sealed class HookedStorage(IStorageProvider inner) : IStorageProvider
{
    /// <summary>Gets or sets what runs before a write is opened (key), before anything of it exists in the store.</summary>
    internal Func<string, ValueTask>? BeforeOpenWrite { get; set; }

    /// <summary>Gets or sets what runs before a writer commits (key); throwing aborts the commit.</summary>
    internal Func<string, ValueTask>? BeforeCommit { get; set; }

    /// <summary>Gets or sets what runs after the inner commit succeeded (key); throwing reports a failure although the object is stored.</summary>
    internal Func<string, ValueTask>? AfterCommit { get; set; }

    /// <summary>Gets or sets what runs before a delete (key).</summary>
    internal Func<string, ValueTask>? BeforeDelete { get; set; }

    /// <summary>Gets or sets what runs before a read is opened (key).</summary>
    internal Func<string, ValueTask>? BeforeRead { get; set; }

    /// <summary>Gets or sets what runs before a stat (key).</summary>
    internal Func<string, ValueTask>? BeforeStat { get; set; }

    internal IStorageProvider Inner => inner;

    public string Name => inner.Name;

    public async ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (BeforeOpenWrite is { } hook)
        {
            await hook(key);
        }

        return new Writer(this, await inner.OpenWriteAsync(key, options, cancellationToken));
    }

    public async ValueTask<Stream> OpenReadAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default)
    {
        if (BeforeRead is { } hook)
        {
            await hook(key);
        }

        return await inner.OpenReadAsync(key, range, cancellationToken);
    }

    public IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

    public async ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default)
    {
        if (BeforeStat is { } hook)
        {
            await hook(key);
        }

        return await inner.StatAsync(key, cancellationToken);
    }

    public async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        if (BeforeDelete is { } hook)
        {
            await hook(key);
        }

        return await inner.DeleteAsync(key, cancellationToken);
    }

    public ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) => inner.PutIfAbsentAsync(key, content, cancellationToken);

    public ValueTask<int> RemoveAbandonedWritesAsync(string prefix, DateTimeOffset startedBefore, CancellationToken cancellationToken = default) => inner.RemoveAbandonedWritesAsync(prefix, startedBefore, cancellationToken);

    private sealed class Writer(HookedStorage owner, IStorageWriter writer) : IStorageWriter
    {
        public string Key => writer.Key;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) => writer.WriteAsync(data, cancellationToken);

        public async ValueTask<StorageObjectInfo> CommitAsync(CancellationToken cancellationToken = default)
        {
            if (owner.BeforeCommit is { } before)
            {
                await before(Key);
            }

            var info = await writer.CommitAsync(cancellationToken);
            if (owner.AfterCommit is { } after)
            {
                await after(Key);
            }

            return info;
        }

        public ValueTask DisposeAsync() => writer.DisposeAsync();
    }
}
