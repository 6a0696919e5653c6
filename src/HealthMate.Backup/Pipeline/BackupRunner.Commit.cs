using HealthMate.Backup.Catalog;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Telemetry;

namespace HealthMate.Backup.Pipeline;

/// <summary>The commit of a backup: its manifest's settled outcome, and its objects still there afterwards.</summary>
internal sealed partial class BackupRunner
{
    /// <summary>
    /// The manifest is the backup's one commit point, and its outcome was settled by reading it back: a manifest that
    /// is stored commits the backup even when the write reported an error (a lost response, a replica copy that failed
    /// after the primary committed). Otherwise this throws; the stored objects are deleted only when the manifest is
    /// certainly absent, else left for retention, which removes what no manifest names after its grace period.
    /// </summary>
    private void EnsureCommitted(ManifestCommitOutcome commit, BackupManifest manifest)
    {
        switch (commit.Status)
        {
            case ManifestCommitStatus.Committed:
                if (commit.Error is { } settled)
                {
                    Log.ManifestCommitSettled(_logger, manifest.BackupId, manifest.Kind, settled.Message);
                }

                return;
            case ManifestCommitStatus.NotCommitted:
                throw new StageFailure(PipelineStage.Manifest, commit.Error!);
            default:
                Log.ManifestCommitUnsettled(_logger, commit.Error, manifest.BackupId, manifest.Kind);
                throw new StageFailure(PipelineStage.Manifest, new StorageException(
                    $"Whether the manifest of backup {manifest.BackupId} was stored could not be settled ({commit.Error?.Message}); the backup is not reported complete. If it was stored it is listed; if not, its data is removed by retention after the grace period.",
                    environment.Layout.ManifestKey(manifest.Kind, manifest.BackupId),
                    isTransient: true,
                    commit.Error));
        }
    }

    /// <summary>
    /// A retention run that took this run's objects for an abandoned upload (a run slower than the grace period) would
    /// leave a manifest naming nothing: then the manifest is removed again and the run fails; it is never reported done.
    /// A stat that cannot answer leaves the committed backup as it is.
    /// </summary>
    private async Task EnsureDataStayedAsync(BackupManifest manifest, List<string> storedKeys, CancellationToken cancellationToken)
    {
        foreach (var key in storedKeys)
        {
            StorageObjectInfo? info;
            try
            {
                info = await environment.Storage.StatAsync(key, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is StorageException or IOException or HttpRequestException)
            {
                return;
            }

            if (info is null)
            {
                await DeleteQuietlyAsync(environment.Layout.ManifestKey(manifest.Kind, manifest.BackupId), manifest.BackupId).ConfigureAwait(false);
                throw new StageFailure(PipelineStage.Manifest, new StorageException(
                    $"Object '{key}' of backup {manifest.BackupId} disappeared while its manifest was committed (removed as an abandoned upload? The run took longer than Retention:IncompleteUploadGrace); the backup was withdrawn.",
                    key,
                    isTransient: true));
            }
        }
    }
}
