using System.Globalization;
using HealthMate.Backup.Health;
using HealthMate.Backup.Playbooks;

namespace HealthMate.Backup.PostgreSql;

/// <summary>
/// The <c>restore-database</c> step of the region-outage playbook: a point-in-time restore to the end of the WAL
/// archive (or the configured target) from the storage this host reads, which for a region outage is the other
/// region's copy (a replicated provider falls back to its replica, or make the replica the active provider). It
/// reports the backup used, where recovery stopped, and the data lost: the time between the newest archived WAL and
/// the outage's start.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PostgreSqlRegionRestoreStep : IPlaybookStep
{
    private readonly PointInTimeRestore _restore;
    private readonly PointInTimeRestoreOptions _options;
    private readonly IEnumerable<IRecoveryPointSource> _recoveryPoints;

    /// <summary>Initializes a new instance of the <see cref="PostgreSqlRegionRestoreStep"/> class.</summary>
    /// <param name="restore">The point-in-time restore.</param>
    /// <param name="options">Where to restore and how (the data directory must be empty); validated here.</param>
    /// <param name="recoveryPoints">Where the newest archived WAL time comes from.</param>
    public PostgreSqlRegionRestoreStep(PointInTimeRestore restore, PointInTimeRestoreOptions options, IEnumerable<IRecoveryPointSource> recoveryPoints)
    {
        ArgumentNullException.ThrowIfNull(restore);
        ArgumentNullException.ThrowIfNull(options);
        OptionsCheck.ThrowIfInvalid(options.Validate(), nameof(options));
        _restore = restore;
        _options = options;
        _recoveryPoints = recoveryPoints ?? [];
    }

    /// <inheritdoc />
    public string Name => "restore-database";

    /// <inheritdoc />
    public string Describe() => $"restore the newest {_options.BackupKind} backup into {_options.DataDirectory} and recover to {_options.Target} (port {_options.Port})";

    /// <inheritdoc />
    public async Task<PlaybookStepResult> ExecuteAsync(PlaybookStepContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var source = _recoveryPoints.FirstOrDefault(p => p.Kind == _options.BackupKind);
        var newest = source is null ? null : await source.GetLatestAsync(cancellationToken).ConfigureAwait(false);
        var result = await _restore.RestoreAsync(_options, context.DetectedAt, context.IsDrill, cancellationToken).ConfigureAwait(false);
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["backup_id"] = result.BackupId,
            ["restore_seconds"] = result.Elapsed.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture),
        };
        if (newest is { } point)
        {
            data[PlaybookStepData.DataLossSeconds] = Math.Max(0, (context.DetectedAt - point).TotalSeconds);
        }

        return new PlaybookStepResult($"restored {result.BackupId} into {result.DataDirectory} in {result.Elapsed.TotalSeconds:0.#} s; recovery stopped at {result.StopReason ?? "an unknown point"} (timeline {result.Timeline})", data);
    }
}
