using System.Runtime.CompilerServices;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Telemetry;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Catalog;

/// <summary>Reads manifests under <c>{prefix}backups/</c> and authenticates each one.</summary>
internal sealed class BackupCatalog(IStorageProvider storage, BackupKeyRing keyRing, StorageLayout layout, ILogger<BackupCatalog> logger) : IBackupCatalog
{
    private static readonly System.Diagnostics.Metrics.Counter<long> InvalidManifests = BackupTelemetry.Meter.CreateCounter<long>(
        "healthmate.backup.catalog.invalid_manifests", "{manifest}", "Manifests found while listing that failed authentication or could not be read: tampered, damaged, or another key.");

    public async IAsyncEnumerable<BackupManifest> ListAsync(string? kind = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var entry in ListEntriesAsync(kind, cancellationToken).ConfigureAwait(false))
        {
            if (entry.Manifest is { } manifest)
            {
                yield return manifest;
            }
        }
    }

    public async IAsyncEnumerable<CatalogEntry> ListEntriesAsync(string? kind = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (kind is not null && !StorageLayout.IsValidKind(kind))
        {
            throw new ArgumentException($"'{kind}' is not a backup kind (lower-case letters, digits and '-').", nameof(kind));
        }

        var prefix = kind is null ? layout.BackupsPrefix : layout.KindPrefix(kind);
        var entries = new List<CatalogEntry>();
        await foreach (var item in storage.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            if (!layout.TryParseManifestKey(item.Key, out var itemKind, out var backupId))
            {
                continue;
            }

            try
            {
                entries.Add(new CatalogEntry(itemKind, backupId, item.Key, await LoadAsync(item.Key, itemKind, backupId, cancellationToken).ConfigureAwait(false), null));
            }
            catch (Exception ex) when (ex is BackupIntegrityException or WrongKeyException or BackupKeyNotFoundException or StorageObjectNotFoundException)
            {
                // A manifest deleted between the listing and the read (a prune) is simply gone; anything else is shown.
                if (ex is StorageObjectNotFoundException)
                {
                    continue;
                }

                Log.ManifestRejected(logger, item.Key, ex.Message);
                InvalidManifests.Add(1, new KeyValuePair<string, object?>("kind", itemKind));
                entries.Add(new CatalogEntry(itemKind, backupId, item.Key, null, ex.Message));
            }
        }

        // Ids sort by time, so this is oldest first across kinds too.
        foreach (var entry in entries.OrderBy(e => e.BackupId, StringComparer.Ordinal))
        {
            yield return entry;
        }
    }

    public async ValueTask<BackupManifest?> FindAsync(string backupId, CancellationToken cancellationToken = default)
    {
        BackupId.Validate(backupId);
        var suffix = $"/{backupId}/{StorageLayout.ManifestName}";
        await foreach (var item in storage.ListAsync(layout.BackupsPrefix, cancellationToken).ConfigureAwait(false))
        {
            if (item.Key.EndsWith(suffix, StringComparison.Ordinal) && layout.TryParseManifestKey(item.Key, out var kind, out var id))
            {
                return await LoadAsync(item.Key, kind, id, cancellationToken).ConfigureAwait(false);
            }
        }

        return null;
    }

    public async ValueTask<BackupManifest?> FindAsync(string kind, string backupId, CancellationToken cancellationToken = default)
    {
        if (!StorageLayout.IsValidKind(kind))
        {
            throw new ArgumentException($"'{kind}' is not a backup kind (lower-case letters, digits and '-').", nameof(kind));
        }

        BackupId.Validate(backupId);
        var key = layout.ManifestKey(kind, backupId);
        try
        {
            return await LoadAsync(key, kind, backupId, cancellationToken).ConfigureAwait(false);
        }
        catch (StorageObjectNotFoundException)
        {
            return null;
        }
    }

    public async ValueTask<BackupManifest> GetAsync(string backupId, CancellationToken cancellationToken = default) =>
        await FindAsync(backupId, cancellationToken).ConfigureAwait(false) ?? throw new BackupNotFoundException(backupId);

    private async Task<BackupManifest> LoadAsync(string key, string kind, string backupId, CancellationToken cancellationToken)
    {
        var bytes = await storage.ReadSmallAsync(key, SmallObjects.MaxDocumentSize, cancellationToken).ConfigureAwait(false);
        return ManifestSerializer.Deserialize(bytes, keyRing, key, kind, backupId);
    }
}
