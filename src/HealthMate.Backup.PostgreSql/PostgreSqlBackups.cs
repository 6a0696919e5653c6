namespace HealthMate.Backup.PostgreSql;

/// <summary>PostgreSQL backup sources and restore targets for the HealthMate.Backup pipeline.</summary>
public static class PostgreSqlBackups
{
    /// <summary>
    /// A logical backup of one database: <c>pg_dump -Fc</c> streamed through the pipeline, with the cluster's roles
    /// and tablespaces beside it (object <c>globals</c>) unless <see cref="LogicalBackupOptions.IncludeGlobals"/> is off.
    /// </summary>
    /// <param name="options">The server, database and what to include; validated here.</param>
    /// <returns>A source for <see cref="IBackupRunner.RunAsync"/>.</returns>
    /// <exception cref="ArgumentException">The options are invalid (every problem is listed).</exception>
    public static IBackupSource Logical(LogicalBackupOptions options) => new PgDumpSource(options);

    /// <summary>
    /// A physical backup of the whole cluster: <c>pg_basebackup -D - -Ft</c> streamed through the pipeline, the
    /// basis of a point-in-time restore. Needs a user with the REPLICATION attribute.
    /// </summary>
    /// <param name="options">The server and how to take the backup; validated here.</param>
    /// <returns>A source for <see cref="IBackupRunner.RunAsync"/>.</returns>
    /// <exception cref="ArgumentException">The options are invalid (every problem is listed).</exception>
    public static IBackupSource Physical(PhysicalBackupOptions options) => new PgBaseBackupSource(options);

    /// <summary>Restores a logical backup into a database with <c>pg_restore</c>.</summary>
    /// <param name="options">The server, database and restore options; validated here.</param>
    /// <returns>A target for <see cref="IRestoreRunner.RestoreAsync"/>.</returns>
    /// <exception cref="ArgumentException">The options are invalid (every problem is listed).</exception>
    public static IRestoreTarget ToDatabase(LogicalRestoreOptions options) => new PgRestoreTarget(options);
}
