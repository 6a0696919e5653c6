using HealthMate.Backup.Catalog;

namespace HealthMate.Backup;

/// <summary>A completed restore: every byte was authenticated and both checksums matched.</summary>
/// <param name="Manifest">The restored backup's manifest.</param>
/// <param name="BytesRestored">Bytes handed to the target.</param>
/// <param name="Duration">How long the restore took.</param>
public sealed record RestoreResult(BackupManifest Manifest, long BytesRestored, TimeSpan Duration);
