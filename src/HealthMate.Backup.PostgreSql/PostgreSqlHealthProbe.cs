using System.Diagnostics;
using System.Globalization;
using HealthMate.Backup.Health;
using HealthMate.Backup.Telemetry;
using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <summary>What the PostgreSQL probe checks and when it calls a server degraded.</summary>
public sealed class PostgreSqlProbeOptions
{
    /// <summary>Gets or sets the server to probe.</summary>
    public PostgreSqlConnectionOptions Connection { get; set; } = new();

    /// <summary>Gets or sets the probe's name. Defaults to <c>postgres</c>.</summary>
    public string Name { get; set; } = "postgres";

    /// <summary>Gets or sets how long the probe may take. Defaults to 5 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the replay lag above which a standby is degraded. Defaults to 5 minutes (the critical tier's RPO).</summary>
    public TimeSpan MaxReplayLag { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets how many WAL segments a primary may be behind in archiving before it is degraded. Defaults to 4.</summary>
    public int MaxArchiveLagSegments { get; set; } = 4;
}

/// <summary>
/// Probes a PostgreSQL server: connects, runs <c>SELECT 1</c>, and reports its role. On a standby: receive and replay
/// positions and the replay lag. On a primary: the archiver's state from <c>pg_stat_archiver</c> and the archive lag
/// (segments written but not yet archived), also published as the metric <c>healthmate.backup.postgres.archive_lag</c>.
/// </summary>
public sealed class PostgreSqlHealthProbe : IHealthProbe
{
    private static readonly System.Diagnostics.Metrics.Gauge<long> ArchiveLag =
        BackupTelemetry.Meter.CreateGauge<long>("healthmate.backup.postgres.archive_lag", "{segment}", "WAL segments written by the primary and not yet archived.");

    private readonly PostgreSqlProbeOptions _options;

    /// <summary>Initializes a new instance of the <see cref="PostgreSqlHealthProbe"/> class.</summary>
    /// <param name="options">The server and thresholds; validated here.</param>
    public PostgreSqlHealthProbe(PostgreSqlProbeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Connection?.Validate() ?? ["Connection is required."];
        if (errors.Count > 0 || options.Timeout <= TimeSpan.Zero || options.MaxArchiveLagSegments < 0 || options.MaxReplayLag < TimeSpan.Zero || string.IsNullOrWhiteSpace(options.Name))
        {
            throw new ArgumentException(string.Join(" ", errors.Append("Name is required, Timeout must be positive, MaxReplayLag and MaxArchiveLagSegments not negative.")), nameof(options));
        }

        _options = options;
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <inheritdoc />
    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            var db = _options.Connection.OpenConnection(_options.Connection.MaintenanceDatabase);
            await using (db.ConfigureAwait(false))
            {
                await db.OpenAsync(timeout.Token).ConfigureAwait(false);
                var standby = await db.ScalarAsync<bool>("SELECT 1 = 1 AND pg_is_in_recovery()", timeout.Token).ConfigureAwait(false);
                data["role"] = standby ? "standby" : "primary";
                var (status, description) = standby
                    ? await ProbeStandbyAsync(db, data, timeout.Token).ConfigureAwait(false)
                    : await ProbePrimaryAsync(db, data, timeout.Token).ConfigureAwait(false);
                return new ProbeResult(status, description, clock.Elapsed, data);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(ProbeStatus.Unhealthy, $"{_options.Connection} did not answer within {_options.Timeout.TotalSeconds:0.#} s", clock.Elapsed, data);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            // Npgsql's messages name the server and the problem, never the password.
            return new ProbeResult(ProbeStatus.Unhealthy, $"{_options.Connection}: {ex.Message}", clock.Elapsed, data, ex);
        }
    }

    private async Task<(ProbeStatus, string)> ProbeStandbyAsync(NpgsqlConnection db, Dictionary<string, object> data, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand("""
            SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,
                   coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::bigint,
                   CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                        ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END
            """, db);
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                data["receive_lsn"] = reader.IsDBNull(0) ? "none" : reader.GetString(0);
                data["replay_lsn"] = reader.IsDBNull(1) ? "none" : reader.GetString(1);
                data["replay_lag_bytes"] = reader.GetInt64(2);
                var lagSeconds = reader.IsDBNull(3) ? 0 : Convert.ToDouble(reader.GetValue(3), CultureInfo.InvariantCulture);
                data["replay_lag_seconds"] = lagSeconds;
                return lagSeconds > _options.MaxReplayLag.TotalSeconds
                    ? (ProbeStatus.Degraded, $"standby replay lags {lagSeconds:0.#} s, over {_options.MaxReplayLag.TotalSeconds:0} s")
                    : (ProbeStatus.Healthy, $"standby, replay lag {lagSeconds:0.#} s");
            }
        }
    }

    private async Task<(ProbeStatus, string)> ProbePrimaryAsync(NpgsqlConnection db, Dictionary<string, object> data, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand("""
            SELECT current_setting('archive_mode'), archived_count, failed_count, coalesce(last_archived_wal, ''), last_archived_time,
                   coalesce(last_failed_wal, ''), last_failed_time, pg_walfile_name(pg_current_wal_lsn())
            FROM pg_stat_archiver
            """, db);
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var mode = reader.GetString(0);
                data["archive_mode"] = mode;
                data["archived_count"] = reader.GetInt64(1);
                data["failed_count"] = reader.GetInt64(2);
                var lastArchived = reader.GetString(3);
                data["last_archived_wal"] = lastArchived;
                var lastArchivedAt = reader.IsDBNull(4) ? (DateTime?)null : reader.GetDateTime(4);
                var lastFailedAt = reader.IsDBNull(6) ? (DateTime?)null : reader.GetDateTime(6);
                data["last_failed_wal"] = reader.GetString(5);
                var current = reader.GetString(7);
                data["current_wal"] = current;
                if (mode == "off")
                {
                    return (ProbeStatus.Healthy, "primary (WAL archiving off)");
                }

                var lag = SegmentsBetween(lastArchived, current);
                data["archive_lag_segments"] = lag;
                ArchiveLag.Record(lag, new KeyValuePair<string, object?>("probe", _options.Name));
                if (lastFailedAt is { } failed && (lastArchivedAt is null || failed > lastArchivedAt))
                {
                    return (ProbeStatus.Degraded, $"primary; archiving is failing (last failure {data["last_failed_wal"]}), {lag} segment(s) behind");
                }

                return lag > _options.MaxArchiveLagSegments
                    ? (ProbeStatus.Degraded, $"primary; archiving is {lag} segments behind (over {_options.MaxArchiveLagSegments})")
                    : (ProbeStatus.Healthy, $"primary; archiving {lag} segment(s) behind");
            }
        }
    }

    /// <summary>Segments from the last archived one to the one being written (the latter is not expected to be archived yet).</summary>
    internal static long SegmentsBetween(string lastArchived, string current)
    {
        static long? Number(string name) => name.Length >= 24 && ulong.TryParse(name.AsSpan(8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var log)
            && ulong.TryParse(name.AsSpan(16, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var seg)
            ? (long)((log * 0x100000000UL / (16UL * 1024 * 1024)) + seg) // assumes 16 MiB segments (the default)
            : null;

        var now = Number(current);
        var done = Number(lastArchived);
        return now is null || done is null ? 0 : Math.Max(0, now.Value - done.Value - 1);
    }
}
