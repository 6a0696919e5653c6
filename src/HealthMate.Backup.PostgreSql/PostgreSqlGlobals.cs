using HealthMate.Backup.Catalog;
using HealthMate.Backup.Pipeline;

namespace HealthMate.Backup.PostgreSql;

/// <summary>What restoring a logical backup's cluster globals did.</summary>
/// <param name="BackupId">The backup whose globals were applied.</param>
/// <param name="Errors">The statements psql reported as failed, such as a role that already exists; the others were applied.</param>
public sealed record GlobalsRestoreResult(string BackupId, IReadOnlyList<string> Errors);

/// <summary>
/// Applies the roles and tablespaces stored with a logical backup (its <c>globals</c> object, from
/// <c>pg_dumpall --globals-only</c>) to a server, with <c>psql</c>: run it before restoring the databases into a new
/// cluster, so their owners and grants exist. Statements that fail (a role that already exists) are reported and the
/// rest still run, as pg_dumpall's output expects.
/// </summary>
public sealed class PostgreSqlGlobals
{
    private readonly IBackupCatalog _catalog;
    private readonly RestoreRunner _restores;

    internal PostgreSqlGlobals(IBackupCatalog catalog, RestoreRunner restores)
    {
        _catalog = catalog;
        _restores = restores;
    }

    /// <summary>Applies a logical backup's globals to a server.</summary>
    /// <param name="backupId">A logical backup taken with <see cref="LogicalBackupOptions.IncludeGlobals"/>.</param>
    /// <param name="connection">The server (a superuser, to create roles); statements run in its maintenance database.</param>
    /// <param name="cancellationToken">Cancels the restore.</param>
    /// <returns>The statements that failed.</returns>
    /// <exception cref="InvalidOperationException">The backup has no globals.</exception>
    public async Task<GlobalsRestoreResult> RestoreAsync(string backupId, PostgreSqlConnectionOptions connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        OptionsCheck.ThrowIfInvalid(connection.Validate(), nameof(connection));

        var manifest = await _catalog.GetAsync(backupId, cancellationToken).ConfigureAwait(false);
        if (manifest.Objects?.ContainsKey(PgDumpSource.GlobalsObject) != true)
        {
            throw new InvalidOperationException($"Backup {backupId} carries no cluster globals (it was taken without IncludeGlobals, or is not a logical PostgreSQL backup).");
        }

        var psql = PgTool.Locate("psql", connection.ToolsDirectory);
        var globals = await _restores.OpenObjectAsync(manifest, PgDumpSource.GlobalsObject, cancellationToken).ConfigureAwait(false);
        await using (globals.ConfigureAwait(false))
        {
            var messages = await psql.RunAsync(
                ["--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=0", "--file=-", "--dbname=" + PgDumpSource.Quote(connection.MaintenanceDatabase)],
                connection,
                stdin: globals,
                stdout: null,
                cancellationToken).ConfigureAwait(false);
            var failed = messages.Split('\n').Where(l => l.Contains("ERROR:", StringComparison.Ordinal)).Select(l => l.Trim()).ToList();
            return new GlobalsRestoreResult(backupId, failed);
        }
    }
}
