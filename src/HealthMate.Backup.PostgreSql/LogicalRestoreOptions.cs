namespace HealthMate.Backup.PostgreSql;

/// <summary>Where and how a logical backup is restored (<c>pg_restore</c>).</summary>
public sealed class LogicalRestoreOptions
{
    /// <summary>Gets or sets the server to restore into.</summary>
    public PostgreSqlConnectionOptions Connection { get; set; } = new();

    /// <summary>Gets or sets the database to restore into. Required.</summary>
    public string Database { get; set; } = string.Empty;

    /// <summary>Gets or sets whether a missing database is created (and dropped again if the restore fails). Defaults to true.</summary>
    public bool CreateIfMissing { get; set; } = true;

    /// <summary>
    /// Gets or sets whether objects of the backup that already exist in the database are dropped and recreated
    /// (<c>--clean --if-exists</c>). Without it a database that holds any table, view, sequence or function is refused,
    /// so a restore never mixes into live data by mistake. Defaults to false.
    /// </summary>
    public bool Clean { get; set; }

    /// <summary>Gets or sets whether ownership is left to the restoring user (<c>--no-owner</c>). Defaults to false.</summary>
    public bool NoOwner { get; set; }

    /// <summary>Gets or sets whether grants are left out (<c>--no-privileges</c>). Defaults to false.</summary>
    public bool NoPrivileges { get; set; }

    /// <summary>Gets or sets whether the restore runs as one transaction (<c>--single-transaction</c>): all or nothing.
    /// Defaults to true.</summary>
    public bool SingleTransaction { get; set; } = true;

    /// <summary>Lists what is wrong with these options.</summary>
    /// <returns>One message per problem; empty when valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>(Connection?.Validate() ?? ["PostgreSQL Connection is required."]);
        if (string.IsNullOrWhiteSpace(Database))
        {
            errors.Add("The database to restore into is required.");
        }

        return errors;
    }
}
