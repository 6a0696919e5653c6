using HealthMate.Backup.Storage;
using HealthMate.Backup.Storage.Decorators;
using HealthMate.Backup.Storage.Local;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace HealthMate.Backup.Tests.Storage;

/// <summary>Retry, throttle and logging decorators, around a local provider made to fail on purpose (logic tests; the
/// providers themselves are tested against real stores).</summary>
public sealed class StorageDecoratorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("hmb-deco-").FullName;
    private readonly Flaky _flaky;

    public StorageDecoratorTests() => _flaky = new Flaky(new LocalDiskStorageProvider(new LocalStorageOptions { Path = _root, FlushToDisk = false }));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static StorageResilienceOptions Fast => new() { MaxAttempts = 4, BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero };

    [Fact]
    public async Task TransientFailures_AreRetried_PermanentOnesAreNot()
    {
        await _flaky.PutIfAbsentAsync("k", new byte[] { 7 });
        var retrying = new RetryingStorageProvider(_flaky, Fast, TimeProvider.System, NullLogger.Instance);

        _flaky.FailNext("stat", transient: true, times: 3);
        Assert.NotNull(await retrying.StatAsync("k"));
        Assert.Equal(4, _flaky.Calls("stat"));

        _flaky.FailNext("stat", transient: true, times: 4);
        await Assert.ThrowsAsync<StorageException>(() => retrying.StatAsync("k").AsTask());

        _flaky.FailNext("delete", transient: false, times: 1);
        await Assert.ThrowsAsync<StorageException>(() => retrying.DeleteAsync("k").AsTask());
        Assert.Equal(1, _flaky.Calls("delete"));
    }

    [Fact]
    public async Task PutIfAbsent_WhoseAnswerWasLost_CountsAsCreatedOnlyIfTheObjectHoldsOurBytes()
    {
        var retrying = new RetryingStorageProvider(_flaky, Fast, TimeProvider.System, NullLogger.Instance);

        _flaky.CreateThenFail("lease");
        Assert.True(await retrying.PutIfAbsentAsync("lease", "mine"u8.ToArray()));

        await _flaky.PutIfAbsentAsync("taken", "theirs"u8.ToArray());
        _flaky.FailNext("put-if-absent", transient: true, times: 1);
        Assert.False(await retrying.PutIfAbsentAsync("taken", "mine"u8.ToArray()));
    }

    [Fact]
    public async Task Backoff_WaitsOnTheHostsClock()
    {
        var time = new FakeTimeProvider();
        var retrying = new RetryingStorageProvider(_flaky, new StorageResilienceOptions { MaxAttempts = 2, BaseDelay = TimeSpan.FromSeconds(30), MaxDelay = TimeSpan.FromSeconds(30) }, time, NullLogger.Instance);
        _flaky.FailNext("stat", transient: true, times: 1);

        var pending = retrying.StatAsync("nothing").AsTask();
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Null(await pending);
    }

    [Fact]
    public async Task Throttle_HoldsAnOpenWriterSlotUntilItIsDisposed()
    {
        using var throttled = new ThrottlingStorageProvider(_flaky, maxConcurrentOperations: 2);
        var first = await throttled.OpenWriteAsync("a");
        var second = await throttled.OpenWriteAsync("b");

        var third = throttled.OpenWriteAsync("c").AsTask();
        await Task.Delay(50);
        Assert.False(third.IsCompleted);

        await first.DisposeAsync();
        await using (await third)
        {
        }

        await second.DisposeAsync();
    }

    [Fact]
    public async Task Logging_RecordsOperationsKeysAndOutcomes_NotContent()
    {
        var logs = new FakeLogCollector();
        var logged = new LoggingStorageProvider(_flaky, new FakeLogger(logs));
        await using (var writer = await logged.OpenWriteAsync("x/y"))
        {
            await writer.WriteAsync("secret-content"u8.ToArray());
            await writer.CommitAsync();
        }

        await logged.StatAsync("x/y");
        var text = string.Join("\n", logs.GetSnapshot().Select(r => r.Message));
        Assert.Contains("Storage write 'x/y': 14 bytes", text, StringComparison.Ordinal);
        Assert.Contains("committed", text, StringComparison.Ordinal);
        Assert.Contains("Storage stat 'x/y'", text, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-content", text, StringComparison.Ordinal);
    }

    /// <summary>A provider that fails chosen operations a chosen number of times, and counts calls.</summary>
    private sealed class Flaky(IStorageProvider inner) : IStorageProvider
    {
        private readonly Dictionary<string, (bool Transient, int Times)> _failures = [];
        private readonly Dictionary<string, int> _calls = [];
        private string? _createThenFail;

        public string Name => "flaky";

        internal void FailNext(string operation, bool transient, int times) => _failures[operation] = (transient, times);

        internal void CreateThenFail(string key) => _createThenFail = key;

        internal int Calls(string operation) => _calls.GetValueOrDefault(operation);

        public ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? options = null, CancellationToken cancellationToken = default) => inner.OpenWriteAsync(key, options, cancellationToken);

        public ValueTask<Stream> OpenReadAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default) => inner.OpenReadAsync(key, range, cancellationToken);

        public IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default)
        {
            Fail("stat", key);
            return inner.StatAsync(key, cancellationToken);
        }

        public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
        {
            Fail("delete", key);
            return inner.DeleteAsync(key, cancellationToken);
        }

        public async ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
        {
            if (key == _createThenFail)
            {
                _createThenFail = null;
                await inner.PutIfAbsentAsync(key, content, cancellationToken);
                throw new StorageException("simulated: the answer was lost", key, isTransient: true);
            }

            Fail("put-if-absent", key);
            return await inner.PutIfAbsentAsync(key, content, cancellationToken);
        }

        private void Fail(string operation, string key)
        {
            _calls[operation] = Calls(operation) + 1;
            if (_failures.TryGetValue(operation, out var failure) && failure.Times > 0)
            {
                _failures[operation] = failure with { Times = failure.Times - 1 };
                throw new StorageException($"simulated {operation} failure", key, failure.Transient);
            }
        }
    }
}
