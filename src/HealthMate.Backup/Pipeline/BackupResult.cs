using HealthMate.Backup.Catalog;

namespace HealthMate.Backup;

/// <summary>A committed backup.</summary>
/// <param name="Manifest">The backup's manifest, as stored.</param>
/// <param name="Duration">How long the run took.</param>
public sealed record BackupResult(BackupManifest Manifest, TimeSpan Duration)
{
    /// <summary>Gets the backup id.</summary>
    public string BackupId => Manifest.BackupId;
}
