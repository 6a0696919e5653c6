namespace HealthMate.Backup.PostgreSql;

/// <summary>What the restored server does when it reaches the target (<c>recovery_target_action</c>).</summary>
public enum RecoveryEndAction
{
    /// <summary>Ends recovery and opens for writes on a new timeline. The default.</summary>
    Promote,

    /// <summary>Stays in recovery, paused, read-only: inspect, then promote with <c>pg_wal_replay_resume()</c>.</summary>
    Pause,

    /// <summary>Shuts the server down at the target.</summary>
    Shutdown,
}

/// <summary>Where and how a point-in-time restore rebuilds a cluster.</summary>
public sealed class PointInTimeRestoreOptions
{
    /// <summary>Gets or sets the data directory to create: it must be missing or empty. Required.</summary>
    public string DataDirectory { get; set; } = string.Empty;

    /// <summary>Gets or sets where recovery stops. Defaults to <see cref="RecoveryTarget.Latest"/>.</summary>
    public RecoveryTarget Target { get; set; } = RecoveryTarget.Latest;

    /// <summary>Gets or sets what the server does at the target. Defaults to <see cref="RecoveryEndAction.Promote"/>.</summary>
    public RecoveryEndAction Action { get; set; } = RecoveryEndAction.Promote;

    /// <summary>Gets or sets the base backup to start from; null chooses the newest one that ends before the target.</summary>
    public string? BackupId { get; set; }

    /// <summary>Gets or sets the kind of the physical backups to choose from. Defaults to <c>postgres-base</c>.</summary>
    public string BackupKind { get; set; } = "postgres-base";

    /// <summary>
    /// Gets or sets the <c>restore_command</c> the server runs to fetch WAL, with <c>%f</c> and <c>%p</c>, such as
    /// <c>healthmate-backup wal-fetch %f %p --config /etc/healthmate-backup/config.json</c>. Required.
    /// </summary>
    public string RestoreCommand { get; set; } = string.Empty;

    /// <summary>Gets or sets the port the restored server listens on. Defaults to 5432.</summary>
    public int Port { get; set; } = 5432;

    /// <summary>Gets or sets the operating-system user that owns the data directory and runs the server when this
    /// process runs as root (PostgreSQL refuses to run as root). Defaults to <c>postgres</c>.</summary>
    public string ServerUser { get; set; } = "postgres";

    /// <summary>Gets or sets how to log in to the restored server to follow its recovery (its roles are the backed-up
    /// cluster's). The host defaults to <c>localhost</c>; the port is always <see cref="Port"/>.</summary>
    public PostgreSqlConnectionOptions Connection { get; set; } = new();

    /// <summary>Gets or sets how long recovery may take before the restore gives up (and stops the server). Defaults to 30 minutes.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Gets or sets the tier whose objectives the restore's recovery record is compared with, or <see langword="null"/>.</summary>
    public string? Tier { get; set; }

    /// <summary>Gets or sets when the outage this restore recovers from started (its RTO clock's start); <see langword="null"/>
    /// means the restore's own start.</summary>
    public DateTimeOffset? OutageStartedAt { get; set; }

    /// <summary>Gets or sets whether the restore is a drill (its recovery record says so).</summary>
    public bool IsDrill { get; set; }

    /// <summary>Gets extra settings for the restored server's postgresql.auto.conf (name to raw value, quoted as needed).</summary>
    public IDictionary<string, string> Settings { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Lists what is wrong with these options.</summary>
    /// <returns>One message per problem; empty when valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>(Connection?.Validate() ?? ["PostgreSQL Connection is required."]);
        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            errors.Add("DataDirectory is required.");
        }

        if (Target is null)
        {
            errors.Add("Target is required.");
        }

        if (!Enum.IsDefined(Action))
        {
            errors.Add($"Action {Action} is not defined.");
        }

        if (string.IsNullOrWhiteSpace(RestoreCommand) || !RestoreCommand.Contains("%f", StringComparison.Ordinal) || !RestoreCommand.Contains("%p", StringComparison.Ordinal))
        {
            errors.Add("RestoreCommand is required and must contain %f and %p.");
        }

        if (Port is < 1 or > 65535)
        {
            errors.Add($"Port {Port} is outside 1..65535.");
        }

        if (Timeout <= TimeSpan.Zero)
        {
            errors.Add("Timeout must be positive.");
        }

        if (Settings.Keys.Any(k => !System.Text.RegularExpressions.Regex.IsMatch(k, "^[a-z_][a-z0-9_.]*$")))
        {
            errors.Add("Setting names are lower-case letters, digits, '_' and '.'.");
        }

        return errors;
    }
}

/// <summary>What a point-in-time restore did.</summary>
/// <param name="BackupId">The base backup it started from.</param>
/// <param name="DataDirectory">The restored cluster's data directory.</param>
/// <param name="StopReason">Where recovery stopped, in the server's words (<c>recovery stopping before commit of transaction 741, time …</c>), or how it ended.</param>
/// <param name="RedoEndLsn">The last WAL position replayed, when the server reported it.</param>
/// <param name="Timeline">The timeline the cluster is on now (a new one after promotion).</param>
/// <param name="Action">What the server did at the target; with <see cref="RecoveryEndAction.Promote"/> and
/// <see cref="RecoveryEndAction.Pause"/> it is left running on <c>Port</c>.</param>
/// <param name="Elapsed">From the start of the restore until the server had done it: the measured recovery time.</param>
public sealed record PointInTimeRestoreResult(string BackupId, string DataDirectory, string? StopReason, string? RedoEndLsn, int? Timeline, RecoveryEndAction Action, TimeSpan Elapsed);

/// <summary>Recovery ended before it reached the requested target (the WAL archive ends earlier): the restored
/// cluster does not hold the state asked for, and the restore is an error, not a success.</summary>
public sealed class RecoveryTargetNotReachedException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="RecoveryTargetNotReachedException"/> class.</summary>
    /// <param name="target">The target asked for.</param>
    /// <param name="serverLog">The end of the server's log.</param>
    public RecoveryTargetNotReachedException(string target, string serverLog)
        : base($"Recovery ended before the target ({target}) was reached: the WAL archive ends earlier. Server log:\n{serverLog}")
    {
        ServerLog = serverLog;
    }

    /// <summary>Gets the end of the restored server's log.</summary>
    public string ServerLog { get; }
}

/// <summary>
/// A WAL segment a recovery needs is missing from the archive, or the archive holds it but could not give it (damaged,
/// written with another key, storage unreachable). The restored server was stopped; nothing it did counts as a restore.
/// </summary>
public sealed class WalSegmentUnavailableException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="WalSegmentUnavailableException"/> class.</summary>
    /// <param name="segmentName">The WAL file's name.</param>
    /// <param name="why">What happened to it.</param>
    /// <param name="serverLog">The end of the server's log.</param>
    public WalSegmentUnavailableException(string segmentName, string why, string serverLog)
        : base($"Recovery cannot go past WAL segment {segmentName}: {why}. Server log:\n{serverLog}")
    {
        SegmentName = segmentName;
        ServerLog = serverLog;
    }

    /// <summary>Gets the WAL file's name.</summary>
    public string SegmentName { get; }

    /// <summary>Gets the end of the restored server's log.</summary>
    public string ServerLog { get; }
}
