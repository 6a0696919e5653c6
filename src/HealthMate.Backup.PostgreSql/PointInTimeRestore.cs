using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.FileTree;
using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <summary>
/// Point-in-time restore: chooses the newest base backup that ends before the target (or the one named), restores it
/// into an empty data directory, writes the recovery settings (<c>restore_command</c>, the target, the end action;
/// archiving off so the copy never writes into the production archive), starts the server, follows recovery to its
/// end, and reports where it stopped. Recovery that ends before the target is an error, not a success: a WAL file the
/// archive holds but cannot give (damaged, another key, storage down) stops recovery with FATAL (wal-fetch exits above
/// 125), and a restore to the latest point whose replay ended before the newest archived segment of its timeline (a
/// segment missing from the archive) fails naming the segment; the server is stopped either way.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed partial class PointInTimeRestore
{
    private const string LogName = "healthmate-recovery.log";
    private readonly IBackupCatalog _catalog;
    private readonly IRestoreRunner _restores;
    private readonly TimeProvider _time;
    private readonly Recovery.IRecoveryRecords? _records;
    private readonly IEnumerable<Health.IRecoveryPointSource> _recoveryPoints;
    private readonly WalArchive? _archive;

    internal PointInTimeRestore(IBackupCatalog catalog, IRestoreRunner restores, TimeProvider time, Recovery.IRecoveryRecords? records = null, IEnumerable<Health.IRecoveryPointSource>? recoveryPoints = null, WalArchive? archive = null)
    {
        _catalog = catalog;
        _restores = restores;
        _time = time;
        _records = records;
        _recoveryPoints = recoveryPoints ?? [];
        _archive = archive;
    }

    /// <summary>Restores a cluster to a point in time.</summary>
    /// <param name="options">Where, to what point, and how; validated first.</param>
    /// <param name="cancellationToken">Cancels the restore; a started server is stopped again.</param>
    /// <returns>Which backup was used, where recovery stopped, the timeline, and how long it took.</returns>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="InvalidOperationException">The data directory is not empty or a cluster runs there, or no base backup fits.</exception>
    /// <exception cref="RecoveryTargetNotReachedException">The WAL archive ends before the target.</exception>
    /// <exception cref="WalSegmentUnavailableException">A WAL segment the recovery needs is missing from the archive or
    /// cannot be read from it (damaged, another key, storage unreachable).</exception>
    public Task<PointInTimeRestoreResult> RestoreAsync(PointInTimeRestoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return RestoreAsync(options, options.OutageStartedAt, options.IsDrill, cancellationToken);
    }

    /// <summary>Restores for a playbook run, whose outage start and drill flag the recovery record takes.</summary>
    internal async Task<PointInTimeRestoreResult> RestoreAsync(PointInTimeRestoreOptions options, DateTimeOffset? outageStartedAt, bool isDrill, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionsCheck.ThrowIfInvalid(options.Validate(), nameof(options));

        var started = _time.GetTimestamp();
        var startedAt = _time.GetUtcNow();
        var newestPoint = options.Target.Kind == RecoveryTarget.Latest.Kind && _recoveryPoints.FirstOrDefault(p => p.Kind == options.BackupKind) is { } source
            ? await source.GetLatestAsync(cancellationToken).ConfigureAwait(false)
            : null;
        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        EnsureEmpty(dataDirectory);
        var backup = await ChooseBackupAsync(options, cancellationToken).ConfigureAwait(false);

        await _restores.RestoreAsync(backup.BackupId, RestoreTargets.ToDirectory(dataDirectory, new DirectoryRestoreOptions { RestoreOwnership = false }), cancellationToken: cancellationToken).ConfigureAwait(false);
        await WriteRecoverySettingsAsync(dataDirectory, backup, options, cancellationToken).ConfigureAwait(false);
        var server = new ServerControl(options.Connection.ToolsDirectory, options.ServerUser, dataDirectory);
        await server.TakeOwnershipAsync(cancellationToken).ConfigureAwait(false);

        var running = false;
        try
        {
            running = await server.StartAsync(Path.Combine(dataDirectory, LogName), options.Action != RecoveryEndAction.Shutdown, options.Timeout, cancellationToken).ConfigureAwait(false);
            var timeline = await FollowRecoveryAsync(server, options, cancellationToken).ConfigureAwait(false);
            var log = ReadLog(dataDirectory);
            if (options.Target.Kind == RecoveryTarget.Latest.Kind)
            {
                await EnsureReplayReachedTheArchiveEndAsync(backup, dataDirectory, log, cancellationToken).ConfigureAwait(false);
            }

            var stop = StopLine().Match(log);
            var redo = RedoDone().Match(log);
            var result = new PointInTimeRestoreResult(
                backup.BackupId,
                dataDirectory,
                stop.Success ? stop.Groups[1].Value.Trim() : (log.Contains("archive recovery complete", StringComparison.Ordinal) ? "end of the WAL archive" : null),
                redo.Success ? redo.Groups[1].Value : null,
                timeline,
                options.Action,
                _time.GetElapsedTime(started));
            await RecordAsync(options, result, outageStartedAt ?? startedAt, isDrill, startedAt, newestPoint).ConfigureAwait(false);
            return result;
        }
        catch (Exception) when (running)
        {
            // Boundary: a restore that failed or was cancelled does not leave a server running.
            await server.StopQuietlyAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stores the restore's measured RTO (outage start to a server at its target) and, for a restore to the end
    /// of the archive, its RPO (outage start minus the newest archived WAL). A storage failure here does not fail the restore.</summary>
    private async Task RecordAsync(PointInTimeRestoreOptions options, PointInTimeRestoreResult result, DateTimeOffset outage, bool isDrill, DateTimeOffset startedAt, DateTimeOffset? newestPoint)
    {
        if (_records is null)
        {
            return;
        }

        var restoredAt = _time.GetUtcNow();
        var objective = _records.Objective(options.Tier);
        try
        {
            await _records.AddAsync(new Recovery.RecoveryRecord
            {
                Id = BackupId.New(_time),
                Kind = Recovery.RecoveryKind.Restore,
                Name = options.BackupKind,
                IsDrill = isDrill,
                Tier = options.Tier,
                OutageStartedAt = outage,
                DetectedAt = startedAt,
                RestoredAt = restoredAt,
                Succeeded = true,
                Rto = restoredAt - outage,
                Rpo = newestPoint is { } point ? (outage > point ? outage - point : TimeSpan.Zero) : null,
                RtoObjective = objective?.Rto,
                RpoObjective = objective?.Rpo,
                Description = $"point-in-time restore of {result.BackupId} to {options.Target}: stopped at {result.StopReason ?? "an unknown point"}, timeline {result.Timeline}",
            }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Storage.StorageException or IOException)
        {
            // The restore succeeded; the record is best effort and its absence shows in the compliance report.
        }
    }

    private static void EnsureEmpty(string dataDirectory)
    {
        if (File.Exists(Path.Combine(dataDirectory, "postmaster.pid")))
        {
            throw new InvalidOperationException($"A cluster is running in '{dataDirectory}' (postmaster.pid exists); a restore never replaces a running cluster.");
        }

        if (Directory.Exists(dataDirectory) && Directory.EnumerateFileSystemEntries(dataDirectory).Any())
        {
            throw new InvalidOperationException($"The data directory '{dataDirectory}' is not empty; restore into a new or empty directory.");
        }
    }

    /// <summary>The named backup, or the newest physical backup that ends before the target.</summary>
    private async Task<BackupManifest> ChooseBackupAsync(PointInTimeRestoreOptions options, CancellationToken cancellationToken)
    {
        if (options.BackupId is { } id)
        {
            var named = await _catalog.GetAsync(id, cancellationToken).ConfigureAwait(false);
            return IsBaseBackup(named) ? named : throw new InvalidOperationException($"Backup {id} is not a physical PostgreSQL backup (pg_basebackup).");
        }

        var candidates = new List<BackupManifest>();
        await foreach (var manifest in _catalog.ListAsync(options.BackupKind, cancellationToken).ConfigureAwait(false))
        {
            if (IsBaseBackup(manifest) && EndsBefore(manifest, options.Target))
            {
                candidates.Add(manifest);
            }
        }

        return candidates.OrderBy(m => m.CompletedAt).LastOrDefault()
            ?? throw new InvalidOperationException($"No physical backup of kind '{options.BackupKind}' ends before the target ({options.Target}).");
    }

    private static bool IsBaseBackup(BackupManifest manifest) =>
        manifest.Properties.TryGetValue("postgres.format", out var format) && format == PgBaseBackupSource.Format;

    /// <summary>A backup can reach a target only if it became consistent before it: its stop point precedes the target.</summary>
    private static bool EndsBefore(BackupManifest manifest, RecoveryTarget target) => target.Kind switch
    {
        "time" => manifest.Properties.TryGetValue("postgres.stop-time", out var stop)
            && DateTimeOffset.TryParse(stop, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var stopTime) && stopTime <= target.Time,
        "lsn" => manifest.Properties.TryGetValue("postgres.stop-lsn", out var stopLsn) && Lsn.TryParse(stopLsn, out var end)
            && Lsn.TryParse(target.Value, out var wanted) && end <= wanted,
        _ => true,
    };

    private static async Task WriteRecoverySettingsAsync(string dataDirectory, BackupManifest backup, PointInTimeRestoreOptions options, CancellationToken cancellationToken)
    {
        var settings = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"# point-in-time restore by healthmate-backup from backup {backup.BackupId} to {options.Target}")
            .AppendLine(CultureInfo.InvariantCulture, $"port = {options.Port}")
            .AppendLine("archive_mode = off")
            .AppendLine("logging_collector = off")
            // What follows recovery reads the server's log: in English, on stderr (pg_ctl's log file), LOG lines kept.
            .AppendLine("log_destination = 'stderr'")
            .AppendLine("lc_messages = 'C'")
            .AppendLine("log_min_messages = 'warning'")
            .AppendLine(CultureInfo.InvariantCulture, $"restore_command = {PostgreSqlConf.Quote(options.RestoreCommand)}")
            .AppendLine("recovery_target_timeline = 'latest'")
            .AppendLine(CultureInfo.InvariantCulture, $"recovery_target_action = '{options.Action.ToString().ToLowerInvariant()}'");
        foreach (var line in options.Target.Settings())
        {
            settings.AppendLine(line);
        }

        foreach (var (name, value) in options.Settings)
        {
            settings.AppendLine(CultureInfo.InvariantCulture, $"{name} = {value}");
        }

        await File.AppendAllTextAsync(Path.Combine(dataDirectory, "postgresql.auto.conf"), settings.ToString(), cancellationToken).ConfigureAwait(false);
        await File.WriteAllBytesAsync(Path.Combine(dataDirectory, "recovery.signal"), [], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits until the server has done what it was told at the target; returns its timeline.</summary>
    private async Task<int?> FollowRecoveryAsync(ServerControl server, PointInTimeRestoreOptions options, CancellationToken cancellationToken)
    {
        var deadline = _time.GetTimestamp() + (long)(options.Timeout.TotalSeconds * _time.TimestampFrequency);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!server.IsRunning)
            {
                var log = ReadLog(server.DataDirectory);
                if (RestoreFailed().Match(log) is { Success: true } failed)
                {
                    // wal-fetch exited above 125: the archive has the file but could not give it (PostgreSQL's FATAL).
                    throw new WalSegmentUnavailableException(failed.Groups["name"].Value, $"it could not be restored from the archive ({WalFetchReason(log) ?? failed.Groups["reason"].Value.Trim()})", Tail(log));
                }

                if (log.Contains("recovery ended before configured recovery target was reached", StringComparison.Ordinal))
                {
                    throw new RecoveryTargetNotReachedException(options.Target.ToString(), Tail(log));
                }

                if (options.Action == RecoveryEndAction.Shutdown && StopLine().IsMatch(log))
                {
                    return null;
                }

                throw new InvalidOperationException($"The restored server stopped before it finished recovery. Server log:\n{Tail(log)}");
            }

            if (options.Action != RecoveryEndAction.Shutdown && await TryReadStateAsync(options).ConfigureAwait(false) is { } state)
            {
                if (options.Action == RecoveryEndAction.Promote && !state.InRecovery)
                {
                    return state.Timeline;
                }

                if (options.Action == RecoveryEndAction.Pause && state.InRecovery && state.Paused)
                {
                    return state.Timeline;
                }
            }

            if (_time.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"Recovery did not finish within {options.Timeout}. Server log:\n{Tail(ReadLog(server.DataDirectory))}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A restore to the latest point must replay every archived segment of its timeline. PostgreSQL ends recovery at the
    /// first segment restore_command reports missing (exit 1) and promotes, so a hole in the archive would look like
    /// its end: compare the last segment replayed with the newest the archive holds on that timeline.
    /// </summary>
    private async Task EnsureReplayReachedTheArchiveEndAsync(BackupManifest backup, string dataDirectory, string log, CancellationToken cancellationToken)
    {
        if (_archive is null || !backup.Properties.TryGetValue("postgres.system-identifier", out var system))
        {
            return;
        }

        var restored = RestoredSegment().Matches(log).Select(m => m.Groups["name"].Value).LastOrDefault();
        var floor = restored ?? (backup.Properties.TryGetValue("postgres.start-wal-file", out var start) && start.Length == 24 ? start : null);
        if (floor is null)
        {
            return;
        }

        // The archive's segments on the floor's timeline and on later ones (a later timeline branched from it: after a
        // failover, its history continues there). Anything past the floor was not replayed: a hole ended recovery.
        var newer = new List<string>();
        await foreach (var name in _archive.ListSegmentsAsync(system, cancellationToken).ConfigureAwait(false))
        {
            if (string.CompareOrdinal(name[..8], floor[..8]) >= 0 && string.CompareOrdinal(name[8..], floor[8..]) > 0)
            {
                newer.Add(name);
            }
        }

        if (newer.Count == 0)
        {
            return;
        }

        var missing = WalSegments.Next(floor, WalSegments.SizeIn(Path.Combine(dataDirectory, "pg_wal")));
        throw new WalSegmentUnavailableException(
            missing,
            $"it is missing from the archive: replay ended after {floor}, but the archive holds {newer.Max(StringComparer.Ordinal)} and {newer.Count - 1} more segment(s) past it on this or a later timeline. The server had promoted a copy that lacks everything after {floor}; it was stopped",
            Tail(log));
    }

    /// <summary>The reason wal-fetch printed (it writes one line to the server log before exiting above 125).</summary>
    private static string? WalFetchReason(string log) =>
        WalFetchFailure().Matches(log).Select(m => m.Groups["reason"].Value.Trim()).LastOrDefault();

    private static async Task<(bool InRecovery, bool Paused, int Timeline)?> TryReadStateAsync(PointInTimeRestoreOptions options)
    {
        var connection = options.Connection.With(port: options.Port);
        connection.ConnectTimeoutSeconds = 5;
        try
        {
            var db = connection.OpenConnection(options.Connection.MaintenanceDatabase);
            await using (db.ConfigureAwait(false))
            {
                await db.OpenAsync().ConfigureAwait(false);
                var command = new NpgsqlCommand("SELECT pg_is_in_recovery(), pg_is_in_recovery() AND pg_get_wal_replay_pause_state() = 'paused', (SELECT timeline_id FROM pg_control_checkpoint())", db);
                await using (command.ConfigureAwait(false))
                {
                    var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        await reader.ReadAsync().ConfigureAwait(false);
                        return (reader.GetBoolean(0), reader.GetBoolean(1), reader.GetInt32(2));
                    }
                }
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            return null; // not accepting connections yet (or shutting down): the caller looks again
        }
    }

    private static string ReadLog(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, LogName);
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(file);
            return reader.ReadToEnd();
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return string.Empty;
        }
    }

    private static string Tail(string log) => log.Length <= 4000 ? log : log[^4000..];

    [GeneratedRegex(@"LOG:\s+(recovery stopping [^\n]+)")]
    private static partial Regex StopLine();

    [GeneratedRegex(@"LOG:\s+redo done at ([0-9A-F]+/[0-9A-F]+)")]
    private static partial Regex RedoDone();

    [GeneratedRegex(@"LOG:\s+restored log file ""(?<name>[0-9A-F]{24})"" from archive")]
    private static partial Regex RestoredSegment();

    [GeneratedRegex(@"FATAL:\s+could not restore file ""(?<name>[^""]+)"" from archive:(?<reason>[^\n]*)")]
    private static partial Regex RestoreFailed();

    [GeneratedRegex(@"healthmate-backup wal-fetch failed: (?<reason>[^\n]*)")]
    private static partial Regex WalFetchFailure();
}
