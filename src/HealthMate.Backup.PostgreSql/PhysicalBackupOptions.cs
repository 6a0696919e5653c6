namespace HealthMate.Backup.PostgreSql;

/// <summary>How <c>pg_basebackup</c> starts its backup.</summary>
public enum CheckpointMode
{
    /// <summary>An immediate checkpoint (<c>-c fast</c>): the backup starts at once. The default.</summary>
    Fast,

    /// <summary>A spread checkpoint (<c>-c spread</c>): gentler on the server, but a backup can wait minutes to start
    /// (one took 273 s instead of 3 s here).</summary>
    Spread,
}

/// <summary>Which write-ahead log a base backup carries.</summary>
public enum BaseBackupWal
{
    /// <summary>The WAL written during the backup is fetched into the archive (<c>-X fetch</c>): the backup restores
    /// on its own, without the WAL archive. The default.</summary>
    Fetch,

    /// <summary>No WAL (<c>-X none</c>): restoring needs the WAL archive (see <see cref="WalArchive"/>).</summary>
    None,
}

/// <summary>What a physical backup (<c>pg_basebackup</c> of the whole cluster) does.</summary>
public sealed class PhysicalBackupOptions
{
    /// <summary>Gets or sets the server to back up; the user needs the REPLICATION attribute and a replication entry in pg_hba.conf.</summary>
    public PostgreSqlConnectionOptions Connection { get; set; } = new();

    /// <summary>Gets or sets the checkpoint mode. Defaults to <see cref="CheckpointMode.Fast"/>.</summary>
    public CheckpointMode Checkpoint { get; set; } = CheckpointMode.Fast;

    /// <summary>Gets or sets which WAL the backup carries. Defaults to <see cref="BaseBackupWal.Fetch"/>.</summary>
    public BaseBackupWal Wal { get; set; } = BaseBackupWal.Fetch;

    /// <summary>Gets or sets the most the server sends, in kB/s (<c>--max-rate</c>, 32 to 1048576); null for no limit.</summary>
    public int? MaxRateKilobytesPerSecond { get; set; }

    /// <summary>Gets or sets the backup kind. Defaults to <c>postgres-base</c>.</summary>
    public string Kind { get; set; } = "postgres-base";

    /// <summary>Lists what is wrong with these options.</summary>
    /// <returns>One message per problem; empty when valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>(Connection?.Validate() ?? ["PostgreSQL Connection is required."]);
        if (!Enum.IsDefined(Checkpoint))
        {
            errors.Add($"Checkpoint mode {Checkpoint} is not defined.");
        }

        if (!Enum.IsDefined(Wal))
        {
            errors.Add($"WAL mode {Wal} is not defined.");
        }

        if (MaxRateKilobytesPerSecond is < 32 or > 1048576)
        {
            errors.Add($"MaxRateKilobytesPerSecond {MaxRateKilobytesPerSecond} is outside 32..1048576.");
        }

        return errors;
    }
}
