using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Storage.Decorators;

/// <summary>
/// Retries a provider's idempotent operations when they fail transiently (<see cref="StorageException.IsTransient"/>),
/// with exponential backoff and jitter on the host's <see cref="TimeProvider"/>. A put-if-absent whose answer was lost
/// is settled by reading the object back: it counts as created only if it holds exactly what was written. Writes pass
/// through (a provider retries its own parts). A listing is retried only before its first item.
/// </summary>
public sealed partial class RetryingStorageProvider(IStorageProvider inner, StorageResilienceOptions options, TimeProvider time, ILogger logger) : IStorageProvider
{
    /// <inheritdoc />
    public string Name => inner.Name;

    /// <inheritdoc />
    public ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? writeOptions = null, CancellationToken cancellationToken = default) =>
        inner.OpenWriteAsync(key, writeOptions, cancellationToken);

    /// <inheritdoc />
    public ValueTask<Stream> OpenReadAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default) =>
        RetryAsync("read", key, () => inner.OpenReadAsync(key, range, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public async IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var enumerator = inner.ListAsync(prefix, cancellationToken).GetAsyncEnumerator(cancellationToken);
            await using (enumerator.ConfigureAwait(false))
            {
                bool first;
                try
                {
                    first = await enumerator.MoveNextAsync().ConfigureAwait(false);
                }
                catch (StorageException ex) when (ex.IsTransient && attempt < options.MaxAttempts && !cancellationToken.IsCancellationRequested)
                {
                    await WaitAsync("list", prefix, attempt, ex, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (!first)
                {
                    yield break;
                }

                yield return enumerator.Current;
                while (await enumerator.MoveNextAsync().ConfigureAwait(false))
                {
                    yield return enumerator.Current;
                }

                yield break;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default) =>
        RetryAsync("stat", key, () => inner.StatAsync(key, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) =>
        RetryAsync("delete", key, () => inner.DeleteAsync(key, cancellationToken), cancellationToken);

    /// <inheritdoc />
    public ValueTask<int> RemoveAbandonedWritesAsync(string prefix, DateTimeOffset startedBefore, CancellationToken cancellationToken = default) =>
        inner.RemoveAbandonedWritesAsync(prefix, startedBefore, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        var uncertain = false;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var created = await inner.PutIfAbsentAsync(key, content, cancellationToken).ConfigureAwait(false);
                return created || (uncertain && await HoldsAsync(key, content, cancellationToken).ConfigureAwait(false));
            }
            catch (StorageException ex) when (ex.IsTransient && attempt < options.MaxAttempts && !cancellationToken.IsCancellationRequested)
            {
                // The failed try may have created the object; a later "exists" is then our own write if it holds our bytes.
                uncertain = true;
                await WaitAsync("put-if-absent", key, attempt, ex, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask<bool> HoldsAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) =>
        (await inner.ReadSmallAsync(key, content.Length, cancellationToken).ConfigureAwait(false)).AsSpan().SequenceEqual(content.Span);

    private async ValueTask<T> RetryAsync<T>(string operation, string key, Func<ValueTask<T>> action, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action().ConfigureAwait(false);
            }
            catch (StorageException ex) when (ex.IsTransient && attempt < options.MaxAttempts && !cancellationToken.IsCancellationRequested)
            {
                await WaitAsync(operation, key, attempt, ex, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task WaitAsync(string operation, string key, int attempt, StorageException error, CancellationToken cancellationToken)
    {
        var exponential = options.BaseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1);
        var delay = TimeSpan.FromMilliseconds(Math.Min(options.MaxDelay.TotalMilliseconds, exponential) * (0.5 + (Random.Shared.NextDouble() / 2)));
        LogRetry(logger, operation, key, attempt, options.MaxAttempts, (long)delay.TotalMilliseconds, error.Message);
        await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1400, Level = LogLevel.Warning, Message = "Storage {Operation} of '{Key}' failed transiently (try {Attempt} of {MaxAttempts}); retrying in {DelayMs} ms: {Reason}")]
    private static partial void LogRetry(ILogger logger, string operation, string key, int attempt, int maxAttempts, long delayMs, string reason);
}
