using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Tests.FaultHost;

/// <summary>
/// Passes every operation through, except the one the pause spec names: there it tells the test ("PAUSED ...") and
/// waits forever, so the test kills the process at exactly that point. A spec is <c>[replica-]op:key-part:n</c>: the
/// n-th operation <c>op</c> (write, commit, committed, delete, read, stat) on a key containing <c>key-part</c>, on the
/// primary or (with <c>replica-</c>) on the replica. <c>commit</c> pauses before the commit, <c>committed</c> after it.
/// </summary>
internal sealed class PausingStorage(IStorageProvider inner, string role, PauseSpec? pause) : IStorageProvider
{
    private int _seen;

    public string Name => inner.Name;

    public async ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? options = null, CancellationToken cancellationToken = default) =>
        new Writer(this, await inner.OpenWriteAsync(key, options, cancellationToken));

    public ValueTask<Stream> OpenReadAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default)
    {
        Check("read", key);
        return inner.OpenReadAsync(key, range, cancellationToken);
    }

    public IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

    public ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default)
    {
        Check("stat", key);
        return inner.StatAsync(key, cancellationToken);
    }

    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        Check("delete", key);
        return inner.DeleteAsync(key, cancellationToken);
    }

    public ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) => inner.PutIfAbsentAsync(key, content, cancellationToken);

    public ValueTask<int> RemoveAbandonedWritesAsync(string prefix, DateTimeOffset startedBefore, CancellationToken cancellationToken = default) => inner.RemoveAbandonedWritesAsync(prefix, startedBefore, cancellationToken);

    private void Check(string operation, string key)
    {
        if (pause is null || pause.Role != role || pause.Operation != operation || !key.Contains(pause.KeyPart, StringComparison.Ordinal))
        {
            return;
        }

        if (Interlocked.Increment(ref _seen) == pause.Occurrence)
        {
            Console.Out.WriteLine($"PAUSED {role}-{operation} {key}");
            Console.Out.Flush();
            Thread.Sleep(Timeout.Infinite); // the test kills the process now (SIGKILL)
        }
    }

    private sealed class Writer(PausingStorage owner, IStorageWriter writer) : IStorageWriter
    {
        public string Key => writer.Key;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            owner.Check("write", Key);
            return writer.WriteAsync(data, cancellationToken);
        }

        public async ValueTask<StorageObjectInfo> CommitAsync(CancellationToken cancellationToken = default)
        {
            owner.Check("commit", Key);
            var info = await writer.CommitAsync(cancellationToken);
            owner.Check("committed", Key);
            return info;
        }

        public ValueTask DisposeAsync() => writer.DisposeAsync();
    }
}

/// <summary>Where to pause: <c>[replica-]op:key-part:n</c>.</summary>
internal sealed record PauseSpec(string Role, string Operation, string KeyPart, int Occurrence)
{
    internal static PauseSpec? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var parts = text.Split(':');
        var role = parts[0].StartsWith("replica-", StringComparison.Ordinal) ? "replica" : "primary";
        return new PauseSpec(role, parts[0].Replace("replica-", string.Empty, StringComparison.Ordinal), parts[1], int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture));
    }
}
