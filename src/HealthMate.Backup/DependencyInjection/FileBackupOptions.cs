namespace HealthMate.Backup;

/// <summary>What file backups include (the plan's <c>files</c> section). Used by the file-tree source.</summary>
public sealed class FileBackupOptions
{
    /// <summary>Gets the folders to back up, such as <c>data/embeddings</c> and <c>uploads</c>.</summary>
    public IList<string> Paths { get; } = [];

    /// <summary>Gets the glob patterns to leave out, such as <c>*.tmp</c>, <c>*.log</c>, <c>__pycache__</c>, <c>.git</c>.</summary>
    public IList<string> ExcludePatterns { get; } = [];

    /// <summary>Gets or sets the largest file to back up, in MiB; larger files are skipped and listed. From 1 to 1,048,576.</summary>
    /// <value>The default value is 100.</value>
    public int MaxFileSizeMb { get; set; } = 100;

    /// <summary>Gets or sets how many incremental backups the scheduled file backup takes after a full one before the
    /// next full one (0 makes every scheduled backup full), from 0 to 1,000.</summary>
    /// <value>The default value is 6.</value>
    public int IncrementalsPerFull { get; set; } = 6;
}
