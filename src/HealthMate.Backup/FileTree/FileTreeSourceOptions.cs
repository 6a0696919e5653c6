namespace HealthMate.Backup.FileTree;

/// <summary>What a file-tree backup includes and how it treats files it cannot or should not read.</summary>
public sealed class FileTreeSourceOptions
{
    /// <summary>Gets the folders to back up. Each is stored under its own name (its last path segment), which must be unique.</summary>
    public IList<string> Paths { get; } = [];

    /// <summary>Gets glob patterns of files and folders to leave out, such as <c>*.tmp</c>, <c>*.log</c>,
    /// <c>__pycache__</c>, <c>.git</c>, <c>**/cache/**</c>. A pattern without '/' matches a name at any depth; a pattern
    /// with '/' matches the path relative to the root (with <c>**</c> for any number of folders). Excluded folders are not read.</summary>
    public IList<string> Exclude { get; } = [];

    /// <summary>Gets glob patterns that files must match to be included (same syntax). Empty includes every file.</summary>
    public IList<string> Include { get; } = [];

    /// <summary>Gets or sets the largest file backed up, in bytes; larger files are skipped and reported.</summary>
    /// <value>The default value is <see langword="null"/>: no limit.</value>
    public long? MaxFileSize { get; set; }

    /// <summary>Gets or sets what happens to a file or folder that cannot be read.</summary>
    /// <value>The default value is <see cref="UnreadableFileHandling.Skip"/>: it is skipped and reported.</value>
    public UnreadableFileHandling OnUnreadable { get; set; } = UnreadableFileHandling.Skip;

    /// <summary>Gets or sets a value indicating whether an incremental or differential backup also compares the content
    /// of files whose size, times and inode are unchanged (reading them all); otherwise those are taken as unchanged.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool CompareContent { get; set; }

    /// <summary>Gets or sets a callback told of every file skipped or found changing while it was read. Paths are
    /// reported here, never in the (unencrypted) manifest, which only counts them.</summary>
    public Action<FileTreeEvent>? OnEvent { get; set; }
}

/// <summary>What a file-tree backup does with a file or folder it cannot read.</summary>
public enum UnreadableFileHandling
{
    /// <summary>Skip it, count it in the manifest and report it through <see cref="FileTreeSourceOptions.OnEvent"/>.</summary>
    Skip = 0,

    /// <summary>Fail the backup (nothing is committed).</summary>
    Fail = 1,
}

/// <summary>Something a file-tree backup reports about one path.</summary>
/// <param name="Path">The path as stored in the archive (root name, then the relative path).</param>
/// <param name="Kind">What happened.</param>
/// <param name="Detail">Why, in words (a size, an error type); never file content.</param>
public sealed record FileTreeEvent(string Path, FileTreeEventKind Kind, string Detail);

/// <summary>Kinds of <see cref="FileTreeEvent"/>.</summary>
public enum FileTreeEventKind
{
    /// <summary>Larger than <see cref="FileTreeSourceOptions.MaxFileSize"/>; not backed up.</summary>
    SkippedTooLarge,

    /// <summary>Could not be read; not backed up.</summary>
    SkippedUnreadable,

    /// <summary>A socket, device or FIFO; not backed up.</summary>
    SkippedSpecial,

    /// <summary>Its size or modification time changed while it was read; it was read again, and this is the second reading's outcome.</summary>
    ChangedWhileReading,

    /// <summary>It was listed but gone before it could be read (a rotated log, a deleted upload); not backed up. Never fails the backup.</summary>
    Vanished,
}
