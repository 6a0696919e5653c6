namespace HealthMate.Backup;

/// <summary>Verifies backups against their authenticated manifests.</summary>
public interface IVerifyRunner
{
    /// <summary>Verifies a backup. Integrity problems are reported in the result; configuration problems (a wrong or
    /// missing key, unreachable storage) are thrown.</summary>
    /// <param name="backupId">The backup to verify.</param>
    /// <param name="level">How thoroughly.</param>
    /// <param name="progress">Receives progress reports, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels verification.</param>
    /// <returns>The outcome.</returns>
    ValueTask<VerificationResult> VerifyAsync(string backupId, VerificationLevel level = VerificationLevel.Full, IProgress<PipelineProgress>? progress = null, CancellationToken cancellationToken = default);
}
