using System.Runtime.CompilerServices;

namespace HealthMate.Backup.Storage.Local;

/// <summary>
/// Stores objects as files under a root folder. A write goes to a temporary file in the target folder, is flushed to
/// disk, and is renamed into place with <c>renameat2(RENAME_NOREPLACE)</c> (never replacing an existing file unless
/// asked, atomically even when writers race); the folder is then flushed too. Files are created 0600 and folders 0700
/// whatever the process umask: a backup is readable by its owner only.
/// </summary>
internal sealed class LocalDiskStorageProvider : IStorageProvider
{
    internal const UnixFileMode ObjectFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    internal const UnixFileMode ObjectFolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _root;
    private readonly bool _flushToDisk;

    internal LocalDiskStorageProvider(LocalStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path);
        if (!Path.IsPathFullyQualified(options.Path))
        {
            throw new ArgumentException($"The local storage path '{options.Path}' is relative; use an absolute path.", nameof(options));
        }

        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.Path)) + Path.DirectorySeparatorChar;
        _flushToDisk = options.FlushToDisk;
    }

    public string Name => "local";

    internal string Root => _root;

    public ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        var path = Resolve(key);
        cancellationToken.ThrowIfCancellationRequested();
        var directory = Path.GetDirectoryName(path)!;
        try
        {
            CreateFolder(directory);
            var temporary = Path.Combine(directory, $"{StorageKey.TemporaryPrefix}{Guid.NewGuid():N}");
            var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 0 };
            if (!OperatingSystem.IsWindows())
            {
                create.UnixCreateMode = ObjectFileMode;
            }

            var stream = new FileStream(temporary, create);
            return ValueTask.FromResult<IStorageWriter>(new Writer(this, key, path, temporary, stream, options?.Overwrite ?? false));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StorageException($"Storage '{Name}' cannot start writing '{key}': {ex.Message}", key, isTransient: false, ex);
        }
    }

    public ValueTask<Stream> OpenReadAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default)
    {
        var path = Resolve(key);
        cancellationToken.ThrowIfCancellationRequested();
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StorageObjectNotFoundException(Name, key, ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StorageException($"Storage '{Name}' cannot read '{key}': {ex.Message}", key, isTransient: false, ex);
        }

        if (range is not { } r)
        {
            return ValueTask.FromResult<Stream>(stream);
        }

        stream.Seek(Math.Min(r.Offset, stream.Length), SeekOrigin.Begin);
        return ValueTask.FromResult<Stream>(r.Length is { } length ? new BoundedReadStream(stream, length) : stream);
    }

    public async IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Contains('\\', StringComparison.Ordinal) || prefix.StartsWith('/') || prefix.Split('/').Any(s => s is "." or ".."))
        {
            throw new ArgumentException($"Invalid storage prefix '{prefix}'.", nameof(prefix));
        }

        var lastSlash = prefix.LastIndexOf('/');
        var directory = lastSlash < 0 ? _root : Path.Combine(_root, prefix[..lastSlash]);
        if (!Directory.Exists(directory))
        {
            yield break;
        }

        var keys = new List<(string Key, FileInfo File)>();
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false }))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (file.Name.StartsWith(StorageKey.TemporaryPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            var key = Path.GetRelativePath(_root, file.FullName).Replace(Path.DirectorySeparatorChar, '/');
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                keys.Add((key, file));
            }
        }

        keys.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        foreach (var (key, file) in keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new StorageObjectInfo(key, file.Length, file.LastWriteTimeUtc);
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    public ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default)
    {
        var file = new FileInfo(Resolve(key));
        return ValueTask.FromResult(file.Exists ? new StorageObjectInfo(key, file.Length, file.LastWriteTimeUtc) : null);
    }

    public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = Resolve(key);
        cancellationToken.ThrowIfCancellationRequested();
        if (!File.Exists(path))
        {
            return ValueTask.FromResult(false);
        }

        try
        {
            File.Delete(path);
            if (_flushToDisk)
            {
                NativeMethods.FlushDirectory(Path.GetDirectoryName(path)!);
            }

            RemoveEmptyParents(Path.GetDirectoryName(path)!);
            return ValueTask.FromResult(true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StorageException($"Storage '{Name}' cannot delete '{key}': {ex.Message}", key, isTransient: false, ex);
        }
    }

    public async ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        var writer = await OpenWriteAsync(key, new StorageWriteOptions { Overwrite = false }, cancellationToken).ConfigureAwait(false);
        await using (writer.ConfigureAwait(false))
        {
            await writer.WriteAsync(content, cancellationToken).ConfigureAwait(false);
            try
            {
                await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (StorageObjectExistsException)
            {
                return false;
            }
        }
    }

    /// <summary>Removes temporary files (<c>.hmb-tmp-*</c>) last written before <paramref name="startedBefore"/>: what
    /// writers killed before they could commit or abort left behind. A running write touches its file as it goes.</summary>
    public ValueTask<int> RemoveAbandonedWritesAsync(string prefix, DateTimeOffset startedBefore, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var removed = 0;
        var lastSlash = prefix.LastIndexOf('/');
        var folder = lastSlash < 0 ? _root : Resolve(prefix[..lastSlash]);
        if (!Directory.Exists(folder))
        {
            return ValueTask.FromResult(0);
        }

        foreach (var file in new DirectoryInfo(folder).EnumerateFiles(StorageKey.TemporaryPrefix + "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (file.LinkTarget is null && file.LastWriteTimeUtc < startedBefore.UtcDateTime)
            {
                try
                {
                    file.Delete();
                    removed++;
                    RemoveEmptyParents(file.DirectoryName!);
                }
                catch (IOException)
                {
                    // Gone already (another clean-up), or the folder is busy: the next run tries again.
                }
            }
        }

        return ValueTask.FromResult(removed);
    }

    /// <summary>Maps a key to a path under the root, refusing anything that would leave it.</summary>
    internal string Resolve(string key)
    {
        StorageKey.Validate(key);
        var path = Path.GetFullPath(Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar)));
        if (!path.StartsWith(_root, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Invalid storage key '{key}': it resolves outside the storage root.", nameof(key));
        }

        return path;
    }

    /// <summary>Creates a folder and its missing parents owner-only, whatever the umask (mkdir applies it to the mode).</summary>
    private static void CreateFolder(string directory)
    {
        if (Directory.Exists(directory))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            return;
        }

        var missing = new Stack<string>();
        for (var current = directory; !Directory.Exists(current); current = Path.GetDirectoryName(current)!)
        {
            missing.Push(current);
        }

        foreach (var folder in missing)
        {
            Directory.CreateDirectory(folder, ObjectFolderMode);
            File.SetUnixFileMode(folder, ObjectFolderMode);
        }
    }

    private void RemoveEmptyParents(string directory)
    {
        while (directory.Length > _root.Length && directory.StartsWith(_root, StringComparison.Ordinal))
        {
            try
            {
                if (Directory.EnumerateFileSystemEntries(directory).Any())
                {
                    return;
                }

                Directory.Delete(directory);
            }
            catch (IOException)
            {
                return; // Another writer just created something here; leaving a folder is harmless.
            }

            directory = Path.GetDirectoryName(directory)!;
        }
    }

    private sealed class Writer(LocalDiskStorageProvider owner, string key, string path, string temporary, FileStream stream, bool overwrite) : IStorageWriter
    {
        private WritebackScheduler _writeback;
        private bool _committed;
        private bool _disposed;

        public string Key => key;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_disposed || _committed, this);
            try
            {
                await stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw new StorageException($"Storage '{owner.Name}' failed writing '{key}': {ex.Message}", key, isTransient: false, ex);
            }

            if (owner._flushToDisk)
            {
                _writeback.Wrote(stream.SafeFileHandle, data.Length);
            }
        }

        public async ValueTask<StorageObjectInfo> CommitAsync(CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_disposed || _committed, this);
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (owner._flushToDisk)
                {
                    stream.Flush(flushToDisk: true);
                }

                var size = stream.Length;
                await stream.DisposeAsync().ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                if (overwrite)
                {
                    File.Move(temporary, path, overwrite: true);
                }
                else if (!NativeMethods.MoveNoReplace(temporary, path))
                {
                    // Atomic: two writers racing for one key cannot both commit, and a committed object is never replaced.
                    throw new StorageObjectExistsException(owner.Name, key, null);
                }

                _committed = true;
                if (owner._flushToDisk)
                {
                    NativeMethods.FlushDirectory(Path.GetDirectoryName(path)!);
                }

                return new StorageObjectInfo(key, size, File.GetLastWriteTimeUtc(path));
            }
            catch (IOException ex)
            {
                throw new StorageException($"Storage '{owner.Name}' failed committing '{key}': {ex.Message}", key, isTransient: false, ex);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            await stream.DisposeAsync().ConfigureAwait(false);
            if (!_committed)
            {
                try
                {
                    File.Delete(temporary);
                    owner.RemoveEmptyParents(Path.GetDirectoryName(temporary)!);
                }
                catch (IOException)
                {
                    // The temporary name is invisible to List and Stat; a later cleanup removes it.
                }
            }
        }
    }
}
