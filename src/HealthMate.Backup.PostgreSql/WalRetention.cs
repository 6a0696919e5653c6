using System.Globalization;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Health;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Retention;

namespace HealthMate.Backup.PostgreSql;

/// <summary>
/// Retention of the WAL archive: per system identifier, WAL segments (and <c>.partial</c> and <c>.backup</c> files)
/// from before the start of the oldest kept base backup, on its timeline or an earlier one, are deleted; history files
/// are always kept. A system whose kept base backups do not all record their start WAL file keeps all its WAL.
/// </summary>
internal sealed class WalRetention(string backupKind) : IArchiveRetention
{
    public string BackupKind => backupKind;

    public string Prefix => "wal/";

    public string ObjectKind => WalArchive.Kind;

    public IReadOnlyList<ArchivePruneItem> Plan(IReadOnlyList<BackupManifest> retained, IReadOnlyList<string> objectKeys)
    {
        var oldest = new Dictionary<string, (uint Timeline, string Position, string BackupId, string File)>(StringComparer.Ordinal);
        var undetermined = new HashSet<string>(StringComparer.Ordinal);
        foreach (var backup in retained)
        {
            if (!backup.Properties.TryGetValue("postgres.system-identifier", out var system))
            {
                continue;
            }

            if (!backup.Properties.TryGetValue("postgres.start-wal-file", out var file) || file.Length != 24)
            {
                undetermined.Add(system);
                continue;
            }

            var candidate = (uint.Parse(file[..8], NumberStyles.HexNumber, CultureInfo.InvariantCulture), file[8..], backup.BackupId, file);
            if (!oldest.TryGetValue(system, out var current) || string.CompareOrdinal(candidate.Item2, current.Position) < 0)
            {
                oldest[system] = candidate;
            }
        }

        var result = new List<ArchivePruneItem>();
        foreach (var key in objectKeys)
        {
            var parts = key.Split('/');
            if (parts.Length != 4 || parts[0] != "wal" || undetermined.Contains(parts[1]) || !oldest.TryGetValue(parts[1], out var start))
            {
                continue;
            }

            var name = parts[3];
            if (WalArchive.TimelineOf(name) is not { } timelineHex || name.EndsWith(".history", StringComparison.Ordinal))
            {
                continue;
            }

            if (uint.Parse(timelineHex, NumberStyles.HexNumber, CultureInfo.InvariantCulture) <= start.Timeline && string.CompareOrdinal(name.Substring(8, 16), start.Position) < 0)
            {
                result.Add(new ArchivePruneItem(key, $"before {start.File}, where the oldest kept base backup {start.BackupId} starts"));
            }
        }

        return result;
    }
}

/// <summary>The newest archived WAL object's time: what a point-in-time restore can reach now.</summary>
internal sealed class WalRecoveryPoints(BackupEnvironment environment, string backupKind) : IRecoveryPointSource
{
    public string Kind => backupKind;

    public async ValueTask<DateTimeOffset?> GetLatestAsync(CancellationToken cancellationToken = default)
    {
        DateTimeOffset? newest = null;
        await foreach (var item in environment.Storage.ListAsync(environment.Layout.Prefix + "wal/", cancellationToken).ConfigureAwait(false))
        {
            // The manifest is written last: its time is when the segment became restorable.
            if (item.Key.EndsWith(KeyedObjectStore.ManifestSuffix, StringComparison.Ordinal) && !item.Key.EndsWith(".history" + KeyedObjectStore.ManifestSuffix, StringComparison.Ordinal)
                && (newest is null || item.LastModified > newest))
            {
                newest = item.LastModified;
            }
        }

        return newest;
    }
}
