using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Telemetry;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Pipeline;

/// <summary>Coordinates one restore: storage → hash check → decrypt → decompress → target, checking both checksums
/// before the target sees the end of its stream.</summary>
internal sealed class RestoreRunner(BackupEnvironment environment) : IRestoreRunner
{
    private const int ReadBufferSize = 1024 * 1024;
    private readonly ILogger _logger = environment.LoggerFactory.CreateLogger<RestoreRunner>();

    public async ValueTask<RestoreResult> RestoreAsync(string backupId, IRestoreTarget target, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        BackupId.Validate(backupId);
        ArgumentNullException.ThrowIfNull(target);
        var manifest = await environment.Catalog.GetAsync(backupId, cancellationToken).ConfigureAwait(false);
        using var activity = BackupTelemetry.ActivitySource.StartActivity("restore");
        activity?.SetTag("backup.id", backupId);
        activity?.SetTag("backup.kind", manifest.Kind);
        Log.RestoreStarted(_logger, backupId, manifest.Kind);
        var reporter = new ProgressReporter(progress, environment.TimeProvider);
        try
        {
            var bytes = await RestoreCoreAsync(manifest, target, reporter, cancellationToken).ConfigureAwait(false);
            reporter.Report(PipelineStage.Completed);
            Log.RestoreCompleted(_logger, backupId, bytes, (long)reporter.Elapsed.TotalMilliseconds);
            BackupTelemetry.Record("restore", manifest.Kind, "success", reporter.Elapsed, reporter.BytesRead, reporter.BytesWritten);
            return new RestoreResult(manifest, bytes, reporter.Elapsed);
        }
        catch (Exception ex)
        {
            // Boundary: record the outcome once; the mapped error was produced by RestoreCoreAsync.
            var cancelled = ex is OperationCanceledException && cancellationToken.IsCancellationRequested;
            BackupTelemetry.Record("restore", manifest.Kind, cancelled ? "cancelled" : "failure", reporter.Elapsed, reporter.BytesRead, reporter.BytesWritten);
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            if (!cancelled)
            {
                Log.RestoreFailed(_logger, ex, backupId, PipelineErrors.StageOf(ex, PipelineStage.Read));
            }

            throw;
        }
    }

    /// <summary>Runs the restore pipeline into a target. Shared with full verification.</summary>
    internal async Task<long> RestoreCoreAsync(BackupManifest manifest, IRestoreTarget target, ProgressReporter reporter, CancellationToken cancellationToken, string objectName = StorageLayout.DataName, string? storageKey = null)
    {
        var descriptor = objectName == StorageLayout.DataName ? manifest.Data
            : manifest.Objects?.GetValueOrDefault(objectName) ?? throw new BackupFormatException($"Backup {manifest.BackupId} has no '{objectName}' object.");
        var compressor = CompressorFactory.ForReading(manifest.Pipeline.Compression);
        var encrypted = manifest.Pipeline.Encryption switch
        {
            "none" => false,
            StreamingAeadConstants.AlgorithmName => true,
            var other => throw new BackupFormatException($"Backup {manifest.BackupId} was encrypted with '{other}', which this library does not know."),
        };
        if (manifest.Pipeline.CompressionBlockSize is < 1 or > CompressionOptions.MaxBlockSize)
        {
            throw new BackupFormatException($"Backup {manifest.BackupId} records compression block size {manifest.Pipeline.CompressionBlockSize}, outside 1..{CompressionOptions.MaxBlockSize}.");
        }

        if (encrypted && manifest.Pipeline.KeyId is { } keyId && !environment.KeyRing.Contains(keyId))
        {
            throw new BackupKeyNotFoundException(keyId);
        }

        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = cancellation.Token;
        var key = storageKey ?? environment.Layout.ObjectKey(manifest.Kind, manifest.BackupId, objectName);
        Stream stored;
        try
        {
            if (target.ActsWhileReading && (!encrypted || (manifest.FormatVersion < 2 && objectName != StorageLayout.DataName)))
            {
                // Nothing authenticates unencrypted bytes as they stream, nor tells a format-1 companion object (no salt in
                // its manifest, no binding in its segments) from another backup's: a target that executes what it reads
                // (pg_restore, psql) gets them only after the whole stored object matched its manifest.
                await StoredObjectCheck.VerifyAsync(environment.Storage, key, manifest.BackupId, descriptor, null, token).ConfigureAwait(false);
            }

            stored = await environment.Storage.OpenReadAsync(key, null, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw PipelineErrors.Map(new StageFailure(PipelineStage.Read, ex), "restore", PipelineStage.Read);
        }

        var reader = PipeReader.Create(stored, new StreamPipeReaderOptions(bufferSize: ReadBufferSize, minimumReadSize: ReadBufferSize / 4, leaveOpen: false));
        using var check = new StoredObjectCheck(manifest.BackupId, descriptor.StoredSize, descriptor.StoredSha256);
        using var holder = new RestoreStages.DecryptionHolder();
        var parallelism = environment.Parallelism;
        var pool = new ChunkPool();
        var compressedStream = encrypted
            ? RestoreStages.DecryptAsync(RestoreStages.ReadSegmentsAsync(reader, environment.CreateEncryptor(), Expect(manifest, objectName), holder, check, reporter, pool, token), holder, parallelism, pool, token)
            : RestoreStages.ReadChunksAsync(reader, ReadBufferSize, check, reporter, pool, token);
        var maxInputChunk = encrypted ? manifest.Pipeline.SegmentSize ?? StreamingAeadConstants.MaxSegmentSize : ReadBufferSize;
        var plaintext = RestoreStages.DecompressAsync(compressedStream, compressor, manifest.Pipeline.CompressionBlockSize, maxInputChunk, parallelism, pool, token);

        var context = new RestoreContext(manifest.BackupId, manifest.Kind, descriptor.PlaintextSize, manifest.Properties);
        var content = new ChunkSequenceStream(VerifyPlaintextAsync(plaintext, manifest.BackupId, descriptor, reporter, token), token);
        try
        {
            await using (content.ConfigureAwait(false))
            {
                await RunTargetAsync(target, content, context, token).ConfigureAwait(false);
                if (!content.Ended)
                {
                    throw new StageFailure(PipelineStage.Target, new InvalidOperationException("The restore target stopped reading before the end of the data."));
                }
            }

            return reporter.BytesWritten;
        }
        catch (Exception ex)
        {
            // Boundary: whichever stage failed first is reported, once, mapped to its public error.
            await cancellation.CancelAsync().ConfigureAwait(false);
            throw PipelineErrors.Throw(PipelineErrors.Map(ex, "restore", PipelineStage.Read));
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>What the manifest says an encrypted object must be: bound to this backup id and name, under the recorded
    /// key id, with the recorded salt (the data object's), and written in the manifest's format.</summary>
    private static RestoreStages.ExpectedObject Expect(BackupManifest manifest, string objectName) => new(
        objectName == StorageLayout.DataName ? $"the data object of {manifest.Kind} backup {manifest.BackupId}" : $"object '{objectName}' of {manifest.Kind} backup {manifest.BackupId}",
        ObjectBinding.Of(manifest.BackupId, objectName),
        manifest.Pipeline.KeyId,
        objectName == StorageLayout.DataName ? manifest.Pipeline.Salt : null,
        manifest.FormatVersion >= 2 ? (byte)2 : (byte)1);

    /// <summary>Hashes and counts the plaintext; the sequence ends only after size and SHA-256 match the manifest,
    /// so a target never sees a clean end of unverified data.</summary>
    private static async IAsyncEnumerable<Chunk> VerifyPlaintextAsync(IAsyncEnumerable<Chunk> plaintext, string backupId, ManifestData descriptor, ProgressReporter reporter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long written = 0;
        await foreach (var chunk in plaintext.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            hash.AppendData(chunk.Span);
            written += chunk.Length;
            if (written > descriptor.PlaintextSize)
            {
                chunk.Return();
                throw new ChecksumMismatchException($"the restored size of backup {backupId}", $"{descriptor.PlaintextSize} bytes", $"more than {descriptor.PlaintextSize} bytes");
            }

            reporter.AddWritten(PipelineStage.Target, chunk.Length);
            yield return chunk;
        }

        if (written != descriptor.PlaintextSize)
        {
            throw new ChecksumMismatchException($"the restored size of backup {backupId}", $"{descriptor.PlaintextSize} bytes", $"{written} bytes");
        }

        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!string.Equals(actual, descriptor.PlaintextSha256, StringComparison.Ordinal))
        {
            throw new ChecksumMismatchException($"the restored bytes of backup {backupId}", descriptor.PlaintextSha256, actual);
        }
    }

    /// <summary>
    /// Opens a companion object (an index) as a stream read at the caller's pace, with the restore pipeline running
    /// behind it: memory stays bounded whatever its size. The stream ends only after the object's size and checksums
    /// have matched; disposing it before the end abandons the object.
    /// </summary>
    internal async Task<Stream> OpenObjectAsync(BackupManifest manifest, string objectName, CancellationToken cancellationToken, bool actsWhileReading = false)
    {
        var handOff = new HandOffTarget(actsWhileReading);
        var running = RestoreCoreAsync(manifest, handOff, new ProgressReporter(null, environment.TimeProvider), cancellationToken, objectName);
        _ = running.ContinueWith(
            static (task, state) => ((HandOffTarget)state!).Fail(task.Exception?.InnerException ?? new OperationCanceledException()),
            handOff,
            CancellationToken.None,
            TaskContinuationOptions.NotOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        var stream = await handOff.Opened.ConfigureAwait(false);
        return new HandOffStream(stream, handOff, running);
    }

    private static async Task RunTargetAsync(IRestoreTarget target, ChunkSequenceStream content, RestoreContext context, CancellationToken cancellationToken)
    {
        try
        {
            await target.RestoreFromAsync(content, context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (content.SourceError is null)
        {
            // Boundary: an error of the target's own (not one the pipeline raised through its stream) names the Target stage.
            throw StageFailure.Tag(PipelineStage.Target, ex);
        }
        catch (Exception) when (content.SourceError is { } pipelineError)
        {
            // The target failed because the pipeline did: report the pipeline's error, not the target's reaction to it.
            throw PipelineErrors.Throw(pipelineError);
        }
    }
}
