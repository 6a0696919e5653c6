namespace HealthMate.Backup;

/// <summary>Ready-made backup sources for streams and files. PostgreSQL and file-tree sources live in their own packages and folders.</summary>
public static class BackupSources
{
    /// <summary>Creates a source from a delegate that writes the content.</summary>
    /// <param name="kind">The kind (storage folder), lower-case letters, digits and '-'.</param>
    /// <param name="name">A description, never a secret.</param>
    /// <param name="write">Writes the content to the stream it is given.</param>
    /// <returns>The source.</returns>
    public static IBackupSource Create(string kind, string name, Func<Stream, BackupContext, CancellationToken, ValueTask> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(kind);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(write);
        return new DelegateBackupSource(kind, name, write);
    }

    /// <summary>Creates a source that copies a stream opened for each backup.</summary>
    /// <param name="kind">The kind (storage folder).</param>
    /// <param name="name">A description, never a secret.</param>
    /// <param name="open">Opens the stream to back up; the source disposes it.</param>
    /// <returns>The source.</returns>
    public static IBackupSource FromStream(string kind, string name, Func<CancellationToken, ValueTask<Stream>> open)
    {
        ArgumentNullException.ThrowIfNull(open);
        return Create(kind, name, async (destination, _, cancellationToken) =>
        {
            var stream = await open(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                await stream.CopyToAsync(destination, 1024 * 1024, cancellationToken).ConfigureAwait(false);
            }
        });
    }

    /// <summary>Creates a source that backs up one file, recording its name and size.</summary>
    /// <param name="path">The file.</param>
    /// <param name="kind">The kind (storage folder).</param>
    /// <returns>The source.</returns>
    public static IBackupSource FromFile(string path, string kind = "file")
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Create(kind, Path.GetFileName(path), async (destination, context, cancellationToken) =>
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
            await using (stream.ConfigureAwait(false))
            {
                context.Properties["file.name"] = Path.GetFileName(path);
                await stream.CopyToAsync(destination, 1024 * 1024, cancellationToken).ConfigureAwait(false);
                context.Properties["file.size"] = stream.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        });
    }

    /// <summary>Creates a source that backs up folders as one streaming PAX tar (see <see cref="FileTree.FileTreeSourceOptions"/>).
    /// Restore it with <see cref="RestoreTargets.ToDirectory"/>; an unencrypted one is also a plain tar for GNU tar and bsdtar.</summary>
    /// <param name="options">The folders, exclusions, size limit and unreadable-file handling.</param>
    /// <param name="kind">The kind (storage folder).</param>
    /// <returns>The source.</returns>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static IBackupSource FromFileTree(FileTree.FileTreeSourceOptions options, string kind = "files") => new FileTree.FileTreeSource(options, kind);

    private sealed class DelegateBackupSource(string kind, string name, Func<Stream, BackupContext, CancellationToken, ValueTask> write) : IBackupSource
    {
        public string Kind => kind;

        public string Name => name;

        public ValueTask WriteToAsync(Stream destination, BackupContext context, CancellationToken cancellationToken = default) =>
            write(destination, context, cancellationToken);
    }
}
