namespace HealthMate.Backup.FileTree;

/// <summary>How a tar stream is restored into a directory.</summary>
public sealed record DirectoryRestoreOptions
{
    /// <summary>Gets a value indicating whether restoring into a non-empty directory may replace existing entries.</summary>
    /// <value>The default value is <see langword="false"/>: the target must be missing or empty.</value>
    public bool Overwrite { get; init; }

    /// <summary>Gets a filter on entry paths (relative, '/'-separated, without a trailing '/'): only matching entries, and
    /// the directories above them, are restored. <see langword="null"/> restores everything.</summary>
    public Func<string, bool>? Include { get; init; }

    /// <summary>Gets glob patterns of paths to restore (same syntax as the backup's exclusions: <c>uploads/**</c>,
    /// <c>**/*.pdf</c>, <c>report.txt</c>); empty restores everything. Combined with <see cref="Include"/> when both are set.</summary>
    public IReadOnlyList<string> IncludeGlobs { get; init; } = [];

    /// <summary>Gets a value indicating whether file ownership is restored when the process may change it (root).</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool RestoreOwnership { get; init; } = true;

    /// <summary>Gets a value indicating whether setuid and setgid bits are restored.</summary>
    /// <value>The default value is <see langword="false"/>: they are cleared, as an extra guard against a tampered archive.</value>
    public bool RestoreSetIdBits { get; init; }
}
