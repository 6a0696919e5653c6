namespace HealthMate.Backup.FileTree;

/// <summary>An archive entry was refused because restoring it could write outside the target or create something
/// dangerous (an absolute path, a <c>..</c> segment, a write through a symbolic link, a device node).</summary>
public sealed class UnsafeArchiveEntryException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="UnsafeArchiveEntryException"/> class.</summary>
    /// <param name="entryName">The entry's name as stored in the archive.</param>
    /// <param name="reason">Why it was refused.</param>
    public UnsafeArchiveEntryException(string entryName, string reason)
        : base($"Archive entry '{Printable(entryName)}' was refused: {reason}. Nothing was written to the target.")
    {
        EntryName = entryName;
    }

    /// <summary>Gets the refused entry's name as stored in the archive.</summary>
    public string EntryName { get; }

    private static string Printable(string name) => string.Concat(name.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));
}
