namespace HealthMate.Backup.FileTree;

/// <summary>What a restore into a directory wrote.</summary>
public sealed class DirectoryRestoreResult
{
    /// <summary>Gets the number of regular files restored.</summary>
    public int Files { get; internal set; }

    /// <summary>Gets the number of folders restored.</summary>
    public int Directories { get; internal set; }

    /// <summary>Gets the number of symbolic links restored (as links; never followed).</summary>
    public int SymbolicLinks { get; internal set; }

    /// <summary>Gets the number of hard links restored.</summary>
    public int HardLinks { get; internal set; }

    /// <summary>Gets the bytes of file content restored.</summary>
    public long Bytes { get; internal set; }
}
