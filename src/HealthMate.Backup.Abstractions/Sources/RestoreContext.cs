namespace HealthMate.Backup;

/// <summary>Describes the backup a restore target is receiving.</summary>
public sealed class RestoreContext
{
    /// <summary>Initializes a new instance of the <see cref="RestoreContext"/> class.</summary>
    /// <param name="backupId">The identifier of the backup being restored.</param>
    /// <param name="kind">The kind of the backup.</param>
    /// <param name="plaintextSize">The number of bytes the target will receive.</param>
    /// <param name="properties">The source properties recorded in the backup's manifest.</param>
    public RestoreContext(string backupId, string kind, long plaintextSize, IReadOnlyDictionary<string, string> properties)
    {
        ArgumentException.ThrowIfNullOrEmpty(backupId);
        ArgumentException.ThrowIfNullOrEmpty(kind);
        ArgumentOutOfRangeException.ThrowIfNegative(plaintextSize);
        ArgumentNullException.ThrowIfNull(properties);
        BackupId = backupId;
        Kind = kind;
        PlaintextSize = plaintextSize;
        Properties = properties;
    }

    /// <summary>Gets the identifier of the backup being restored.</summary>
    public string BackupId { get; }

    /// <summary>Gets the kind of the backup.</summary>
    public string Kind { get; }

    /// <summary>Gets the number of bytes the target will receive.</summary>
    public long PlaintextSize { get; }

    /// <summary>Gets the source properties recorded in the manifest.</summary>
    public IReadOnlyDictionary<string, string> Properties { get; }
}
