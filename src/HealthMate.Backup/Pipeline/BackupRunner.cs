using System.Diagnostics;
using System.IO.Pipelines;
using System.Security.Cryptography;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Telemetry;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Pipeline;

/// <summary>Coordinates one backup: runs the source into a pipe, the stages over it, stores the result, commits the manifest.</summary>
internal sealed partial class BackupRunner(BackupEnvironment environment, RestoreRunner restoreRunner) : IBackupRunner
{
    private const int SourcePipeThreshold = 4 * 1024 * 1024;
    private readonly ILogger _logger = environment.LoggerFactory.CreateLogger<BackupRunner>();

    public async ValueTask<BackupResult> RunAsync(IBackupSource source, BackupRequest? request = null, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        request ??= new BackupRequest();
        if (!StorageLayout.IsValidKind(source.Kind))
        {
            throw new ArgumentException($"Source kind '{source.Kind}' is not valid: use 1 to 32 lower-case letters, digits and '-', starting with a letter.", nameof(source));
        }

        ValidateLabels(request);
        var parent = await ValidateParentAsync(source.Kind, request, cancellationToken).ConfigureAwait(false);

        var options = environment.Options;
        var time = environment.TimeProvider;
        var backupId = BackupId.New(time);
        var startedAt = time.GetUtcNow();
        var reporter = new ProgressReporter(progress, time);
        using var activity = BackupTelemetry.ActivitySource.StartActivity("backup");
        activity?.SetTag("backup.id", backupId);
        activity?.SetTag("backup.kind", source.Kind);
        Log.BackupStarted(_logger, backupId, source.Kind, source.Name, request.Type);

        var compressor = CompressorFactory.Create(options.Compression.EffectiveAlgorithm, options.Compression.Level, options.Compression.ZstdFrameChecksums);
        using var session = options.Encryption.Enabled ? environment.CreateEncryptor().BeginEncryption(ObjectBinding.Of(backupId, StorageLayout.DataName)) : null;
        var context = new BackupContext(backupId, request.Type, request.ParentId);
        if (parent is not null)
        {
            context.OpenParentObjectAsync = async (name, token) => await restoreRunner.OpenObjectAsync(parent, name, token).ConfigureAwait(false);
        }

        var storedKeys = new List<string>();
        var dataKey = environment.Layout.DataKey(source.Kind, backupId);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var streamed = new StreamedObjects(this, environment, source.Kind, backupId, compressor, cancellation.Token);
        context.ObjectStreamFactory = streamed.OpenAsync;
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: SourcePipeThreshold, resumeWriterThreshold: SourcePipeThreshold / 2, minimumSegmentSize: 128 * 1024, useSynchronizationContext: false));
        var sourceTask = RunSourceAsync(source, pipe.Writer, context, cancellation.Token);
        var dataCommitted = false;
        var keepData = false; // once a manifest may name the data, nothing here deletes it
        try
        {
            var (data, plaintextSha256, storedSha256) = await StoreAsync(pipe.Reader, sourceTask, compressor, session, dataKey, reporter, cancellation.Token).ConfigureAwait(false);
            dataCommitted = true;
            storedKeys.Add(dataKey);
            var objects = await StoreObjectsAsync(context, source.Kind, backupId, compressor, storedKeys, cancellation.Token).ConfigureAwait(false);
            objects = await streamed.CompleteAsync(objects, storedKeys).ConfigureAwait(false);
            var manifest = Describe(backupId, source.Kind, source.Name, request, startedAt, context.Properties, compressor, session, new ManifestData
            {
                Key = StorageLayout.RelativeDataKey(source.Kind, backupId),
                StoredSize = data.Size,
                StoredSha256 = storedSha256,
                PlaintextSize = reporter.BytesRead,
                PlaintextSha256 = plaintextSha256,
            }) with { Objects = objects };

            await CheckBeforeCommitAsync(request, parent, cancellation.Token).ConfigureAwait(false);
            keepData = true;
            var commit = await ManifestCommit.WriteAsync(environment.Storage, environment.Layout.ManifestKey(manifest.Kind, manifest.BackupId), ManifestSerializer.Serialize(manifest, environment.KeyRing), overwrite: false, cancellation.Token).ConfigureAwait(false);
            keepData = commit.Status != ManifestCommitStatus.NotCommitted;
            EnsureCommitted(commit, manifest);
            await EnsureDataStayedAsync(manifest, storedKeys, cancellation.Token).ConfigureAwait(false);
            reporter.Report(PipelineStage.Completed);
            var elapsed = reporter.Elapsed;
            Log.BackupCompleted(_logger, backupId, source.Kind, manifest.Data.PlaintextSize, manifest.Data.StoredSize, (long)elapsed.TotalMilliseconds);
            BackupTelemetry.Record("backup", source.Kind, "success", elapsed, reporter.BytesRead, reporter.BytesWritten);
            return new BackupResult(manifest, elapsed);
        }
        catch (Exception ex)
        {
            // Boundary: every failure aborts the run, removes what it stored, and is reported once, mapped to its stage.
            await cancellation.CancelAsync().ConfigureAwait(false);
            await pipe.Reader.CompleteAsync().ConfigureAwait(false);
            await ObserveAsync(sourceTask).ConfigureAwait(false);
            foreach (var key in await streamed.AbortAsync(ex).ConfigureAwait(false))
            {
                await DeleteQuietlyAsync(key, backupId).ConfigureAwait(false);
            }

            if (dataCommitted && !keepData)
            {
                foreach (var key in storedKeys)
                {
                    await DeleteQuietlyAsync(key, backupId).ConfigureAwait(false);
                }
            }

            var cancelled = ex is OperationCanceledException && cancellationToken.IsCancellationRequested;
            BackupTelemetry.Record("backup", source.Kind, cancelled ? "cancelled" : "failure", reporter.Elapsed, reporter.BytesRead, reporter.BytesWritten);
            activity?.SetStatus(ActivityStatusCode.Error, cancelled ? "cancelled" : ex.GetType().Name);
            if (cancelled)
            {
                Log.BackupCancelled(_logger, backupId, source.Kind);
                throw;
            }

            var error = PipelineErrors.Map(ex, "backup", PipelineStage.Store);
            Log.BackupFailed(_logger, error, backupId, source.Kind, PipelineErrors.StageOf(ex, PipelineStage.Store));
            throw PipelineErrors.Throw(error);
        }
    }

    /// <summary>The manifest of a stored object: identity, what the source recorded, and how the pipeline stored it.</summary>
    internal BackupManifest Describe(string backupId, string kind, string name, BackupRequest request, DateTimeOffset startedAt, IDictionary<string, string> properties, ICompressor compressor, IEncryptionSession? session, ManifestData data) => new()
    {
        BackupId = backupId,
        Kind = kind,
        Name = name,
        Type = request.Type,
        ParentId = request.ParentId,
        Plan = request.Plan,
        Tags = request.Tags is { Count: > 0 } tags ? [.. tags.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)] : null,
        StartedAt = startedAt,
        CompletedAt = environment.TimeProvider.GetUtcNow(),
        Properties = new SortedDictionary<string, string>(properties, StringComparer.Ordinal),
        Pipeline = new ManifestPipeline
        {
            Compression = compressor.Name,
            CompressionLevel = compressor.Level,
            CompressionBlockSize = environment.Options.Compression.BlockSize,
            Encryption = session is null ? "none" : StreamingAeadConstants.AlgorithmName,
            KeyId = session?.KeyId,
            SegmentSize = session?.PlaintextSegmentSize,
            Salt = session is null ? null : AesGcmStreamingEncryptor.SaltHex(session),
        },
        Data = data,
    };

    internal static async Task RunSourceAsync(IBackupSource source, PipeWriter writer, BackupContext context, CancellationToken cancellationToken)
    {
        await Task.Yield();
        Exception? error = null;
        try
        {
            var stream = new SourceWriteStream(writer.AsStream(leaveOpen: true), cancellationToken);
            await using (stream.ConfigureAwait(false))
            {
                await source.WriteToAsync(stream, context, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            // Boundary: the source's error travels down the pipe to the stage reading it.
            error = StageFailure.Tag(PipelineStage.Source, ex);
        }

        await writer.CompleteAsync(error).ConfigureAwait(false);
    }

    internal static async Task ObserveAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Boundary: the run is already failing with its first error; later ones are consequences.
        }
    }

    internal async Task<(StorageObjectInfo Data, string PlaintextSha256, string StoredSha256)> StoreAsync(
        PipeReader reader,
        Task sourceTask,
        ICompressor compressor,
        IEncryptionSession? session,
        string dataKey,
        ProgressReporter reporter,
        CancellationToken cancellationToken)
    {
        IStorageWriter writer;
        try
        {
            writer = await environment.Storage.OpenWriteAsync(dataKey, null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new StageFailure(PipelineStage.Store, ex);
        }

        await using (writer.ConfigureAwait(false))
        {
            using var plaintextHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var storedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var options = environment.Options;
            var pool = new ChunkPool();
            var blocks = BackupStages.ReadBlocksAsync(reader, options.Compression.BlockSize, plaintextHash, reporter, pool, cancellationToken);
            var compressed = BackupStages.CompressAsync(blocks, compressor, environment.Parallelism, pool, cancellationToken);
            var stored = session is null ? compressed : BackupStages.EncryptAsync(compressed, session, environment.Parallelism, pool, cancellationToken);
            if (session is not null)
            {
                await WriteAsync(writer, session.Header, storedHash, reporter, cancellationToken).ConfigureAwait(false);
            }

            await foreach (var chunk in stored.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await WriteAsync(writer, chunk.Memory, storedHash, reporter, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    chunk.Return();
                }
            }

            await sourceTask.ConfigureAwait(false);
            try
            {
                var data = await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
                return (data, Convert.ToHexStringLower(plaintextHash.GetHashAndReset()), Convert.ToHexStringLower(storedHash.GetHashAndReset()));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new StageFailure(PipelineStage.Store, ex);
            }
        }
    }

    private static async ValueTask WriteAsync(IStorageWriter writer, ReadOnlyMemory<byte> data, IncrementalHash storedHash, ProgressReporter reporter, CancellationToken cancellationToken)
    {
        storedHash.AppendData(data.Span);
        try
        {
            await writer.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new StageFailure(PipelineStage.Store, ex);
        }

        reporter.AddWritten(PipelineStage.Store, data.Length);
    }

    /// <summary>The last checks before the commit: the caller's guard (a lease), and that the parent is still there
    /// (a prune running beside this backup must not leave it pointing at nothing).</summary>
    private async Task CheckBeforeCommitAsync(BackupRequest request, BackupManifest? parent, CancellationToken cancellationToken)
    {
        try
        {
            if (request.BeforeCommit is { } guard)
            {
                await guard(cancellationToken).ConfigureAwait(false);
            }

            if (parent is not null && await environment.Catalog.FindAsync(parent.Kind, parent.BackupId, cancellationToken).ConfigureAwait(false) is null)
            {
                throw new BackupNotFoundException(parent.BackupId);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new StageFailure(PipelineStage.Manifest, ex);
        }
    }

    private static void ValidateLabels(BackupRequest request)
    {
        if (request.Plan is not null && !StorageLayout.IsValidKind(request.Plan))
        {
            throw new ArgumentException($"Plan '{request.Plan}' is not valid: use 1 to 32 lower-case letters, digits and '-', starting with a letter.", nameof(request));
        }

        foreach (var tag in request.Tags ?? [])
        {
            if (!IsValidTag(tag))
            {
                throw new ArgumentException($"Tag '{tag}' is not valid: use 1 to 64 letters, digits, '-', '_', '.' or ':'.", nameof(request));
            }
        }
    }

    internal static bool IsValidTag(string? tag) =>
        tag is { Length: > 0 and <= 64 } && tag.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    private async Task<BackupManifest?> ValidateParentAsync(string kind, BackupRequest request, CancellationToken cancellationToken)
    {
        if (!Enum.IsDefined(request.Type))
        {
            throw new ArgumentException($"Backup type {request.Type} is not defined.", nameof(request));
        }

        if (request.Type == BackupType.Full)
        {
            if (request.ParentId is not null)
            {
                throw new ArgumentException("A full backup has no parent; leave ParentId unset.", nameof(request));
            }

            return null;
        }

        if (request.ParentId is null)
        {
            throw new ArgumentException($"A {request.Type.ToString().ToLowerInvariant()} backup needs the ParentId of the backup it builds on.", nameof(request));
        }

        BackupId.Validate(request.ParentId, nameof(request));
        var parent = await environment.Catalog.FindAsync(kind, request.ParentId, cancellationToken).ConfigureAwait(false);
        if (parent is null)
        {
            // Say whether it exists under another kind, which is a different mistake from a missing parent.
            var elsewhere = await environment.Catalog.FindAsync(request.ParentId, cancellationToken).ConfigureAwait(false);
            throw elsewhere is null
                ? new BackupNotFoundException(request.ParentId)
                : new ArgumentException($"Parent backup {request.ParentId} is of kind '{elsewhere.Kind}', not '{kind}'.", nameof(request));
        }

        if (request.Type == BackupType.Differential && parent.Type != BackupType.Full)
        {
            throw new ArgumentException($"A differential backup builds on a full backup; {request.ParentId} is {parent.Type.ToString().ToLowerInvariant()}.", nameof(request));
        }

        return parent;
    }

    private async Task DeleteQuietlyAsync(string dataKey, string backupId)
    {
        try
        {
            await environment.Storage.DeleteAsync(dataKey, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Boundary: the backup already failed; an orphaned data object has no manifest and is never listed.
            Log.DataCleanupFailed(_logger, ex, backupId);
        }
    }
}
