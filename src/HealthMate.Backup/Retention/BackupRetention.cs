using HealthMate.Backup.Catalog;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Scheduling;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Telemetry;
using HealthMate.Backup.Verification;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Retention;

/// <summary>Retention over the storage alone: the catalog, verification records and archive listings decide.</summary>
internal sealed class BackupRetention(
    BackupEnvironment environment,
    IVerificationRecords verifications,
    JobRecords jobRecords,
    KeyedObjectStore keyedObjects,
    IEnumerable<IArchiveRetention> archives) : IBackupRetention
{
    private readonly ILogger _logger = environment.LoggerFactory.CreateLogger<BackupRetention>();

    public async Task<RetentionPlan> PlanAsync(CancellationToken cancellationToken = default) =>
        (await PlanCoreAsync(cancellationToken).ConfigureAwait(false)).Plan;

    /// <summary>The plan, and the data objects of each archive name it prunes (the listing it was made from names them).</summary>
    private async Task<(RetentionPlan Plan, Dictionary<string, List<string>> ArchiveData)> PlanCoreAsync(CancellationToken cancellationToken)
    {
        var now = environment.TimeProvider.GetUtcNow();
        var options = environment.Options.Retention;
        var backups = await environment.Catalog.ListAsync(null, cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);

        var testRestored = await FindTestRestoredAsync(backups, cancellationToken).ConfigureAwait(false);
        var archiveList = archives.ToList();
        var (decisions, deleteOrder) = RetentionPlanner.Plan(backups, options, testRestored, archiveList.Select(a => a.BackupKind).ToHashSet(StringComparer.Ordinal), now);

        var kept = decisions.Where(d => d.Keep).Select(d => d.BackupId).ToHashSet(StringComparer.Ordinal);
        var archiveItems = new List<ArchivePruneItem>();
        var archiveData = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var incomplete = new List<string>();
        var backupObjects = await environment.Storage.ListAsync(environment.Layout.BackupsPrefix, cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
        var archiveObjects = new List<List<StorageObjectInfo>>();
        foreach (var archive in archiveList)
        {
            archiveObjects.Add(await environment.Storage.ListAsync(environment.Layout.Prefix + archive.Prefix, cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false));
        }

        // Ages of objects are measured on the storage's clock where it is behind this host's: the newest object listed
        // was written before the storage's "now". A host whose clock runs ahead (or a test's fake clock) then never takes
        // an in-flight write's data for an old orphan.
        var storageNow = backupObjects.Concat(archiveObjects.SelectMany(o => o)).Select(o => o.LastModified).DefaultIfEmpty(now).Max();
        var graceEnd = (storageNow < now ? storageNow : now) - options.IncompleteUploadGrace;
        for (var i = 0; i < archiveList.Count; i++)
        {
            var archive = archiveList[i];
            var listing = await AnalyzeArchiveAsync(archiveObjects[i], archive.ObjectKind, graceEnd, cancellationToken).ConfigureAwait(false);
            var retained = backups.Where(b => b.Kind == archive.BackupKind && kept.Contains(b.BackupId)).ToList();
            foreach (var item in archive.Plan(retained, listing.Committed))
            {
                archiveItems.Add(item);
                archiveData[item.Key] = listing.DataKeys.GetValueOrDefault(item.Key) ?? [];
            }

            incomplete.AddRange(listing.Orphans);
        }

        incomplete.InsertRange(0, IncompleteBackups(backupObjects, graceEnd));
        return (new RetentionPlan(now, decisions, archiveItems, incomplete) { ToDelete = deleteOrder, GraceEnd = graceEnd }, archiveData);
    }

    public async Task<RetentionResult> ApplyAsync(Func<CancellationToken, ValueTask>? beforeDelete = null, CancellationToken cancellationToken = default)
    {
        var (plan, archiveData) = await PlanCoreAsync(cancellationToken).ConfigureAwait(false);
        var storage = environment.Storage;
        var layout = environment.Layout;
        var deleted = new List<string>();
        foreach (var decision in plan.ToDelete)
        {
            await CheckAsync(beforeDelete, cancellationToken).ConfigureAwait(false);

            // The manifest first: from then on the backup is not listed, and what remains is an incomplete upload.
            await storage.DeleteAsync(layout.ManifestKey(decision.Kind, decision.BackupId), cancellationToken).ConfigureAwait(false);
            var folder = $"{layout.KindPrefix(decision.Kind)}{decision.BackupId}/";
            await DeleteAllAsync(folder, cancellationToken).ConfigureAwait(false);
            deleted.Add(decision.BackupId);
            BackupTelemetry.Pruned.Add(1, new KeyValuePair<string, object?>("object", "backup"), new KeyValuePair<string, object?>("kind", decision.Kind));
            Log.RetentionDeleted(_logger, decision.Kind, decision.BackupId, decision.Reasons[0]);
        }

        foreach (var item in plan.ArchiveObjects)
        {
            await CheckAsync(beforeDelete, cancellationToken).ConfigureAwait(false);
            await keyedObjects.DeleteAsync(item.Key, archiveData[item.Key], cancellationToken).ConfigureAwait(false);
            BackupTelemetry.Pruned.Add(1, new KeyValuePair<string, object?>("object", "archive"));
        }

        foreach (var key in plan.IncompleteUploads)
        {
            await CheckAsync(beforeDelete, cancellationToken).ConfigureAwait(false);
            await storage.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
            BackupTelemetry.Pruned.Add(1, new KeyValuePair<string, object?>("object", "incomplete"));
            Log.IncompleteUploadRemoved(_logger, key);
        }

        // What killed writers left behind (temporary files, incomplete multipart uploads), past the same grace period.
        await CheckAsync(beforeDelete, cancellationToken).ConfigureAwait(false);
        var abandoned = await storage.RemoveAbandonedWritesAsync(environment.Layout.Prefix, plan.GraceEnd, cancellationToken).ConfigureAwait(false);
        var jobs = await jobRecords.PruneAsync(plan.PlannedAt - TimeSpan.FromDays(environment.Options.Retention.JobRecordDays), cancellationToken).ConfigureAwait(false);
        Log.RetentionApplied(_logger, deleted.Count, plan.ArchiveObjects.Count, plan.IncompleteUploads.Count, plan.Backups.Count - deleted.Count);
        return new RetentionResult(plan, deleted, plan.ArchiveObjects.Count, plan.IncompleteUploads.Count, jobs) { AbandonedWritesRemoved = abandoned };
    }

    private static async ValueTask CheckAsync(Func<CancellationToken, ValueTask>? beforeDelete, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (beforeDelete is not null)
        {
            await beforeDelete(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task DeleteAllAsync(string folder, CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (var item in environment.Storage.ListAsync(folder, cancellationToken).ConfigureAwait(false))
        {
            keys.Add(item.Key);
        }

        foreach (var key in keys)
        {
            await environment.Storage.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Per group, the newest backup with a passing test restore (read newest first, stopping at the first).</summary>
    private async Task<HashSet<string>> FindTestRestoredAsync(List<BackupManifest> backups, CancellationToken cancellationToken)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in backups.GroupBy(b => (b.Kind, b.Plan, b.Name)))
        {
            foreach (var backup in group.OrderByDescending(b => b.CompletedAt))
            {
                var passed = false;
                await foreach (var record in verifications.ListAsync(backup.Kind, backup.BackupId, cancellationToken).ConfigureAwait(false))
                {
                    passed |= record is { Method: "test-restore", Succeeded: true };
                }

                if (passed)
                {
                    result.Add(backup.BackupId);
                    break;
                }
            }
        }

        return result;
    }

    /// <summary>Backup folders with objects but no manifest, whose id and every object are older than the grace period.</summary>
    private List<string> IncompleteBackups(IReadOnlyList<StorageObjectInfo> items, DateTimeOffset graceEnd)
    {
        var prefix = environment.Layout.BackupsPrefix;
        var folders = new Dictionary<string, (List<string> Keys, bool HasManifest, bool Recent)>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            var parts = item.Key[prefix.Length..].Split('/', 3);
            if (parts.Length < 3 || !StorageLayout.IsValidKind(parts[0]) || !BackupId.IsValid(parts[1]))
            {
                continue;
            }

            var folder = $"{parts[0]}/{parts[1]}";
            var entry = folders.TryGetValue(folder, out var existing) ? existing : ([], false, false);
            entry.Keys.Add(item.Key);
            entry.HasManifest |= parts[2] == StorageLayout.ManifestName;
            entry.Recent |= item.LastModified > graceEnd || BackupId.TimeOf(parts[1]) > graceEnd;
            folders[folder] = entry;
        }

        return [.. folders.Values.Where(f => !f.HasManifest && !f.Recent).SelectMany(f => f.Keys)];
    }

    /// <summary>
    /// An archive's committed names (those with a manifest), the data objects of each name, and its orphans: data that no
    /// manifest names (a put that died before its manifest, or lost a race for the name), past the grace period. Where a
    /// name has more than one data object, its manifest says which one it names.
    /// </summary>
    private async Task<ArchiveListing> AnalyzeArchiveAsync(IReadOnlyList<StorageObjectInfo> items, string kind, DateTimeOffset graceEnd, CancellationToken cancellationToken)
    {
        var prefix = environment.Layout.Prefix;
        var names = new SortedDictionary<string, (bool HasManifest, List<StorageObjectInfo> Data)>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            var relative = item.Key[prefix.Length..];
            var isManifest = relative.EndsWith(KeyedObjectStore.ManifestSuffix, StringComparison.Ordinal);
            var name = isManifest ? relative[..^KeyedObjectStore.ManifestSuffix.Length] : KeyedObjectStore.NameOfData(relative);
            var entry = names.TryGetValue(name, out var existing) ? existing : (false, []);
            if (isManifest)
            {
                entry.HasManifest = true;
            }
            else
            {
                entry.Data.Add(item);
            }

            names[name] = entry;
        }

        var listing = new ArchiveListing();
        foreach (var (name, (hasManifest, data)) in names)
        {
            listing.DataKeys[name] = [.. data.Select(d => d.Key)];
            string? named = null;
            if (hasManifest)
            {
                listing.Committed.Add(name);
                if (data.Count < 2)
                {
                    continue;
                }

                try
                {
                    named = prefix + (await keyedObjects.FindAsync(name, kind, cancellationToken).ConfigureAwait(false))?.Data.Key;
                }
                catch (Exception ex) when (ex is BackupIntegrityException or WrongKeyException or BackupKeyNotFoundException or BackupFormatException)
                {
                    continue; // a manifest that cannot be read does not say which data is free: keep it all
                }
            }

            listing.Orphans.AddRange(data.Where(d => d.Key != named && d.LastModified <= graceEnd).Select(d => d.Key));
        }

        return listing;
    }

    private sealed class ArchiveListing
    {
        internal List<string> Committed { get; } = [];

        internal Dictionary<string, List<string>> DataKeys { get; } = new(StringComparer.Ordinal);

        internal List<string> Orphans { get; } = [];
    }
}
