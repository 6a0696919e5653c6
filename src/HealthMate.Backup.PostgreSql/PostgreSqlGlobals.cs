using System.IO.Pipelines;
using System.Text;
using System.Text.RegularExpressions;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Pipeline;
using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <summary>What restoring a logical backup's cluster globals did.</summary>
/// <param name="BackupId">The backup whose globals were applied.</param>
/// <param name="Errors">The statements psql reported as failed, such as a role that already exists; the others were applied.</param>
public sealed record GlobalsRestoreResult(string BackupId, IReadOnlyList<string> Errors)
{
    /// <summary>Gets the roles whose stored password was not applied: the connecting role always, and roles that
    /// already existed on the server unless <see cref="GlobalsRestoreOptions.OverwriteExistingPasswords"/> was set.</summary>
    public IReadOnlyList<string> SkippedPasswords { get; init; } = [];

    /// <summary>Gets the roles none of whose stored attributes or settings were applied: the connecting role, so that
    /// the backup's <c>NOLOGIN</c>, <c>CONNECTION LIMIT</c> or <c>VALID UNTIL</c> cannot lock the restore out.</summary>
    public IReadOnlyList<string> UnchangedRoles { get; init; } = [];
}

/// <summary>How stored globals are applied.</summary>
public sealed class GlobalsRestoreOptions
{
    /// <summary>Gets or sets a value indicating whether roles that already exist on the server get the password stored
    /// in the backup. The connecting role's password is never changed, so the restore cannot lock itself out.</summary>
    /// <value>The default value is <see langword="false"/>: existing roles keep their passwords; roles the restore
    /// creates get the stored ones.</value>
    public bool OverwriteExistingPasswords { get; set; }
}

/// <summary>
/// Applies the roles and tablespaces stored with a logical backup (its <c>globals</c> object, from
/// <c>pg_dumpall --globals-only</c>) to a server, with <c>psql</c>: run it before restoring the databases into a new
/// cluster, so their owners and grants exist. Statements that fail (a role that already exists) are reported and the
/// rest still run, as pg_dumpall's output expects. Passwords are applied only to roles the restore creates (see
/// <see cref="GlobalsRestoreOptions"/>); the connecting role's password is never replaced.
/// </summary>
public sealed partial class PostgreSqlGlobals
{
    private readonly IBackupCatalog _catalog;
    private readonly RestoreRunner _restores;

    internal PostgreSqlGlobals(IBackupCatalog catalog, RestoreRunner restores)
    {
        _catalog = catalog;
        _restores = restores;
    }

    /// <summary>Applies a logical backup's globals to a server, with the default (safe) password handling.</summary>
    /// <param name="backupId">A logical backup taken with <see cref="LogicalBackupOptions.IncludeGlobals"/>.</param>
    /// <param name="connection">The server (a superuser, to create roles); statements run in its maintenance database.</param>
    /// <param name="cancellationToken">Cancels the restore.</param>
    /// <returns>The statements that failed and the passwords not applied.</returns>
    /// <exception cref="InvalidOperationException">The backup has no globals.</exception>
    public Task<GlobalsRestoreResult> RestoreAsync(string backupId, PostgreSqlConnectionOptions connection, CancellationToken cancellationToken = default) =>
        RestoreAsync(backupId, connection, null, cancellationToken);

    /// <summary>Applies a logical backup's globals to a server.</summary>
    /// <param name="backupId">A logical backup taken with <see cref="LogicalBackupOptions.IncludeGlobals"/>.</param>
    /// <param name="connection">The server (a superuser, to create roles); statements run in its maintenance database.</param>
    /// <param name="options">Password handling, or <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels the restore.</param>
    /// <returns>The statements that failed and the passwords not applied.</returns>
    /// <exception cref="InvalidOperationException">The backup has no globals.</exception>
    public async Task<GlobalsRestoreResult> RestoreAsync(string backupId, PostgreSqlConnectionOptions connection, GlobalsRestoreOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        OptionsCheck.ThrowIfInvalid(connection.Validate(), nameof(connection));
        options ??= new GlobalsRestoreOptions();

        var manifest = await _catalog.GetAsync(backupId, cancellationToken).ConfigureAwait(false);
        if (manifest.Objects?.ContainsKey(PgDumpSource.GlobalsObject) != true)
        {
            throw new InvalidOperationException($"Backup {backupId} carries no cluster globals (it was taken without IncludeGlobals, or is not a logical PostgreSQL backup).");
        }

        var (self, existing) = await ReadRolesAsync(connection, cancellationToken).ConfigureAwait(false);
        var keep = new HashSet<string>(StringComparer.Ordinal);
        if (!options.OverwriteExistingPasswords)
        {
            keep.UnionWith(existing);
        }

        var psql = PgTool.Locate("psql", connection.ToolsDirectory);
        var globals = await _restores.OpenObjectAsync(manifest, PgDumpSource.GlobalsObject, cancellationToken, actsWhileReading: true).ConfigureAwait(false);
        await using (globals.ConfigureAwait(false))
        {
            var skipped = new List<string>();
            var unchanged = new List<string>();
            var script = new Pipe();
            var filtering = FilterAsync(globals, script.Writer, self, keep, skipped, unchanged, cancellationToken);
            string messages;
            try
            {
                messages = await psql.RunAsync(
                    ["--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=0", "--file=-", "--dbname=" + PgDumpSource.Quote(connection.MaintenanceDatabase)],
                    connection,
                    stdin: script.Reader.AsStream(),
                    stdout: null,
                    cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                // psql has stopped reading: the filter stops writing, and its own error (the stored globals failing their
                // checks) is what the caller sees.
                await script.Reader.CompleteAsync().ConfigureAwait(false);
                await filtering.ConfigureAwait(false);
            }

            var failed = messages.Split('\n').Where(l => l.Contains("ERROR:", StringComparison.Ordinal)).Select(l => l.Trim()).ToList();
            return new GlobalsRestoreResult(backupId, failed) { SkippedPasswords = [.. skipped.Distinct(StringComparer.Ordinal)], UnchangedRoles = [.. unchanged.Distinct(StringComparer.Ordinal)] };
        }
    }

    /// <summary>
    /// Copies pg_dumpall's script line by line: every <c>ALTER ROLE</c> of the connecting role <paramref name="self"/> is
    /// left out (its attributes and settings stay as they are), and the <c>PASSWORD '…'</c> clause of the <c>ALTER ROLE</c>
    /// of a role in <paramref name="keep"/> is removed. pg_dumpall writes each role's attributes on one line:
    /// <c>ALTER ROLE name WITH … PASSWORD 'SCRAM-SHA-256$…' [VALID UNTIL '…'];</c>, and its settings as
    /// <c>ALTER ROLE name SET …;</c>.
    /// </summary>
    internal static async Task FilterAsync(Stream script, PipeWriter output, string self, IReadOnlySet<string> keep, List<string> skipped, List<string> unchanged, CancellationToken cancellationToken)
    {
        Exception? error = null;
        try
        {
            using var reader = new StreamReader(script, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, leaveOpen: true);
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (AnyAlterRole().Match(line) is { Success: true } alter && Unquote(alter.Groups["role"].Value) == self)
                {
                    unchanged.Add(self);
                    if (line.Contains(" PASSWORD ", StringComparison.Ordinal))
                    {
                        skipped.Add(self);
                    }

                    continue;
                }

                var match = AlterRole().Match(line);
                if (match.Success && keep.Contains(Unquote(match.Groups["role"].Value)))
                {
                    line = line[..match.Groups["password"].Index] + line[(match.Groups["password"].Index + match.Groups["password"].Length)..];
                    skipped.Add(Unquote(match.Groups["role"].Value));
                }

                if ((await output.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), cancellationToken).ConfigureAwait(false)).IsCompleted)
                {
                    return; // psql stopped reading
                }
            }
        }
        catch (Exception ex)
        {
            // Boundary: psql sees the script end early and the error travels to the caller through the pipe.
            error = ex;
            throw;
        }
        finally
        {
            await output.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    private static async Task<(string Self, IReadOnlyList<string> Existing)> ReadRolesAsync(PostgreSqlConnectionOptions connection, CancellationToken cancellationToken)
    {
        var admin = connection.OpenConnection(connection.MaintenanceDatabase);
        await using (admin.ConfigureAwait(false))
        {
            await admin.OpenAsync(cancellationToken).ConfigureAwait(false);
            var self = await admin.ScalarAsync<string>("SELECT session_user::text", cancellationToken).ConfigureAwait(false);
            var roles = new List<string>();
            var command = new NpgsqlCommand("SELECT rolname::text FROM pg_roles", admin);
            await using (command.ConfigureAwait(false))
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        roles.Add(reader.GetString(0));
                    }
                }
            }

            return (self, roles);
        }
    }

    private static string Unquote(string identifier) =>
        identifier.StartsWith('"') ? identifier[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal) : identifier;

    [GeneratedRegex("""^ALTER ROLE (?<role>"(?:[^"]|"")+"|[^\s"]+) WITH .*?(?<password> PASSWORD E?'(?:[^'\\]|''|\\.)*')""")]
    private static partial Regex AlterRole();

    [GeneratedRegex("""^ALTER ROLE (?<role>"(?:[^"]|"")+"|[^\s"]+) """)]
    private static partial Regex AnyAlterRole();
}
