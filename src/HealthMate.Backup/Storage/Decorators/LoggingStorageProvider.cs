using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Storage.Decorators;

/// <summary>Logs every storage operation at debug level: operation, key, bytes, time and outcome (never content or credentials).</summary>
public sealed partial class LoggingStorageProvider(IStorageProvider inner, ILogger logger) : IStorageProvider
{
    /// <inheritdoc />
    public string Name => inner.Name;

    /// <inheritdoc />
    public async ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? options = null, CancellationToken cancellationToken = default) =>
        new Writer(await inner.OpenWriteAsync(key, options, cancellationToken).ConfigureAwait(false), this);

    /// <inheritdoc />
    public ValueTask<Stream> OpenReadAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default) =>
        LogAsync("open-read", key, () => inner.OpenReadAsync(key, range, cancellationToken));

    /// <inheritdoc />
    public async IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        long count = 0;
        await foreach (var item in inner.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            count++;
            yield return item;
        }

        LogDone(logger, "list", prefix, count, (long)clock.Elapsed.TotalMilliseconds, "ok");
    }

    /// <inheritdoc />
    public ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default) => LogAsync("stat", key, () => inner.StatAsync(key, cancellationToken));

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => LogAsync("delete", key, () => inner.DeleteAsync(key, cancellationToken));

    /// <inheritdoc />
    public ValueTask<int> RemoveAbandonedWritesAsync(string prefix, DateTimeOffset startedBefore, CancellationToken cancellationToken = default) =>
        inner.RemoveAbandonedWritesAsync(prefix, startedBefore, cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) =>
        LogAsync("put-if-absent", key, () => inner.PutIfAbsentAsync(key, content, cancellationToken), content.Length);

    private async ValueTask<T> LogAsync<T>(string operation, string key, Func<ValueTask<T>> action, long bytes = 0)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var result = await action().ConfigureAwait(false);
            LogDone(logger, operation, key, bytes, (long)clock.Elapsed.TotalMilliseconds, result is false or null ? "none" : "ok");
            return result;
        }
        catch (Exception ex)
        {
            // Boundary: logged with its outcome and rethrown unchanged.
            LogDone(logger, operation, key, bytes, (long)clock.Elapsed.TotalMilliseconds, ex.GetType().Name);
            throw;
        }
    }

    [LoggerMessage(EventId = 1401, Level = LogLevel.Debug, Message = "Storage {Operation} '{Key}': {Bytes} bytes/items in {ElapsedMs} ms, {Outcome}")]
    private static partial void LogDone(ILogger logger, string operation, string key, long bytes, long elapsedMs, string outcome);

    private sealed class Writer(IStorageWriter inner, LoggingStorageProvider owner) : IStorageWriter
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _bytes;
        private string _outcome = "aborted";

        public string Key => inner.Key;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            _bytes += data.Length;
            return inner.WriteAsync(data, cancellationToken);
        }

        public async ValueTask<StorageObjectInfo> CommitAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                var info = await inner.CommitAsync(cancellationToken).ConfigureAwait(false);
                _outcome = "committed";
                return info;
            }
            catch (Exception ex)
            {
                // Boundary: recorded for the log line written on dispose, and rethrown unchanged.
                _outcome = ex.GetType().Name;
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            LogDone(owner.Logger, "write", inner.Key, _bytes, (long)_clock.Elapsed.TotalMilliseconds, _outcome);
        }
    }

    private ILogger Logger => logger;
}
