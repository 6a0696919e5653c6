using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Pipeline;

/// <summary>What a <see cref="KeyedObjectStore.PutAsync"/> did.</summary>
internal enum KeyedPutOutcome
{
    /// <summary>This put stored the object (or replaced a manifest whose data was gone).</summary>
    Stored,

    /// <summary>The same content was already stored, with its data present and intact: nothing new is named.</summary>
    AlreadyStored,
}

/// <summary>What a put did, and the manifest that now names the object.</summary>
internal sealed record KeyedPutResult(KeyedPutOutcome Outcome, BackupManifest Manifest);

/// <summary>
/// Objects stored at a name of the caller's choosing (a WAL segment under <c>wal/{system-id}/{timeline}/</c>) rather
/// than under a backup id, through the same pipeline: compressed, encrypted, checksummed. The manifest at
/// <c>{name}.manifest.json</c> is the one commit point: the data is written first under <c>{name}.{put-id}</c>, a key
/// no other writer uses, and the manifest is created with put-if-absent; a commit whose outcome is uncertain is settled
/// by reading the manifest back. Two writers of one name therefore never touch each other's data, and the push path
/// never deletes data a manifest may name: data no manifest names is removed by retention after its grace period.
/// "Already stored" means the manifest is there, its data is there, and its stored size and SHA-256 match.
/// </summary>
internal sealed class KeyedObjectStore(BackupEnvironment environment, BackupRunner backupRunner, RestoreRunner restoreRunner)
{
    internal const string ManifestSuffix = ".manifest.json";

    /// <summary>
    /// Stores what <paramref name="write"/> writes under <paramref name="relativeKey"/>, once. When a manifest is
    /// already there, <paramref name="hashContent"/> gives the content's SHA-256 and size to compare with it: the same
    /// content with intact data is <see cref="KeyedPutOutcome.AlreadyStored"/>, different content a
    /// <see cref="KeyedObjectConflictException"/>, and a manifest whose data is gone or damaged is replaced.
    /// </summary>
    internal async Task<KeyedPutResult> PutAsync(
        string relativeKey,
        string kind,
        string name,
        IReadOnlyDictionary<string, string> properties,
        Func<Stream, CancellationToken, ValueTask> write,
        Func<CancellationToken, Task<(string Sha256, long Size)>> hashContent,
        CancellationToken cancellationToken)
    {
        var replace = false;
        if (await FindAsync(relativeKey, kind, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            var (sha256, size) = await hashContent(cancellationToken).ConfigureAwait(false);
            if (!SameContent(existing.Data, sha256, size))
            {
                throw new KeyedObjectConflictException(relativeKey);
            }

            if (await IsIntactAsync(existing, cancellationToken).ConfigureAwait(false))
            {
                return new KeyedPutResult(KeyedPutOutcome.AlreadyStored, existing);
            }

            replace = true; // the manifest names data that is gone or damaged: store it again, and replace the manifest
        }

        var pending = await StoreDataAsync(relativeKey, kind, name, properties, write, cancellationToken).ConfigureAwait(false);
        for (var round = 0; round < 2; round++)
        {
            var other = await CommitAsync(pending, replace, cancellationToken).ConfigureAwait(false);
            if (other is null)
            {
                // Committed. A retention run that took the data for an orphan (a clock far off, a put slower than the
                // grace period) would leave the manifest naming nothing: then it is not acknowledged, and the next put
                // of the name replaces the manifest.
                if (await environment.Storage.StatAsync(pending.DataKey, cancellationToken).ConfigureAwait(false) is null)
                {
                    throw new StorageException($"The data of '{relativeKey}' disappeared while its manifest was committed (removed as an orphan?); it is not acknowledged, and the next put stores it again.", pending.DataKey, isTransient: true);
                }

                return new KeyedPutResult(KeyedPutOutcome.Stored, pending.Manifest);
            }

            // Another writer's manifest holds the name: nothing names this put's data.
            if (!SameContent(other.Data, pending.Manifest.Data.PlaintextSha256, pending.Manifest.Data.PlaintextSize))
            {
                await DiscardAsync(pending).ConfigureAwait(false);
                throw new KeyedObjectConflictException(relativeKey);
            }

            if (await IsIntactAsync(other, cancellationToken).ConfigureAwait(false))
            {
                await DiscardAsync(pending).ConfigureAwait(false);
                return new KeyedPutResult(KeyedPutOutcome.AlreadyStored, other);
            }

            replace = true;
        }

        await DiscardAsync(pending).ConfigureAwait(false);
        throw new StorageException($"The manifest of '{relativeKey}' kept changing under concurrent writers; nothing was acknowledged, try again.", relativeKey, isTransient: true);
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

    /// <summary>Whether the data a manifest names is there with the stored size and SHA-256 it records (reads it whole).</summary>
    internal async Task<bool> IsIntactAsync(BackupManifest manifest, CancellationToken cancellationToken)
    {
        var key = environment.Layout.Prefix + manifest.Data.Key;
        if (await environment.Storage.StatAsync(key, cancellationToken).ConfigureAwait(false) is not { } info || info.Size != manifest.Data.StoredSize)
        {
            return false;
        }

        try
        {
            await StoredObjectCheck.VerifyAsync(environment.Storage, key, manifest.BackupId, manifest.Data, null, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is BackupIntegrityException or StorageObjectNotFoundException)
        {
            return false;
        }
    }

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

    /// <summary>Whether the store holds any object under one of the prefixes (relative to the storage prefix).</summary>
    internal async Task<bool> HoldsAnythingAsync(IEnumerable<string> relativePrefixes, CancellationToken cancellationToken)
    {
        foreach (var relativePrefix in relativePrefixes)
        {
            await foreach (var _ in environment.Storage.ListAsync(environment.Layout.Prefix + relativePrefix, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Removes an object: the manifest first, so a crash between leaves data nobody points at, never a dangling
    /// manifest; then the data objects of the name the caller listed (<paramref name="dataKeys"/>, full keys).</summary>
    internal async Task DeleteAsync(string relativeKey, IEnumerable<string> dataKeys, CancellationToken cancellationToken)
    {
        await environment.Storage.DeleteAsync(environment.Layout.Prefix + relativeKey + ManifestSuffix, cancellationToken).ConfigureAwait(false);
        foreach (var key in dataKeys)
        {
            await environment.Storage.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The key of a put's data: the name and the put's id, so no two writers of one name share a data key.</summary>
    internal static string DataKeyOf(string relativeKey, string putId) => $"{relativeKey}.{putId}";

    /// <summary>
    /// The name a stored object belongs to, for a key that is not a manifest: <c>{name}.{put-id}</c> (format 2) or the
    /// name itself (format 1, where the data was stored at the name).
    /// </summary>
    internal static string NameOfData(string relativeKey)
    {
        var dot = relativeKey.LastIndexOf('.');
        return dot > 0 && BackupId.IsValid(relativeKey[(dot + 1)..]) ? relativeKey[..dot] : relativeKey;
    }

    private static bool SameContent(ManifestData data, string sha256, long size) =>
        data.PlaintextSize == size && string.Equals(data.PlaintextSha256, sha256, StringComparison.Ordinal);

    /// <summary>Streams the content through the pipeline into a data key of its own; the manifest is not written yet.</summary>
    private async Task<PendingObject> StoreDataAsync(string relativeKey, string kind, string name, IReadOnlyDictionary<string, string> properties, Func<Stream, CancellationToken, ValueTask> write, CancellationToken cancellationToken)
    {
        var time = environment.TimeProvider;
        var options = environment.Options;
        var putId = BackupId.New(time);
        var relativeDataKey = DataKeyOf(relativeKey, putId);
        var dataKey = environment.Layout.Prefix + relativeDataKey;
        var startedAt = time.GetUtcNow();
        var compressor = CompressorFactory.Create(options.Compression.EffectiveAlgorithm, options.Compression.Level, options.Compression.ZstdFrameChecksums);
        using var session = options.Encryption.Enabled ? environment.CreateEncryptor().BeginEncryption(ObjectBinding.Of(putId, StorageLayout.DataName)) : null;
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 4 * 1024 * 1024, resumeWriterThreshold: 2 * 1024 * 1024, useSynchronizationContext: false));
        var reporter = new ProgressReporter(null, time);
        var context = new BackupContext(putId, BackupType.Full, null);
        var writing = BackupRunner.RunSourceAsync(BackupSources.Create(kind, name, (destination, _, token) => write(destination, token)), pipe.Writer, context, cancellation.Token);
        try
        {
            // A failed store aborts its writer: nothing was committed under the data key.
            var (info, plaintextSha256, storedSha256) = await backupRunner.StoreAsync(pipe.Reader, writing, compressor, session, dataKey, reporter, cancellation.Token).ConfigureAwait(false);
            var manifest = backupRunner.Describe(putId, kind, name, new BackupRequest(), startedAt, new Dictionary<string, string>(properties, StringComparer.Ordinal), compressor, session, new ManifestData
            {
                Key = relativeDataKey,
                StoredSize = info.Size,
                StoredSha256 = storedSha256,
                PlaintextSize = reporter.BytesRead,
                PlaintextSha256 = plaintextSha256,
            });
            return new PendingObject(relativeKey, kind, dataKey, manifest);
        }
        catch (Exception ex)
        {
            // Boundary: the put failed before anything was committed; report the pipeline's error mapped to its stage.
            await cancellation.CancelAsync().ConfigureAwait(false);
            await pipe.Reader.CompleteAsync().ConfigureAwait(false);
            await BackupRunner.ObserveAsync(writing).ConfigureAwait(false);
            if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw PipelineErrors.Throw(PipelineErrors.Map(ex, "backup", PipelineStage.Store));
        }
    }

    /// <summary>Writes the manifest: null when it is committed, the other writer's manifest when one holds the name.
    /// A manifest certainly not stored takes its data with it; an unsettled one leaves the data in place.</summary>
    private async Task<BackupManifest?> CommitAsync(PendingObject pending, bool replace, CancellationToken cancellationToken)
    {
        var manifestKey = environment.Layout.Prefix + pending.RelativeKey + ManifestSuffix;
        var bytes = ManifestSerializer.Serialize(pending.Manifest, environment.KeyRing);
        var outcome = await ManifestCommit.WriteAsync(environment.Storage, manifestKey, bytes, replace, cancellationToken).ConfigureAwait(false);
        switch (outcome.Status)
        {
            case ManifestCommitStatus.Committed:
                return null;
            case ManifestCommitStatus.Occupied:
                return ManifestSerializer.DeserializeKeyed(outcome.Existing!, environment.KeyRing, manifestKey, pending.Kind, pending.RelativeKey);
            case ManifestCommitStatus.NotCommitted:
                await DiscardAsync(pending).ConfigureAwait(false);
                throw outcome.Error is OperationCanceledException && cancellationToken.IsCancellationRequested
                    ? outcome.Error
                    : PipelineErrors.Map(new StageFailure(PipelineStage.Manifest, outcome.Error!), "backup", PipelineStage.Manifest);
            default:
                throw new BackupStageException(PipelineStage.Manifest, "backup", new StorageException(
                    $"Whether the manifest of '{pending.RelativeKey}' was stored could not be settled ({outcome.Error?.Message}); it is not acknowledged. Its data stays until retention removes it, if no manifest names it, after the grace period.",
                    manifestKey,
                    isTransient: true,
                    outcome.Error));
        }
    }

    /// <summary>Removes the data of a put whose manifest is not stored (nothing names it); best effort: retention removes it otherwise.</summary>
    private async Task DiscardAsync(PendingObject pending)
    {
        try
        {
            await environment.Storage.DeleteAsync(pending.DataKey, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Boundary: data that no manifest names is never listed or fetched; retention removes it after the grace period.
        }
    }

    /// <summary>A put whose data is stored and whose manifest is not yet written.</summary>
    private sealed record PendingObject(string RelativeKey, string Kind, string DataKey, BackupManifest Manifest);
}

/// <summary>An object of that name is already stored with different content; it is never overwritten.</summary>
internal sealed class KeyedObjectConflictException(string relativeKey) : BackupException($"'{relativeKey}' is already stored with different content; it is never overwritten.")
{
    internal string RelativeKey { get; } = relativeKey;
}
