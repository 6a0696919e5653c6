namespace HealthMate.Backup.Catalog;

/// <summary>No committed backup has the requested id.</summary>
public sealed class BackupNotFoundException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="BackupNotFoundException"/> class.</summary>
    /// <param name="backupId">The id that was not found.</param>
    public BackupNotFoundException(string backupId)
        : base($"No committed backup has id '{backupId}'. A backup without a manifest was never completed.")
    {
        BackupId = backupId;
    }

    /// <summary>Gets the id that was not found.</summary>
    public string BackupId { get; }
}
