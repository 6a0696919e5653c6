using System.Globalization;
using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <summary>
/// A physical backup of the whole cluster: <c>pg_basebackup -D - -Ft</c> streamed from its standard output through the
/// pipeline. The manifest records the system identifier, timeline, start and stop LSN, the server's clock before and
/// after, its version, and the backup label, which are what a point-in-time restore needs to choose and use it.
/// </summary>
internal sealed class PgBaseBackupSource : IBackupSource
{
    internal const string Format = "base-tar";
    private readonly PhysicalBackupOptions _options;

    internal PgBaseBackupSource(PhysicalBackupOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionsCheck.ThrowIfInvalid(options.Validate(), nameof(options));

        _options = options;
    }

    public string Kind => _options.Kind;

    public string Name => _options.Connection.ToString();

    public async ValueTask WriteToAsync(Stream destination, BackupContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(context);
        var connection = _options.Connection;
        var tool = PgTool.Locate("pg_basebackup", connection.ToolsDirectory);
        var before = await ClusterState.ReadAsync(connection, cancellationToken).ConfigureAwait(false);
        ServerVersion.EnsureToolCanServe(tool.Name, await tool.GetMajorVersionAsync(cancellationToken).ConfigureAwait(false), before.Version);

        var label = $"healthmate-backup {context.BackupId}";
        List<string> arguments =
        [
            "--pgdata=-", "--format=tar", "--no-password",
            "--checkpoint=" + (_options.Checkpoint == CheckpointMode.Fast ? "fast" : "spread"),
            "--wal-method=" + (_options.Wal == BaseBackupWal.Fetch ? "fetch" : "none"),
            "--label=" + label,
        ];
        if (_options.MaxRateKilobytesPerSecond is { } rate)
        {
            arguments.Add("--max-rate=" + rate.ToString(CultureInfo.InvariantCulture));
        }

        // The start and end points come from the archive itself: backup_label (start, timeline) and the backup
        // manifest pg_basebackup appends (its WAL range), read as they pass.
        var capture = new TarMemberCapture(destination, new HashSet<string>(StringComparer.Ordinal) { "backup_label", "backup_manifest" }, 64 * 1024 * 1024);
        await tool.RunAsync(arguments, connection, stdin: null, stdout: capture, cancellationToken).ConfigureAwait(false);
        var after = await ClusterState.ReadAsync(connection, cancellationToken).ConfigureAwait(false);
        var (startLsn, timeline, endLsn, startWalFile) = BaseBackupPoints.Read(capture.Captured);
        if (endLsn is null)
        {
            throw new InvalidOperationException("pg_basebackup's archive carries no backup manifest, so its end point is unknown; do not disable manifests.");
        }

        if (after.SystemIdentifier != before.SystemIdentifier)
        {
            throw new InvalidOperationException("The server's system identifier changed during the backup: another cluster answered on the same address.");
        }

        void Put(string key, string value) => context.Properties["postgres." + key] = value;
        Put("format", Format);
        Put("system-identifier", before.SystemIdentifier);
        Put("timeline", timeline.ToString(CultureInfo.InvariantCulture));
        Put("start-lsn", startLsn);
        if (startWalFile is not null)
        {
            Put("start-wal-file", startWalFile);
        }

        Put("stop-lsn", endLsn);
        Put("start-time", before.Clock.ToString("O", CultureInfo.InvariantCulture));
        Put("stop-time", after.Clock.ToString("O", CultureInfo.InvariantCulture));
        Put("server-version", before.Version.Display);
        Put("server-version-num", before.Version.Number.ToString(CultureInfo.InvariantCulture));
        Put("label", label);
        Put("wal-included", (_options.Wal == BaseBackupWal.Fetch).ToString(CultureInfo.InvariantCulture).ToLowerInvariant());
        Put("checkpoint", _options.Checkpoint == CheckpointMode.Fast ? "fast" : "spread");
    }
}

/// <summary>What a backup records about the cluster: its identity, version and clock.</summary>
internal readonly record struct ClusterState(string SystemIdentifier, ServerVersion Version, DateTimeOffset Clock)
{
    internal static async Task<ClusterState> ReadAsync(PostgreSqlConnectionOptions connection, CancellationToken cancellationToken)
    {
        var db = connection.OpenConnection(connection.MaintenanceDatabase);
        await using (db.ConfigureAwait(false))
        {
            try
            {
                await db.OpenAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NpgsqlException ex)
            {
                throw new PostgreSqlConnectionException($"Cannot connect to {connection}: {ex.Message}", ex);
            }

            var command = new NpgsqlCommand("SELECT system_identifier::text, current_setting('server_version_num')::int, current_setting('server_version'), clock_timestamp() FROM pg_control_system()", db);
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    return new ClusterState(reader.GetString(0), new ServerVersion(reader.GetInt32(1), reader.GetString(2)), reader.GetFieldValue<DateTimeOffset>(3));
                }
            }
        }
    }
}
