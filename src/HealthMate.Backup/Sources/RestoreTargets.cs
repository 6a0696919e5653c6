namespace HealthMate.Backup;

/// <summary>Ready-made restore targets for streams and files.</summary>
public static class RestoreTargets
{
    /// <summary>Creates a target that copies the restored bytes into a stream the caller owns.</summary>
    /// <param name="destination">The stream; it is not disposed. On failure it may hold a partial, unverified prefix.</param>
    /// <returns>The target.</returns>
    public static IRestoreTarget ToStream(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return new DelegateRestoreTarget((source, _, cancellationToken) => new ValueTask(source.CopyToAsync(destination, 1024 * 1024, cancellationToken)));
    }

    /// <summary>Creates a target that writes a file. The bytes go to a temporary file beside it, which becomes the file
    /// only once the restore is verified and flushed to disk (the file, then its folder); a failed restore leaves no file
    /// and an existing file untouched.</summary>
    /// <param name="path">The file to create.</param>
    /// <param name="overwrite">Whether an existing file may be replaced.</param>
    /// <returns>The target.</returns>
    public static IRestoreTarget ToFile(string path, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new DelegateRestoreTarget(async (source, _, cancellationToken) =>
        {
            var full = Path.GetFullPath(path);
            if (!overwrite && File.Exists(full))
            {
                throw new IOException($"'{full}' exists; restore to another path or allow overwriting.");
            }

            var temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.restoring");
            try
            {
                var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
                await using (file.ConfigureAwait(false))
                {
                    await CopyWithWritebackAsync(source, file, cancellationToken).ConfigureAwait(false);
                    file.Flush(flushToDisk: true);
                }

                File.Move(temporary, full, overwrite);

                // The rename itself must survive a power loss, or the restored file may vanish with it.
                Storage.Local.NativeMethods.FlushDirectory(Path.GetDirectoryName(full)!);
            }
            finally
            {
                File.Delete(temporary);
            }
        });
    }

    /// <summary>Creates a target that restores a tar stream (a file-tree backup) into a folder. The tree is staged beside
    /// the folder and moved into place only after the restore verified, so a failed restore writes nothing there.
    /// Entries that would land outside the folder (absolute paths, <c>..</c>, writes through symbolic links), device
    /// nodes and sparse entries are refused with an <see cref="FileTree.UnsafeArchiveEntryException"/> naming the entry.</summary>
    /// <param name="path">The folder: missing or empty, unless <see cref="FileTree.DirectoryRestoreOptions.Overwrite"/> is set.</param>
    /// <param name="options">Overwrite, subset and ownership options, or <see langword="null"/> for the defaults.</param>
    /// <returns>The target.</returns>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static IRestoreTarget ToDirectory(string path, FileTree.DirectoryRestoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new DelegateRestoreTarget(async (source, _, cancellationToken) =>
            await FileTree.TarExtractor.ExtractAsync(source, path, options ?? new FileTree.DirectoryRestoreOptions(), cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Copies while starting disk writeback every 8 MiB, so the final fsync does not stall on the whole file.</summary>
    private static async Task CopyWithWritebackAsync(Stream source, FileStream file, CancellationToken cancellationToken)
    {
        var buffer = new byte[1024 * 1024];
        var writeback = default(Storage.Local.WritebackScheduler);
        int read;
        while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            writeback.Wrote(file.SafeFileHandle, read);
        }
    }

    private sealed class DelegateRestoreTarget(Func<Stream, RestoreContext, CancellationToken, ValueTask> restore) : IRestoreTarget
    {
        public ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default) =>
            restore(source, context, cancellationToken);
    }
}
