using System.Globalization;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Verification;
using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <summary>What a test restore restores into and checks.</summary>
public sealed class TestRestoreOptions
{
    /// <summary>Gets or sets the server a logical backup is restored into (a throwaway database is created and dropped),
    /// and the login for a physical backup's throwaway cluster.</summary>
    public PostgreSqlConnectionOptions Connection { get; set; } = new();

    /// <summary>
    /// Gets SQL assertions run in the restored database (for a physical backup, in <c>Connection.MaintenanceDatabase</c>):
    /// each returns one boolean, and all must be true, such as <c>SELECT count(*) &gt; 0 FROM patients</c>. By default
    /// (none given) every table must be readable; row counts are recorded either way.
    /// </summary>
    public IList<string> Assertions { get; } = [];

    /// <summary>Gets or sets the prefix of the throwaway database's name. Defaults to <c>healthmate_test_restore</c>.</summary>
    public string DatabasePrefix { get; set; } = "healthmate_test_restore";

    /// <summary>Gets or sets, for a physical backup, how the throwaway cluster is restored (its data directory is made
    /// under <see cref="ScratchDirectory"/>; the target is the end of the backup; the server is stopped and removed after).</summary>
    public PointInTimeRestoreOptions? Physical { get; set; }

    /// <summary>Gets or sets where a physical backup's throwaway cluster is created. Defaults to the temporary folder.</summary>
    public string? ScratchDirectory { get; set; }
}

/// <summary>What a test restore found.</summary>
/// <param name="BackupId">The backup restored.</param>
/// <param name="Succeeded">Whether it restored and every check passed.</param>
/// <param name="Failure">Why not, when it did not.</param>
/// <param name="RestoreTime">How long the restore took until the data was usable: the measured RTO for that database.</param>
/// <param name="Details">Tables and row counts found.</param>
/// <param name="Record">The verification record stored next to the backup.</param>
public sealed record TestRestoreResult(string BackupId, bool Succeeded, Exception? Failure, TimeSpan RestoreTime, IReadOnlyDictionary<string, string> Details, VerificationRecord Record);

/// <summary>
/// Proves a PostgreSQL backup restores: restores it into a throwaway database (logical) or cluster (physical), reads
/// every table and records its row count, runs the caller's SQL assertions, removes what it created, and stores the
/// result and the time the restore took as a verification record next to the backup.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PostgreSqlTestRestore
{
    private const int MaxTablesInDetails = 200;
    private readonly IBackupCatalog _catalog;
    private readonly IRestoreRunner _restores;
    private readonly PointInTimeRestore _pointInTime;
    private readonly IVerificationRecords _records;
    private readonly TimeProvider _time;

    internal PostgreSqlTestRestore(IBackupCatalog catalog, IRestoreRunner restores, PointInTimeRestore pointInTime, IVerificationRecords records, TimeProvider time)
    {
        _catalog = catalog;
        _restores = restores;
        _pointInTime = pointInTime;
        _records = records;
        _time = time;
    }

    /// <summary>Test-restores one backup and records the result. A failed restore or check is a result, not an exception.</summary>
    /// <param name="backupId">A logical or physical PostgreSQL backup.</param>
    /// <param name="options">Where to restore and what to check.</param>
    /// <param name="cancellationToken">Cancels the test restore (nothing is recorded then).</param>
    /// <returns>The outcome, with the stored record.</returns>
    public async Task<TestRestoreResult> RunAsync(string backupId, TestRestoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionsCheck.ThrowIfInvalid(options.Connection?.Validate() ?? ["Connection is required."], nameof(options));

        var manifest = await _catalog.GetAsync(backupId, cancellationToken).ConfigureAwait(false);
        var format = manifest.Properties.GetValueOrDefault("postgres.format");
        if (format is not ("custom" or PgBaseBackupSource.Format))
        {
            throw new InvalidOperationException($"Backup {backupId} is not a PostgreSQL backup.");
        }

        var startedAt = _time.GetUtcNow();
        var started = _time.GetTimestamp();
        var details = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var restoreTime = TimeSpan.Zero;
        Exception? failure = null;
        try
        {
            restoreTime = format == "custom"
                ? await TestLogicalAsync(manifest, options, details, started, cancellationToken).ConfigureAwait(false)
                : await TestPhysicalAsync(manifest, options, details, started, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Boundary: a backup that does not restore, or data that fails a check, is the finding, recorded as such.
            failure = ex;
        }

        details["restore.seconds"] = restoreTime.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        var record = await _records.AddAsync(manifest, "test-restore", startedAt, failure, details, cancellationToken).ConfigureAwait(false);
        return new TestRestoreResult(backupId, failure is null, failure, restoreTime, details, record);
    }

    private async Task<TimeSpan> TestLogicalAsync(BackupManifest manifest, TestRestoreOptions options, IDictionary<string, string> details, long started, CancellationToken cancellationToken)
    {
        var database = $"{options.DatabasePrefix}_{Guid.NewGuid():N}"[..Math.Min(options.DatabasePrefix.Length + 13, 63)];
        var target = new PgRestoreTarget(new LogicalRestoreOptions { Connection = options.Connection, Database = database, CreateIfMissing = true });
        try
        {
            await _restores.RestoreAsync(manifest.BackupId, target, cancellationToken: cancellationToken).ConfigureAwait(false);
            var restoreTime = _time.GetElapsedTime(started);
            await CheckAsync(options.Connection, database, options.Assertions, details, cancellationToken).ConfigureAwait(false);
            return restoreTime;
        }
        finally
        {
            await DropQuietlyAsync(options.Connection, database).ConfigureAwait(false);
        }
    }

    private async Task<TimeSpan> TestPhysicalAsync(BackupManifest manifest, TestRestoreOptions options, IDictionary<string, string> details, long started, CancellationToken cancellationToken)
    {
        var physical = options.Physical ?? throw new InvalidOperationException("A physical backup's test restore needs TestRestoreOptions.Physical (port, restore command, server user).");
        var scratch = Path.Combine(options.ScratchDirectory ?? Path.GetTempPath(), $"healthmate-test-restore-{Guid.NewGuid():N}");
        var restore = new PointInTimeRestoreOptions
        {
            DataDirectory = scratch,
            BackupId = manifest.BackupId,
            BackupKind = manifest.Kind,
            Target = RecoveryTarget.Immediate,
            Action = RecoveryEndAction.Promote,
            RestoreCommand = physical.RestoreCommand,
            Port = physical.Port,
            ServerUser = physical.ServerUser,
            Connection = options.Connection,
            Timeout = physical.Timeout,
        };
        var server = new ServerControl(options.Connection.ToolsDirectory, physical.ServerUser, scratch);
        try
        {
            await _pointInTime.RestoreAsync(restore, cancellationToken).ConfigureAwait(false);
            var restoreTime = _time.GetElapsedTime(started);
            var connection = options.Connection.With(port: physical.Port);
            var databases = await QueryAsync(connection, connection.MaintenanceDatabase, "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1", cancellationToken).ConfigureAwait(false);
            details["databases"] = databases.Count.ToString(CultureInfo.InvariantCulture);
            foreach (var database in databases)
            {
                await CheckAsync(connection, database, database == connection.MaintenanceDatabase ? options.Assertions : [], details, cancellationToken, prefix: database + ".").ConfigureAwait(false);
            }

            return restoreTime;
        }
        finally
        {
            await server.StopQuietlyAsync().ConfigureAwait(false);
            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }
    }

    /// <summary>Reads every table (recording its row count) and runs the assertions.</summary>
    private static async Task CheckAsync(PostgreSqlConnectionOptions connection, string database, IEnumerable<string> assertions, IDictionary<string, string> details, CancellationToken cancellationToken, string prefix = "")
    {
        var db = connection.OpenConnection(database);
        await using (db.ConfigureAwait(false))
        {
            await db.OpenAsync(cancellationToken).ConfigureAwait(false);
            var tables = await ReadListAsync(db, "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1", cancellationToken).ConfigureAwait(false);
            long rows = 0;
            foreach (var table in tables)
            {
                var command = new NpgsqlCommand($"SELECT count(*) FROM {table}", db);
                await using (command.ConfigureAwait(false))
                {
                    var count = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                    rows += count;
                    if (details.Count < MaxTablesInDetails)
                    {
                        details[$"rows.{prefix}{table}"] = count.ToString(CultureInfo.InvariantCulture);
                    }
                }
            }

            details[prefix + "tables"] = tables.Count.ToString(CultureInfo.InvariantCulture);
            details[prefix + "rows"] = rows.ToString(CultureInfo.InvariantCulture);
            var index = 0;
            foreach (var sql in assertions)
            {
                index++;
                var command = new NpgsqlCommand(sql, db);
                await using (command.ConfigureAwait(false))
                {
                    var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                    if (result is not true)
                    {
                        throw new InvalidOperationException($"Assertion {index} did not hold (it returned {result ?? "null"}): {sql}");
                    }
                }
            }

            if (index > 0)
            {
                details[prefix + "assertions"] = index.ToString(CultureInfo.InvariantCulture);
            }
        }
    }

    private static async Task<List<string>> QueryAsync(PostgreSqlConnectionOptions connection, string database, string sql, CancellationToken cancellationToken)
    {
        var db = connection.OpenConnection(database);
        await using (db.ConfigureAwait(false))
        {
            await db.OpenAsync(cancellationToken).ConfigureAwait(false);
            return await ReadListAsync(db, sql, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<List<string>> ReadListAsync(NpgsqlConnection db, string sql, CancellationToken cancellationToken)
    {
        var list = new List<string>();
        var command = new NpgsqlCommand(sql, db);
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    list.Add(reader.GetString(0));
                }
            }
        }

        return list;
    }

    private static async Task DropQuietlyAsync(PostgreSqlConnectionOptions connection, string database)
    {
        try
        {
            var admin = connection.OpenConnection(connection.MaintenanceDatabase);
            await using (admin.ConfigureAwait(false))
            {
                await admin.OpenAsync().ConfigureAwait(false);
                var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS {PgRestoreTarget.QuoteIdentifier(database)} WITH (FORCE)", admin);
                await using (command.ConfigureAwait(false))
                {
                    await command.ExecuteNonQueryAsync().ConfigureAwait(false);
                }
            }
        }
        catch (Exception)
        {
            // Boundary: the result is already decided; a leftover throwaway database carries the prefix and can be dropped by hand.
        }
    }
}
