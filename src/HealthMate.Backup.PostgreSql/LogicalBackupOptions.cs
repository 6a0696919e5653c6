namespace HealthMate.Backup.PostgreSql;

/// <summary>What a logical backup (<c>pg_dump -Fc</c>) of one database includes.</summary>
public sealed class LogicalBackupOptions
{
    /// <summary>Gets or sets the server to back up from.</summary>
    public PostgreSqlConnectionOptions Connection { get; set; } = new();

    /// <summary>Gets or sets the database to back up. Required.</summary>
    public string Database { get; set; } = string.Empty;

    /// <summary>Gets the schemas to include (<c>--schema</c>, patterns as psql's); empty for all.</summary>
    public IList<string> Schemas { get; } = [];

    /// <summary>Gets the schemas to leave out (<c>--exclude-schema</c>).</summary>
    public IList<string> ExcludeSchemas { get; } = [];

    /// <summary>Gets the tables to include (<c>--table</c>); empty for all.</summary>
    public IList<string> Tables { get; } = [];

    /// <summary>Gets the tables to leave out (<c>--exclude-table</c>).</summary>
    public IList<string> ExcludeTables { get; } = [];

    /// <summary>Gets the tables whose definitions are kept but whose rows are left out (<c>--exclude-table-data</c>).</summary>
    public IList<string> ExcludeTableData { get; } = [];

    /// <summary>
    /// Gets or sets whether cluster-wide objects (roles, tablespaces) are stored beside the dump as the companion
    /// object <c>globals</c> (<c>pg_dumpall --globals-only</c>, SQL). Defaults to true.
    /// </summary>
    public bool IncludeGlobals { get; set; } = true;

    /// <summary>Gets or sets whether role password hashes are left out of the globals (<c>--no-role-passwords</c>),
    /// for users who may not read <c>pg_authid</c>. Defaults to false: the globals are encrypted like the data.</summary>
    public bool NoRolePasswords { get; set; }

    /// <summary>Gets or sets the backup kind. Defaults to <c>postgres</c>.</summary>
    public string Kind { get; set; } = "postgres";

    /// <summary>Lists what is wrong with these options.</summary>
    /// <returns>One message per problem; empty when valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>(Connection?.Validate() ?? ["PostgreSQL Connection is required."]);
        if (string.IsNullOrWhiteSpace(Database))
        {
            errors.Add("The database to back up is required.");
        }

        foreach (var pattern in Schemas.Concat(ExcludeSchemas).Concat(Tables).Concat(ExcludeTables).Concat(ExcludeTableData))
        {
            if (string.IsNullOrWhiteSpace(pattern) || pattern.Contains('\0', StringComparison.Ordinal))
            {
                errors.Add("Schema and table patterns must not be empty or contain NUL.");
                break;
            }
        }

        return errors;
    }
}
