namespace HealthMate.Backup.Catalog;

/// <summary>
/// One manifest found in the storage, authentic or not: a backup that is there but cannot be trusted (its manifest was
/// tampered with, damaged, or written with another key) is listed with the reason, never silently left out.
/// </summary>
/// <param name="Kind">The backup kind (its folder).</param>
/// <param name="BackupId">The backup id (its folder).</param>
/// <param name="ManifestKey">The manifest's storage key.</param>
/// <param name="Manifest">The authenticated manifest, or <see langword="null"/> when it is not valid.</param>
/// <param name="Problem">Why the manifest is not valid, or <see langword="null"/> when it is.</param>
public sealed record CatalogEntry(string Kind, string BackupId, string ManifestKey, BackupManifest? Manifest, string? Problem)
{
    /// <summary>Gets a value indicating whether the manifest is authentic and readable.</summary>
    public bool IsValid => Manifest is not null;
}
