namespace HealthMate.Backup;

/// <summary>What a backup contains relative to earlier backups of the same source.</summary>
public enum BackupType
{
    /// <summary>Everything the source holds.</summary>
    Full = 0,

    /// <summary>What changed since the last backup of any type.</summary>
    Incremental = 1,

    /// <summary>What changed since the last full backup.</summary>
    Differential = 2,
}
