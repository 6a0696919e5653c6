using System.Buffers;
using System.Security.Cryptography;

namespace HealthMate.Backup.Pipeline;

/// <summary>Hashes and counts stored bytes as they are read, and compares them with the manifest at the end.</summary>
internal sealed class StoredObjectCheck(string backupId, long expectedSize, string expectedSha256) : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    internal long Size { get; private set; }

    internal void Append(in ReadOnlySequence<byte> data)
    {
        foreach (var memory in data)
        {
            _hash.AppendData(memory.Span);
        }

        Size += data.Length;
        if (Size > expectedSize)
        {
            throw new BackupTruncatedException($"The stored data of backup {backupId} is longer than the {expectedSize} bytes its manifest records: data was appended.");
        }
    }

    /// <summary>Throws if the size or SHA-256 differs from the manifest's.</summary>
    internal void Complete()
    {
        if (Size != expectedSize)
        {
            throw new BackupTruncatedException($"The stored data of backup {backupId} ends after {Size} bytes; its manifest records {expectedSize}: the object was cut short.");
        }

        var actual = Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (!string.Equals(actual, expectedSha256, StringComparison.Ordinal))
        {
            throw new ChecksumMismatchException($"the stored bytes of backup {backupId}", expectedSha256, actual);
        }
    }

    public void Dispose() => _hash.Dispose();

    /// <summary>Reads a stored object whole and checks its size and SHA-256 against the manifest; no key needed.</summary>
    internal static async Task VerifyAsync(Storage.IStorageProvider storage, string key, string backupId, Catalog.ManifestData descriptor, ProgressReporter? reporter, CancellationToken cancellationToken)
    {
        const int BufferSize = 1024 * 1024;
        using var check = new StoredObjectCheck(backupId, descriptor.StoredSize, descriptor.StoredSha256);
        var stream = await storage.OpenReadAsync(key, null, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    check.Append(new ReadOnlySequence<byte>(buffer, 0, read));
                    reporter?.AddRead(read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        check.Complete();
    }
}
