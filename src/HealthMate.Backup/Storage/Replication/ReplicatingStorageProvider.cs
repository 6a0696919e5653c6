using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using HealthMate.Backup.Telemetry;

namespace HealthMate.Backup.Storage.Replication;

/// <summary>
/// A primary store with copies in one or more replicas (other buckets, regions, providers). Writes commit to the
/// primary and are copied to every replica, each copy's SHA-256 checked by reading it back; synchronously by default,
/// or from a bounded queue. The primary's commit is the commit: a copy that fails afterwards does not make the commit
/// fail (the object exists, and saying otherwise would make a caller clean up what is already committed); it is owed,
/// listed in <see cref="FailedCopies"/> and counted by the metric <c>healthmate.backup.replication.failed</c>. A replica
/// that owes copies gets no later object before them (a manifest never reaches a replica ahead of its data): each
/// later copy first retries what is owed, in commit order, and <see cref="RepairAsync"/> makes everything. Reads go to the primary and fall back to the replicas when it fails (or lost the object),
/// the healthiest first by recent success rate. <see cref="VerifyAsync"/> finds missing or different copies and
/// <see cref="RepairAsync"/> makes them again. Deletes remove every copy.
/// </summary>
public sealed class ReplicatingStorageProvider : IStorageProvider, IAsyncDisposable, IDisposable
{
    private static readonly UpDownCounter<long> Pending = BackupTelemetry.Meter.CreateUpDownCounter<long>("healthmate.backup.replication.pending", "{object}", "Objects committed to the primary and not yet copied to every replica.");
    private readonly IStorageProvider _primary;
    private readonly IReadOnlyList<IStorageProvider> _replicas;
    private readonly ReplicationOptions _options;
    private readonly Dictionary<IStorageProvider, ReplicaHealth> _health;
    private readonly Channel<(string Key, bool Overwrite)>? _queue;
    private readonly Task? _worker;
    private readonly ReplicaCopier _copier;
    private long _pending;

    /// <summary>Initializes a new instance of the <see cref="ReplicatingStorageProvider"/> class.</summary>
    /// <param name="primary">Where writes commit first and reads go first.</param>
    /// <param name="replicas">Where copies go (at least one).</param>
    /// <param name="options">How copies are made.</param>
    public ReplicatingStorageProvider(IStorageProvider primary, IReadOnlyList<IStorageProvider> replicas, ReplicationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(primary);
        ArgumentNullException.ThrowIfNull(replicas);
        if (replicas.Count == 0 || replicas.Any(r => r is null || ReferenceEquals(r, primary)))
        {
            throw new ArgumentException("Replication needs at least one replica, none of them the primary.", nameof(replicas));
        }

        _options = options ?? new ReplicationOptions();
        if (_options.QueueCapacity < 1 || _options.HealthWindow < 1 || !Enum.IsDefined(_options.Mode))
        {
            throw new ArgumentException("QueueCapacity and HealthWindow must be positive, and Mode defined.", nameof(options));
        }

        _primary = primary;
        _replicas = replicas;
        _health = new[] { primary }.Concat(replicas).ToDictionary<IStorageProvider, IStorageProvider, ReplicaHealth>(p => p, _ => new ReplicaHealth(_options.HealthWindow), ReferenceEqualityComparer.Instance);
        _copier = new ReplicaCopier(primary, replicas);
        if (_options.Mode == ReplicationMode.Asynchronous)
        {
            _queue = Channel.CreateBounded<(string, bool)>(new BoundedChannelOptions(_options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
            _worker = Task.Run(DrainAsync);
        }
    }

    /// <inheritdoc />
    public string Name => $"replicated({_primary.Name} -> {string.Join(", ", _replicas.Select(r => r.Name))})";

    /// <summary>Gets how many committed objects still wait for their copies (asynchronous mode): the replication lag.</summary>
    public long PendingCopies => Interlocked.Read(ref _pending);

    /// <summary>Gets the keys committed to the primary whose copy to a replica is owed (it failed, or waits behind one
    /// that did), each with the replica and the reason: copies the next commit retries first, in order, and
    /// <see cref="RepairAsync"/> makes (<see cref="VerifyAsync"/> finds them too).</summary>
    public IReadOnlyDictionary<string, string> FailedCopies => _copier.Owed();

    /// <inheritdoc />
    public async ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? options = null, CancellationToken cancellationToken = default) =>
        new Writer(this, await _primary.OpenWriteAsync(key, options, cancellationToken).ConfigureAwait(false), options?.Overwrite ?? false);

    /// <inheritdoc />
    public async ValueTask<Stream> OpenReadAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default) =>
        await ReadWithFallbackAsync(p => p.OpenReadAsync(key, range, cancellationToken), cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Listed from the primary when it answers, else from the healthiest replica; a listing is not merged.
        var items = await ReadWithFallbackAsync(async p => await p.ListAsync(prefix, cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        foreach (var item in items)
        {
            yield return item;
        }
    }

    /// <inheritdoc />
    public async ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default) =>
        await ReadWithFallbackAsync(p => p.StatAsync(key, cancellationToken), cancellationToken, treatNullAsMissing: true).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var deleted = await _primary.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        foreach (var replica in _replicas)
        {
            deleted |= await replica.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        }

        _copier.Forget(key);
        return deleted;
    }

    /// <inheritdoc />
    public async ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        if (!await _primary.PutIfAbsentAsync(key, content, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        await ReplicateAsync(key, overwrite: false, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async ValueTask<int> RemoveAbandonedWritesAsync(string prefix, DateTimeOffset startedBefore, CancellationToken cancellationToken = default)
    {
        var removed = await _primary.RemoveAbandonedWritesAsync(prefix, startedBefore, cancellationToken).ConfigureAwait(false);
        foreach (var replica in _replicas)
        {
            removed += await replica.RemoveAbandonedWritesAsync(prefix, startedBefore, cancellationToken).ConfigureAwait(false);
        }

        return removed;
    }

    /// <summary>Waits until every queued copy is made (asynchronous mode).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when nothing is pending.</returns>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        while (PendingCopies > 0)
        {
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Checks that every replica holds an identical copy (size and SHA-256) of every primary object under a prefix.</summary>
    /// <param name="prefix">The key prefix; empty for everything.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>What is missing or different.</returns>
    public Task<ReplicaReport> VerifyAsync(string prefix = "", CancellationToken cancellationToken = default) => CheckAsync(prefix, repair: false, cancellationToken);

    /// <summary>Like <see cref="VerifyAsync"/>, and copies again from the primary what is missing or different.</summary>
    /// <param name="prefix">The key prefix; empty for everything.</param>
    /// <param name="cancellationToken">Cancels the repair.</param>
    /// <returns>What was found and how many copies were made.</returns>
    public async Task<ReplicaReport> RepairAsync(string prefix = "", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var report = await CheckAsync(prefix, repair: true, cancellationToken).ConfigureAwait(false);

        // Every object under the prefix now has its verified copies (a failed repair throws before this).
        _copier.ForgetUnder(prefix);

        return report;
    }

    /// <summary>Stops the copy worker after the queued copies are made, blocking: a host disposing its container
    /// synchronously must not lose queued copies.</summary>
    public void Dispose()
    {
        if (_queue is not null)
        {
            _queue.Writer.TryComplete();
            _worker!.Wait();
        }
    }

    /// <summary>Stops the copy worker after the queued copies are made.</summary>
    /// <returns>A task that completes when it has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_queue is not null)
        {
            _queue.Writer.TryComplete();
            await _worker!.ConfigureAwait(false);
        }
    }

    private async Task<ReplicaReport> CheckAsync(string prefix, bool repair, CancellationToken cancellationToken)
    {
        var missing = new List<string>();
        var mismatched = new List<string>();
        var checkedCount = 0;
        var repaired = 0;
        await foreach (var item in _primary.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            string? primaryHash = null;
            foreach (var replica in _replicas)
            {
                checkedCount++;
                var copy = await replica.StatAsync(item.Key, cancellationToken).ConfigureAwait(false);
                var problem = copy is null ? missing : null;
                if (copy is not null)
                {
                    primaryHash ??= await ReplicaCopier.HashAsync(_primary, item.Key, cancellationToken).ConfigureAwait(false);
                    if (copy.Size != item.Size || await ReplicaCopier.HashAsync(replica, item.Key, cancellationToken).ConfigureAwait(false) != primaryHash)
                    {
                        problem = mismatched;
                    }
                }

                if (problem is null)
                {
                    continue;
                }

                problem.Add($"{replica.Name}: {item.Key}");
                if (repair)
                {
                    await _copier.CopyAsync(item.Key, replica, overwrite: true, cancellationToken).ConfigureAwait(false);
                    repaired++;
                }
            }
        }

        return new ReplicaReport(checkedCount, missing, mismatched, repaired);
    }

    private async Task ReplicateAsync(string key, bool overwrite, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _pending);
        Pending.Add(1);
        if (_queue is not null)
        {
            try
            {
                await _queue.Writer.WriteAsync((key, overwrite), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
            {
                // Not queued (cancelled while the queue was full, or shutting down): owed, so it is not forgotten.
                Interlocked.Decrement(ref _pending);
                Pending.Add(-1);
                _copier.Owe(key, overwrite, $"not queued: {ex.Message}");
                throw;
            }

            return;
        }

        try
        {
            await _copier.CopyToEveryReplicaAsync(key, overwrite, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _pending);
            Pending.Add(-1);
        }
    }

    private async Task DrainAsync()
    {
        await foreach (var (key, overwrite) in _queue!.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await _copier.CopyToEveryReplicaAsync(key, overwrite, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _pending);
                Pending.Add(-1);
            }
        }
    }

    /// <summary>Tries the primary, then the replicas by recent success rate; records each outcome.</summary>
    private async Task<T> ReadWithFallbackAsync<T>(Func<IStorageProvider, ValueTask<T>> read, CancellationToken cancellationToken, bool treatNullAsMissing = false)
    {
        Exception? first = null;
        var order = new[] { _primary }.Concat(_replicas.OrderByDescending(r => _health[r].SuccessRate)).ToArray();
        for (var i = 0; i < order.Length; i++)
        {
            var store = order[i];
            try
            {
                var result = await read(store).ConfigureAwait(false);
                if (treatNullAsMissing && result is null && i < order.Length - 1)
                {
                    continue; // the primary may have lost an object a replica still holds
                }

                _health[store].Record(true);
                return result;
            }
            catch (Exception ex) when (ex is StorageException or IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                // Boundary: a failed store is recorded, and the next is tried; the primary's error is reported if all fail.
                _health[store].Record(false);
                first ??= ex;
            }
        }

        throw first!;
    }

    /// <summary>Writes to the primary; on commit, makes the copies.</summary>
    private sealed class Writer(ReplicatingStorageProvider owner, IStorageWriter inner, bool overwrite) : IStorageWriter
    {
        public string Key => inner.Key;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) => inner.WriteAsync(data, cancellationToken);

        public async ValueTask<StorageObjectInfo> CommitAsync(CancellationToken cancellationToken = default)
        {
            var info = await inner.CommitAsync(cancellationToken).ConfigureAwait(false);
            await owner.ReplicateAsync(inner.Key, overwrite, cancellationToken).ConfigureAwait(false);
            return info;
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
