using System.Formats.Tar;
using System.Globalization;
using System.Runtime.Versioning;

namespace HealthMate.Backup.FileTree;

/// <summary>
/// Backs up folders as one streaming PAX tar: each root under its own name, folders (empty ones too), regular files,
/// symbolic links (as links, never followed) and hard links (as links to the first path seen), with mode, mtime and
/// owner. Counts go to the manifest; skipped and changed paths go to <see cref="FileTreeSourceOptions.OnEvent"/>.
/// </summary>
[UnsupportedOSPlatform("windows")]
internal sealed partial class FileTreeSource : IBackupSource
{
    private readonly FileTreeSourceOptions _options;
    private readonly (string Name, string Path)[] _roots;
    private readonly PathFilter _exclude;
    private readonly PathFilter _include;

    internal FileTreeSource(FileTreeSourceOptions options, string kind)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Paths.Count == 0)
        {
            throw new ArgumentException("A file-tree backup needs at least one path.", nameof(options));
        }

        if (options.MaxFileSize is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxFileSize must not be negative.");
        }

        _roots = options.Paths.Select(p => Path.TrimEndingDirectorySeparator(Path.GetFullPath(p))).Select(p => (Path.GetFileName(p), p)).OrderBy(r => r.Item1, StringComparer.Ordinal).ToArray();
        var duplicate = _roots.GroupBy(r => r.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1 || g.Key.Length == 0);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Each backup path is stored under its last segment, which must be unique and not empty; '{duplicate.Key}' is not.", nameof(options));
        }

        _options = options;
        _exclude = new PathFilter(options.Exclude);
        _include = new PathFilter(options.Include);
        Kind = kind;
    }

    public string Kind { get; }

    public string Name => string.Join(", ", _roots.Select(r => r.Name));

    public async ValueTask WriteToAsync(Stream destination, BackupContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(context);
        FileIndex.Cursor? parent = null;
        if (context.Type != BackupType.Full)
        {
            var open = context.OpenParentObjectAsync ?? throw new InvalidOperationException($"A {context.Type} file backup needs its parent's index, but none can be read.");
            parent = new FileIndex.Cursor(new FileIndex.Reader(await open(FileIndex.ObjectName, cancellationToken).ConfigureAwait(false)));
        }

        try
        {
            // Closed only on success: if the walk fails, the pipeline aborts the index with the data.
            var index = new FileIndex.Writer(await context.OpenObjectAsync(FileIndex.ObjectName, cancellationToken).ConfigureAwait(false));
            var run = new Run(_options, context.BackupId, index, parent);
            var writer = new TarWriter(destination, TarEntryFormat.Pax, leaveOpen: true);
            await using (writer.ConfigureAwait(false))
            {
                // Roots by name, folders' entries by ordinal name: the walk visits paths in FileIndex.PathOrder,
                // which lets it merge the parent's index as a stream.
                foreach (var (name, path) in _roots)
                {
                    if (!Directory.Exists(path) || new DirectoryInfo(path).LinkTarget is not null)
                    {
                        throw new DirectoryNotFoundException($"Backup path '{path}' is not a folder.");
                    }

                    await WriteDirectoryAsync(writer, run, path, name, relative: string.Empty, cancellationToken).ConfigureAwait(false);
                }
            }

            if (parent is not null)
            {
                // Read the parent's index to its end, where its checksums are verified.
                await parent.FinishAsync(cancellationToken).ConfigureAwait(false);
            }

            await index.FlushAsync(cancellationToken).ConfigureAwait(false);
            await index.DisposeAsync().ConfigureAwait(false);
            run.Record(context);
        }
        finally
        {
            if (parent is not null)
            {
                await parent.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task WriteDirectoryAsync(TarWriter writer, Run run, string path, string entryName, string relative, CancellationToken cancellationToken)
    {
        List<ListedEntry> children;
        try
        {
            children = DirectoryListing.Read(path);
        }
        catch (DirectoryNotFoundException)
        {
            run.Missing(entryName + "/");
            return;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            run.Unreadable(entryName + "/", ex, _options);
            return;
        }

        var directoryEntry = run.Entry(TarEntryType.Directory, entryName + "/", path, out var directoryStatus);
        await writer.WriteEntryAsync(directoryEntry, cancellationToken).ConfigureAwait(false);
        await run.AddToIndexAsync(directoryEntry, entryName, FileIndexEntry.Directory, directoryStatus, cancellationToken).ConfigureAwait(false);
        run.Directories++;
        foreach (var child in children)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var childRelative = relative.Length == 0 ? child.Name : $"{relative}/{child.Name}";
            var childEntry = $"{entryName}/{child.Name}";
            var childPath = Path.Join(path, child.Name);
            if (_exclude.Matches(childRelative))
            {
                run.Excluded++;
                continue;
            }

            if (!child.ValidName)
            {
                run.Unreadable(childEntry, new IOException(NotUtf8), _options);
                continue;
            }

            var type = child.Type;
            FileStatus? known = null;
            if (type == ListedType.Unknown && FileStatus.TryGet(childPath, out var listed))
            {
                known = listed;
                type = listed.IsSymbolicLink ? ListedType.SymbolicLink : listed.IsDirectory ? ListedType.Directory : listed.IsRegularFile ? ListedType.File : ListedType.Special;
            }

            if (type == ListedType.SymbolicLink)
            {
                if (_include.IsEmpty || _include.Matches(childRelative))
                {
                    await WriteSymbolicLinkAsync(writer, run, childPath, childEntry, cancellationToken).ConfigureAwait(false);
                }

                continue;
            }

            if (type == ListedType.Directory)
            {
                await WriteDirectoryAsync(writer, run, childPath, childEntry, childRelative, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (!_include.IsEmpty && !_include.Matches(childRelative))
            {
                run.Excluded++;
                continue;
            }

            if (type == ListedType.Special)
            {
                run.Event(childEntry, FileTreeEventKind.SkippedSpecial, "not a regular file, folder or link");
                run.SkippedSpecial++;
                continue;
            }

            await WriteFileAsync(writer, run, childPath, childEntry, known, cancellationToken).ConfigureAwait(false);
        }
    }

    private const string NotUtf8 = "its name is not valid UTF-8, which .NET cannot open; rename it to back it up";

    private static async Task WriteSymbolicLinkAsync(TarWriter writer, Run run, string path, string entryName, CancellationToken cancellationToken)
    {
        string? target;
        try
        {
            target = new FileInfo(path).LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            target = null;
        }

        if (target is null)
        {
            run.Missing(entryName); // gone, or no longer a link, since the folder was listed
            return;
        }

        var link = run.Entry(TarEntryType.SymbolicLink, entryName, path, out var linkStatus);
        link.LinkName = target;
        await writer.WriteEntryAsync(link, cancellationToken).ConfigureAwait(false);
        await run.AddToIndexAsync(link, entryName, FileIndexEntry.SymbolicLink, linkStatus, cancellationToken, target: target).ConfigureAwait(false);
        run.SymbolicLinks++;
    }

    private async Task WriteFileAsync(TarWriter writer, Run run, string path, string entryName, FileStatus? known, CancellationToken cancellationToken)
    {
        FileStatus status;
        bool hasStatus;
        if (known is { } given)
        {
            (status, hasStatus) = (given, true);
        }
        else
        {
            hasStatus = FileStatus.TryGet(path, out status);
        }
        if (!hasStatus && !File.Exists(path))
        {
            run.Missing(entryName);
            return;
        }

        if (hasStatus && !status.IsRegularFile)
        {
            run.Event(entryName, FileTreeEventKind.SkippedSpecial, "not a regular file, folder or link");
            run.SkippedSpecial++;
            return;
        }

        if (hasStatus && status.LinkCount > 1 && run.HardLinks.TryGetValue((status.Device, status.Inode), out var first))
        {
            var hardLink = run.Entry(TarEntryType.HardLink, entryName, path, status);
            hardLink.LinkName = first;
            await writer.WriteEntryAsync(hardLink, cancellationToken).ConfigureAwait(false);
            await run.AddToIndexAsync(hardLink, entryName, FileIndexEntry.HardLink, status, cancellationToken, target: first).ConfigureAwait(false);
            run.HardLinkCount++;
            return;
        }

        var previous = hasStatus && run.Parent is { } parentIndex ? await parentIndex.SeekAsync(entryName, cancellationToken).ConfigureAwait(false) : null;
        if (previous is { Type: FileIndexEntry.File } && Unchanged(previous, status) && (!_options.CompareContent || await SameContentAsync(path, previous, cancellationToken).ConfigureAwait(false)))
        {
            // Unchanged since the parent: its bytes stay where they are; the index points there.
            await run.Index.WriteAsync(previous, cancellationToken).ConfigureAwait(false);
            run.Unchanged++;
            run.Files++;
            run.Bytes += previous.Size;
            if (status.LinkCount > 1)
            {
                run.HardLinks[(status.Device, status.Inode)] = entryName;
            }

            return;
        }

        for (var attempt = 1; ; attempt++)
        {
            var opened = OpenedFile.Open(path, out var failure);
            if (opened is null)
            {
                switch (failure)
                {
                    case null:
                        run.Missing(entryName);
                        break;
                    case NotSupportedException:
                        run.Event(entryName, FileTreeEventKind.SkippedSpecial, "not a regular file, folder or link");
                        run.SkippedSpecial++;
                        break;
                    default:
                        run.Unreadable(entryName, failure, _options);
                        break;
                }

                return;
            }

            bool changed;
            PaxTarEntry entry;
            string sha256;
            var length = opened.Length;
            await using (opened.ConfigureAwait(false))
            {
                // What was opened is what is recorded: its status, taken from the open file.
                var current = opened.Status ?? (hasStatus ? status : null);
                if (_options.MaxFileSize is { } max && length > max)
                {
                    run.Event(entryName, FileTreeEventKind.SkippedTooLarge, $"{length} bytes, over the limit of {max}");
                    run.SkippedTooLarge++;
                    return;
                }

                using var data = new FixedLengthReadStream(opened.Stream, length);
                entry = run.Entry(TarEntryType.RegularFile, entryName, path, current);
                entry.DataStream = data;
                await writer.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
                sha256 = data.Sha256Hex();
                changed = data.SizeChanged || data.GrewBeyondLength() || opened.ChangedSinceOpen();
                status = current ?? status;
            }

            if (!changed || attempt == 2)
            {
                await run.AddToIndexAsync(entry, entryName, FileIndexEntry.File, status, cancellationToken, size: length, sha256: sha256).ConfigureAwait(false);
            }

            if (!changed)
            {
                run.Files++;
                run.Bytes += length;
                if (hasStatus && status.LinkCount > 1)
                {
                    run.HardLinks[(status.Device, status.Inode)] = entryName;
                }

                return;
            }

            if (attempt == 2)
            {
                // Kept as read the second time (a later tar entry for the same path replaces the first on restore).
                run.Event(entryName, FileTreeEventKind.ChangedWhileReading, "changed during both readings; the second is kept");
                run.ChangedWhileReading++;
                run.Files++;
                run.Bytes += length;
                return;
            }
        }
    }

    /// <summary>Same size, times, device and inode: ctime moves with every write, chmod, chown and rename.</summary>
    private static bool Unchanged(FileIndexEntry previous, FileStatus status) =>
        previous.Size == status.Size && previous.Mtime == status.ModifiedAt.UtcTicks && previous.Ctime == status.ChangedAt.UtcTicks
        && previous.Inode == status.Inode && previous.Device == status.Device;

    private static async Task<bool> SameContentAsync(string path, FileIndexEntry previous, CancellationToken cancellationToken)
    {
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0, FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false; // Not comparable: treat as changed, and let the normal read report what is wrong with it.
        }

        await using (file.ConfigureAwait(false))
        {
            var hash = await System.Security.Cryptography.SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false);
            return string.Equals(Convert.ToHexStringLower(hash), previous.Sha256, StringComparison.Ordinal);
        }
    }
}
