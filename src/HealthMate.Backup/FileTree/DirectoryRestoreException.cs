namespace HealthMate.Backup.FileTree;

/// <summary>A restore into a directory failed. <see cref="WrittenPaths"/> lists what was written to the target before
/// the failure (empty when the failure came before the staged tree was moved into place, which is the usual case).</summary>
public sealed class DirectoryRestoreException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="DirectoryRestoreException"/> class.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="writtenPaths">Paths, relative to the target, that were written before the failure.</param>
    /// <param name="innerException">The cause.</param>
    public DirectoryRestoreException(string message, IReadOnlyList<string> writtenPaths, Exception? innerException)
        : base(message, innerException)
    {
        WrittenPaths = writtenPaths;
    }

    /// <summary>Gets the paths, relative to the target, written before the failure.</summary>
    public IReadOnlyList<string> WrittenPaths { get; }
}
