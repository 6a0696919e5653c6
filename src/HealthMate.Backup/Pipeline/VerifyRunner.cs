using HealthMate.Backup.Catalog;
using HealthMate.Backup.Telemetry;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Pipeline;

/// <summary>Verifies a backup: the stored checksum alone, or a full restore to nowhere.</summary>
internal sealed class VerifyRunner(BackupEnvironment environment, RestoreRunner restoreRunner, Verification.IVerificationRecords records) : IVerifyRunner
{
    private readonly ILogger _logger = environment.LoggerFactory.CreateLogger<VerifyRunner>();

    public async ValueTask<VerificationResult> VerifyAsync(string backupId, VerificationLevel level = VerificationLevel.Full, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        BackupId.Validate(backupId);
        if (!Enum.IsDefined(level))
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "Unknown verification level.");
        }

        using var activity = BackupTelemetry.ActivitySource.StartActivity("verify");
        activity?.SetTag("backup.id", backupId);
        var reporter = new ProgressReporter(progress, environment.TimeProvider);
        BackupIntegrityException? failure = null;
        var kind = "unknown";
        var startedAt = environment.TimeProvider.GetUtcNow();
        BackupManifest? manifest = null;
        try
        {
            manifest = await environment.Catalog.GetAsync(backupId, cancellationToken).ConfigureAwait(false);
            kind = manifest.Kind;
            foreach (var (name, descriptor) in ObjectsOf(manifest))
            {
                if (level == VerificationLevel.Checksum)
                {
                    await VerifyChecksumAsync(manifest, name, descriptor, reporter, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await restoreRunner.RestoreCoreAsync(manifest, DiscardingTarget.Instance, reporter, cancellationToken, name).ConfigureAwait(false);
                }
            }
        }
        catch (BackupIntegrityException ex)
        {
            failure = ex;
        }

        reporter.Report(PipelineStage.Completed);
        BackupTelemetry.Record("verify", kind, failure is null ? "success" : "failure", reporter.Elapsed, reporter.BytesRead, 0);
        if (failure is null)
        {
            Log.VerifyPassed(_logger, backupId, level, reporter.BytesRead);
        }
        else
        {
            Log.VerifyFailed(_logger, backupId, level, failure.Message);
        }

        if (manifest is not null)
        {
            await RecordAsync(manifest, level, startedAt, failure, reporter.BytesRead, cancellationToken).ConfigureAwait(false);
        }

        return new VerificationResult(backupId, level, failure, reporter.BytesRead, reporter.Elapsed);
    }

    /// <summary>Stores the result next to the backup, so "last verified" is known from storage alone.</summary>
    private async Task RecordAsync(BackupManifest manifest, VerificationLevel level, DateTimeOffset startedAt, Exception? failure, long bytes, CancellationToken cancellationToken)
    {
        try
        {
            var details = new Dictionary<string, string>(StringComparer.Ordinal) { ["bytes"] = bytes.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            await records.AddAsync(manifest, level == VerificationLevel.Checksum ? "checksum" : "full", startedAt, failure, details, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Boundary: the verification's result stands; only its record is missing, and the log says so.
            Log.VerificationRecordFailed(_logger, ex, manifest.BackupId);
        }
    }

    private static IEnumerable<(string Name, ManifestData Descriptor)> ObjectsOf(BackupManifest manifest) =>
        new[] { (StorageLayout.DataName, manifest.Data) }.Concat((manifest.Objects ?? new Dictionary<string, ManifestData>()).Select(o => (o.Key, o.Value)));

    private Task VerifyChecksumAsync(BackupManifest manifest, string name, ManifestData descriptor, ProgressReporter reporter, CancellationToken cancellationToken) =>
        StoredObjectCheck.VerifyAsync(environment.Storage, environment.Layout.ObjectKey(manifest.Kind, manifest.BackupId, name), manifest.BackupId, descriptor, reporter, cancellationToken);

    /// <summary>Reads and drops everything: full verification is a restore to nowhere.</summary>
    private sealed class DiscardingTarget : IRestoreTarget
    {
        internal static readonly DiscardingTarget Instance = new();

        public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default) =>
            await source.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
    }
}
