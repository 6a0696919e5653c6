using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <summary>
/// Restores a logical backup with <c>pg_restore</c>, streaming the backup into its standard input. The database is
/// created when missing (and dropped again if the restore fails); a database that already holds objects is refused
/// unless <see cref="LogicalRestoreOptions.Clean"/> is set. By default the restore is one transaction: all or nothing.
/// </summary>
internal sealed class PgRestoreTarget : IRestoreTarget
{
    private readonly LogicalRestoreOptions _options;

    internal PgRestoreTarget(LogicalRestoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionsCheck.ThrowIfInvalid(options.Validate(), nameof(options));

        _options = options;
    }

    /// <summary>Gets a value indicating that pg_restore executes what it reads: it is given authenticated bytes only.</summary>
    public bool ActsWhileReading => true;

    public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(context);
        if (!context.Properties.TryGetValue("postgres.format", out var format) || format != "custom")
        {
            throw new InvalidOperationException($"Backup {context.BackupId} is not a logical PostgreSQL backup (pg_dump custom format); it cannot be restored with pg_restore.");
        }

        var connection = _options.Connection;
        var pgRestore = PgTool.Locate("pg_restore", connection.ToolsDirectory);
        var server = (await ClusterState.ReadAsync(connection, cancellationToken).ConfigureAwait(false)).Version;
        ServerVersion.EnsureToolCanServe(pgRestore.Name, await pgRestore.GetMajorVersionAsync(cancellationToken).ConfigureAwait(false), server);

        var created = await PrepareDatabaseAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await pgRestore.RunAsync(RestoreArguments(), connection, stdin: source, stdout: null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (created)
        {
            // Boundary: a database this restore created is removed again, so a failed restore leaves nothing half-done.
            await DropQuietlyAsync().ConfigureAwait(false);
            throw;
        }
    }

    private List<string> RestoreArguments()
    {
        List<string> arguments = ["--exit-on-error", "--no-password", "--dbname=" + PgDumpSource.Quote(_options.Database)];
        if (_options.SingleTransaction)
        {
            arguments.Add("--single-transaction");
        }

        if (_options.Clean)
        {
            arguments.Add("--clean");
            arguments.Add("--if-exists");
        }

        if (_options.NoOwner)
        {
            arguments.Add("--no-owner");
        }

        if (_options.NoPrivileges)
        {
            arguments.Add("--no-privileges");
        }

        return arguments;
    }

    /// <summary>Creates the database when missing; refuses one that holds objects unless cleaning. Returns whether it created it.</summary>
    private async Task<bool> PrepareDatabaseAsync(CancellationToken cancellationToken)
    {
        var connection = _options.Connection;
        var admin = connection.OpenConnection(connection.MaintenanceDatabase);
        await using (admin.ConfigureAwait(false))
        {
            await admin.OpenAsync(cancellationToken).ConfigureAwait(false);
            var exists = await admin.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", cancellationToken, _options.Database).ConfigureAwait(false);
            if (!exists)
            {
                if (!_options.CreateIfMissing)
                {
                    throw new InvalidOperationException($"Database '{_options.Database}' does not exist on {connection}, and CreateIfMissing is off.");
                }

                await admin.ExecuteAsync($"CREATE DATABASE {QuoteIdentifier(_options.Database)}", cancellationToken).ConfigureAwait(false);
                return true;
            }
        }

        if (_options.Clean)
        {
            return false;
        }

        var target = connection.OpenConnection(_options.Database);
        await using (target.ConfigureAwait(false))
        {
            await target.OpenAsync(cancellationToken).ConfigureAwait(false);
            const string UserObjects = """
                SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                """;
            var objects = await target.ScalarAsync<long>(UserObjects, cancellationToken).ConfigureAwait(false);
            if (objects > 0)
            {
                throw new InvalidOperationException($"Database '{_options.Database}' on {connection} already holds {objects} table(s), view(s) or sequence(s); restore into an empty or new database, or set Clean to replace what the backup contains.");
            }
        }

        return false;
    }

    private async Task DropQuietlyAsync()
    {
        try
        {
            var connection = _options.Connection;
            var admin = connection.OpenConnection(connection.MaintenanceDatabase);
            await using (admin.ConfigureAwait(false))
            {
                await admin.OpenAsync(CancellationToken.None).ConfigureAwait(false);
                await admin.ExecuteAsync($"DROP DATABASE IF EXISTS {QuoteIdentifier(_options.Database)} WITH (FORCE)", CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // Boundary: the restore already failed with its own error; a leftover empty database is reported by that error's caller.
        }
    }

    internal static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
