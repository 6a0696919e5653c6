namespace HealthMate.Backup;

/// <summary>The outcome of verifying one backup.</summary>
/// <param name="BackupId">The backup verified.</param>
/// <param name="Level">How it was verified.</param>
/// <param name="Failure">What was found wrong with the data, or <see langword="null"/> if it verified.</param>
/// <param name="BytesChecked">Stored bytes read.</param>
/// <param name="Duration">How long verification took.</param>
public sealed record VerificationResult(string BackupId, VerificationLevel Level, BackupIntegrityException? Failure, long BytesChecked, TimeSpan Duration)
{
    /// <summary>Gets a value indicating whether the backup verified.</summary>
    public bool IsValid => Failure is null;
}
