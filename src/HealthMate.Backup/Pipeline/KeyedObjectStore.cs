using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Pipeline;

/// <summary>
/// Objects stored at a key of the caller's choosing (a WAL segment under <c>wal/{system-id}/{timeline}/</c>) rather
/// than under a backup id, through the same pipeline: compressed, encrypted, checksummed. Beside each is an
/// authenticated manifest at <c>{key}.manifest.json</c> that names the key as its data, so a manifest cannot be moved
/// onto another object. The data is committed first (never over an existing object) and the manifest last: an object
/// without a manifest was never stored.
/// </summary>
internal sealed class KeyedObjectStore(BackupEnvironment environment, BackupRunner backupRunner, RestoreRunner restoreRunner)
{
    internal const string ManifestSuffix = ".manifest.json";

    /// <summary>Stores what <paramref name="write"/> writes at <paramref name="relativeKey"/>; fails if the key holds an object.</summary>
    internal async Task<BackupManifest> PutAsync(string relativeKey, string kind, string name, IReadOnlyDictionary<string, string> properties, Func<Stream, CancellationToken, ValueTask> write, CancellationToken cancellationToken)
    {
        var time = environment.TimeProvider;
        var options = environment.Options;
        var dataKey = environment.Layout.Prefix + relativeKey;
        var backupId = BackupId.New(time);
        var startedAt = time.GetUtcNow();
        var compressor = CompressorFactory.Create(options.Compression.EffectiveAlgorithm, options.Compression.Level, options.Compression.ZstdFrameChecksums);
        using var session = options.Encryption.Enabled ? environment.CreateEncryptor().BeginEncryption() : null;
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4 * 1024 * 1024, resumeWriterThreshold: 2 * 1024 * 1024, useSynchronizationContext: false));
        var reporter = new ProgressReporter(null, time);
        var context = new BackupContext(backupId, BackupType.Full, null);
        var writing = BackupRunner.RunSourceAsync(BackupSources.Create(kind, name, (destination, _, token) => write(destination, token)), pipe.Writer, context, cancellation.Token);
        var dataCommitted = false;
        try
        {
            var (info, plaintextSha256, storedSha256) = await backupRunner.StoreAsync(pipe.Reader, writing, compressor, session, dataKey, reporter, cancellation.Token).ConfigureAwait(false);
            dataCommitted = true;
            var manifest = backupRunner.Describe(backupId, kind, name, new BackupRequest(), startedAt, new Dictionary<string, string>(properties, StringComparer.Ordinal), compressor, session, new ManifestData
            {
                Key = relativeKey,
                StoredSize = info.Size,
                StoredSha256 = storedSha256,
                PlaintextSize = reporter.BytesRead,
                PlaintextSha256 = plaintextSha256,
            });
            var writer = await environment.Storage.OpenWriteAsync(dataKey + ManifestSuffix, null, cancellation.Token).ConfigureAwait(false);
            await using (writer.ConfigureAwait(false))
            {
                await writer.WriteAsync(ManifestSerializer.Serialize(manifest, environment.KeyRing), cancellation.Token).ConfigureAwait(false);
                await writer.CommitAsync(cancellation.Token).ConfigureAwait(false);
            }

            return manifest;
        }
        catch (Exception ex)
        {
            // Boundary: a failed put removes its data, and reports the pipeline's error mapped to its stage.
            await cancellation.CancelAsync().ConfigureAwait(false);
            await pipe.Reader.CompleteAsync().ConfigureAwait(false);
            await BackupRunner.ObserveAsync(writing).ConfigureAwait(false);
            if (dataCommitted)
            {
                await DeleteQuietlyAsync(dataKey).ConfigureAwait(false);
            }

            if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw PipelineErrors.Throw(PipelineErrors.Map(ex, "backup", PipelineStage.Store));
        }
    }

    /// <summary>The manifest of the object at <paramref name="relativeKey"/>, authenticated, or null if there is none.</summary>
    internal async Task<BackupManifest?> FindAsync(string relativeKey, string kind, CancellationToken cancellationToken)
    {
        var manifestKey = environment.Layout.Prefix + relativeKey + ManifestSuffix;
        byte[] bytes;
        try
        {
            bytes = await environment.Storage.ReadSmallAsync(manifestKey, SmallObjects.MaxDocumentSize, cancellationToken).ConfigureAwait(false);
        }
        catch (StorageObjectNotFoundException)
        {
            return null;
        }

        return ManifestSerializer.DeserializeKeyed(bytes, environment.KeyRing, manifestKey, kind, relativeKey);
    }

    /// <summary>Whether a data object is at the key (with or without a manifest).</summary>
    internal async Task<bool> DataExistsAsync(string relativeKey, CancellationToken cancellationToken) =>
        await environment.Storage.StatAsync(environment.Layout.Prefix + relativeKey, cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>Restores an object into a target, verified like any restore.</summary>
    internal Task<long> RestoreAsync(BackupManifest manifest, IRestoreTarget target, CancellationToken cancellationToken) =>
        restoreRunner.RestoreCoreAsync(manifest, target, new ProgressReporter(null, environment.TimeProvider), cancellationToken, storageKey: environment.Layout.Prefix + manifest.Data.Key);

    /// <summary>The keys (relative, without the manifest suffix) of the objects under a prefix, in order.</summary>
    internal async IAsyncEnumerable<string> ListAsync(string relativePrefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var prefix = environment.Layout.Prefix;
        await foreach (var item in environment.Storage.ListAsync(prefix + relativePrefix, cancellationToken).ConfigureAwait(false))
        {
            if (item.Key.EndsWith(ManifestSuffix, StringComparison.Ordinal))
            {
                yield return item.Key[prefix.Length..^ManifestSuffix.Length];
            }
        }
    }

    /// <summary>Removes an object: manifest first, so a crash between leaves data nobody points at, never a dangling manifest.</summary>
    internal async Task DeleteAsync(string relativeKey, CancellationToken cancellationToken)
    {
        var dataKey = environment.Layout.Prefix + relativeKey;
        await environment.Storage.DeleteAsync(dataKey + ManifestSuffix, cancellationToken).ConfigureAwait(false);
        await environment.Storage.DeleteAsync(dataKey, cancellationToken).ConfigureAwait(false);
    }

    private async Task DeleteQuietlyAsync(string key)
    {
        try
        {
            await environment.Storage.DeleteAsync(key, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Boundary: the put already failed; data without a manifest is not an object, and the next put of the key removes it.
        }
    }
}
