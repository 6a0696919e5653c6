using System.Formats.Tar;
using System.Runtime.Versioning;

namespace HealthMate.Backup.FileTree;

/// <summary>
/// Restores a tar stream into a directory safely. Entries are written into a staging folder inside the target (on the
/// target's own file system, which may be a mount point), and the stream is read to its end (where the pipeline checks
/// every checksum) before anything is moved into place, so a failed or tampered restore writes nothing there. Every
/// restored file and folder is flushed to disk before the restore reports success. Refused: absolute paths, <c>..</c> segments, writes through a
/// symbolic link, hard links to anything but an already restored regular file, device nodes and FIFOs, sparse entries.
/// </summary>
[UnsupportedOSPlatform("windows")]
internal static partial class TarExtractor
{
    private const UnixFileMode SetIdBits = UnixFileMode.SetUser | UnixFileMode.SetGroup;
    private const long MaxPaxRecordBytes = 1024 * 1024;

    internal static async Task<DirectoryRestoreResult> ExtractAsync(Stream archive, string target, DirectoryRestoreOptions options, CancellationToken cancellationToken)
    {
        using var session = Session.Begin(target, options);
        await session.ExtractAsync(archive, filter: null, cancellationToken).ConfigureAwait(false);
        return session.Commit();
    }

    /// <summary>
    /// One restore into a folder, possibly from several archives (a backup chain): each archive is extracted into the
    /// same staging folder, read to its end, and the whole tree is moved into place once, by <see cref="Commit"/>.
    /// Disposing an uncommitted session removes the staging folder.
    /// </summary>
    internal sealed class Session : IDisposable
    {
        /// <summary>The staging folder's name prefix; entries of the target with it are a restore in progress, not content.</summary>
        internal const string StagingPrefix = ".hmb-restoring-";

        private readonly string _target;
        private readonly string _staging;
        private readonly bool _createdTarget;
        private readonly State _state;
        private readonly List<string> _written = [];
        private bool _committed;

        private Session(string target, string staging, bool createdTarget, DirectoryRestoreOptions options)
        {
            _target = target;
            _staging = staging;
            _createdTarget = createdTarget;
            _state = new State(staging, options);
        }

        internal static Session Begin(string target, DirectoryRestoreOptions options)
        {
            var targetPath = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
            if (Path.GetDirectoryName(targetPath) is null)
            {
                throw new ArgumentException("The restore target cannot be a file system root.", nameof(target));
            }

            if (File.Exists(targetPath) || new FileInfo(targetPath).LinkTarget is not null)
            {
                throw new DirectoryRestoreException($"The restore target '{targetPath}' is a file or a symbolic link, not a folder.", [], null);
            }

            var createdTarget = !Directory.Exists(targetPath);
            if (createdTarget)
            {
                Directory.CreateDirectory(targetPath);
            }
            else
            {
                if (HasContent(targetPath) && !options.Overwrite)
                {
                    throw new DirectoryRestoreException($"The restore target '{targetPath}' is not empty; restore into an empty folder or allow overwriting.", [], null);
                }

                RemoveAbandonedStaging(targetPath); // only once this restore goes ahead
            }

            // Staged inside the target: the same file system (a mount point included), so moving into place is a rename.
            var staging = Path.Combine(targetPath, StagingPrefix + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return new Session(targetPath, staging, createdTarget, options);
        }

        /// <summary>Extracts the entries of one archive that pass <paramref name="filter"/> (relative path, entry), reading it to its end.</summary>
        internal async Task ExtractAsync(Stream archive, Func<string, TarEntry, ValueTask<bool>>? filter, CancellationToken cancellationToken)
        {
            try
            {
                using (var reader = new TarReader(archive, leaveOpen: true))
                {
                    while (await NextEntryAsync(reader, _state.LastEntry, cancellationToken).ConfigureAwait(false) is { } entry)
                    {
                        _state.LastEntry = entry.Name;
                        await ExtractEntryAsync(entry, _state, filter, cancellationToken).ConfigureAwait(false);
                    }
                }

                // Read to the end: the restore pipeline verifies size and SHA-256 there, before it reports the end.
                await archive.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not DirectoryRestoreException)
            {
                // Boundary: every failure reports what reached the target (nothing: it is still staged).
                throw Failure(ex);
            }
        }

        /// <summary>Applies folder metadata, flushes every staged file and folder to disk, moves the tree into the
        /// target and flushes the folders whose entries changed: once this returns, the restored tree survives a power loss.</summary>
        internal DirectoryRestoreResult Commit()
        {
            try
            {
                // Flushed while every staged folder can still be opened (its own mode is applied after).
                DurableTree.Flush(_staging);
                _state.ApplyDirectoryMetadata();
                MoveIntoPlace(_staging, _target, _state.Options.Overwrite, _written);
                _committed = true;
                Directory.Delete(_staging, recursive: true); // only the folders a merge emptied remain
                DurableTree.FlushFolder(_target);
                if (_createdTarget)
                {
                    DurableTree.FlushFolder(Path.GetDirectoryName(_target)!);
                }

                return _state.Outcome;
            }
            catch (Exception ex) when (ex is not DirectoryRestoreException)
            {
                // Boundary: a failure during the merge reports exactly which paths reached the target.
                throw Failure(ex);
            }
        }

        public void Dispose()
        {
            if (Directory.Exists(_staging))
            {
                Directory.Delete(_staging, recursive: true);
            }

            if (!_committed && _createdTarget && Directory.Exists(_target) && !Directory.EnumerateFileSystemEntries(_target).Any())
            {
                Directory.Delete(_target);
            }
        }

        /// <summary>Whether a folder holds anything but restores in progress.</summary>
        internal static bool HasContent(string folder) =>
            Directory.EnumerateFileSystemEntries(folder).Any(e => !Path.GetFileName(e).StartsWith(StagingPrefix, StringComparison.Ordinal));

        /// <summary>Removes what a restore killed before it finished left in the target (one restore into a folder at a time).</summary>
        private static void RemoveAbandonedStaging(string target)
        {
            foreach (var abandoned in Directory.EnumerateDirectories(target, StagingPrefix + "*"))
            {
                Directory.Delete(abandoned, recursive: true);
            }
        }

        private DirectoryRestoreException Failure(Exception ex)
        {
            var where = _written.Count == 0 ? "nothing was written to the target" : $"{_written.Count} path(s) were written to the target before the failure";
            return new DirectoryRestoreException($"Restore into '{_target}' failed ({where}): {ex.Message}", [.. _written], ex);
        }
    }

    private static async Task<TarEntry?> NextEntryAsync(TarReader reader, string? previous, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or ArgumentException or OverflowException or EndOfStreamException)
        {
            var after = previous is null ? "at its first entry" : $"after entry '{previous}'";
            throw new BackupFormatException($"The archive is malformed {after}: {ex.Message}", ex);
        }
    }

    private static async Task ExtractEntryAsync(TarEntry entry, State state, Func<string, TarEntry, ValueTask<bool>>? filter, CancellationToken cancellationToken)
    {
        ValidatePaxAttributes(entry);
        if (entry.EntryType == TarEntryType.GlobalExtendedAttributes)
        {
            return;
        }

        if (entry.EntryType == TarEntryType.SparseFile || (entry is PaxTarEntry pax && pax.ExtendedAttributes.Keys.Any(k => k.StartsWith("GNU.sparse.", StringComparison.Ordinal))))
        {
            throw new UnsafeArchiveEntryException(entry.Name, "sparse entries are not supported (they could expand to far more than their stored size)");
        }

        var relative = SafeRelativePath(entry.Name, entry.Name);
        if (relative is null)
        {
            return; // the archive's root itself ("." or an empty name)
        }

        if (filter is not null && !await filter(relative, entry).ConfigureAwait(false))
        {
            return;
        }

        if (!state.Includes(relative))
        {
            return;
        }

        var path = state.Resolve(entry.Name, relative);
        state.EnsureParents(entry.Name, path);
        switch (entry.EntryType)
        {
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                state.ReplaceExisting(entry.Name, path, isDirectory: false);
                var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite });
                await using (file.ConfigureAwait(false))
                {
                    var copied = entry.DataStream is { } data ? await CopyCountingAsync(data, file, state.CopyBuffer, cancellationToken).ConfigureAwait(false) : 0;
                    if (copied != entry.Length)
                    {
                        throw new BackupFormatException($"Archive entry '{entry.Name}' is cut short: {copied} of its {entry.Length} bytes are present.");
                    }

                    // Start writing it back now, so the flush before the commit finds little left to do.
                    await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                    Storage.Local.NativeMethods.StartWriteback(file.SafeFileHandle, 0, copied);
                }

                state.ApplyMetadata(entry, path);
                state.Outcome.Files++;
                state.Outcome.Bytes += entry.Length;
                break;
            case TarEntryType.Directory or TarEntryType.DirectoryList:
                if (File.Exists(path) || new FileInfo(path).LinkTarget is not null)
                {
                    throw new UnsafeArchiveEntryException(entry.Name, "a directory entry would replace a file or symbolic link");
                }

                Directory.CreateDirectory(path);
                state.Directories.Add((path, entry));
                state.Outcome.Directories++;
                break;
            case TarEntryType.SymbolicLink:
                if (string.IsNullOrEmpty(entry.LinkName) || entry.LinkName.Contains('\0', StringComparison.Ordinal))
                {
                    throw new UnsafeArchiveEntryException(entry.Name, "its symbolic link target is empty or contains NUL");
                }

                state.ReplaceExisting(entry.Name, path, isDirectory: false);
                File.CreateSymbolicLink(path, entry.LinkName);
                state.ApplyOwner(entry, path);
                state.Outcome.SymbolicLinks++;
                break;
            case TarEntryType.HardLink:
                var linkRelative = SafeRelativePath(entry.LinkName, entry.Name) ?? throw new UnsafeArchiveEntryException(entry.Name, "its hard link target is empty");
                var existing = state.Resolve(entry.Name, linkRelative);
                state.EnsureNoSymbolicLinkOnTheWay(entry.Name, existing);
                var info = new FileInfo(existing);
                if (!info.Exists || info.LinkTarget is not null)
                {
                    throw new UnsafeArchiveEntryException(entry.Name, $"its hard link target '{entry.LinkName}' is not a regular file restored earlier from this archive");
                }

                state.ReplaceExisting(entry.Name, path, isDirectory: false);
                FileSystemNative.CreateHardLink(existing, path);
                state.Outcome.HardLinks++;
                break;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                throw new UnsafeArchiveEntryException(entry.Name, $"device nodes and FIFOs ({entry.EntryType}) are not restored");
            default:
                throw new UnsafeArchiveEntryException(entry.Name, $"entry type {entry.EntryType} is not supported");
        }
    }

    /// <summary>Rejects broken pax records the reader tolerates: NUL in keys (or in values other than xattrs), times that are not decimal
    /// numbers, and oversized headers.</summary>
    private static void ValidatePaxAttributes(TarEntry entry)
    {
        IReadOnlyDictionary<string, string>? attributes = entry switch
        {
            PaxGlobalExtendedAttributesTarEntry global => global.GlobalExtendedAttributes,
            PaxTarEntry pax => pax.ExtendedAttributes,
            _ => null,
        };
        if (attributes is null)
        {
            return;
        }

        long size = 0;
        foreach (var (key, value) in attributes)
        {
            size += key.Length + value.Length;
            // Extended attribute values are binary and may hold NUL; keys and other values may not (Go's archive/tar rule).
            if (key.Contains('\0', StringComparison.Ordinal) || (value.Contains('\0', StringComparison.Ordinal) && !key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal)))
            {
                throw new BackupFormatException($"Archive entry '{entry.Name}' has a pax record with a NUL character ('{key.Replace("\0", "\\0", StringComparison.Ordinal)}').");
            }

            if (key is "mtime" or "atime" or "ctime" && !PaxTime().IsMatch(value))
            {
                throw new BackupFormatException($"Archive entry '{entry.Name}' has a pax {key} record that is not a decimal number.");
            }
        }

        if (size > MaxPaxRecordBytes)
        {
            throw new BackupFormatException($"Archive entry '{entry.Name}' has {size} bytes of pax records; the limit is {MaxPaxRecordBytes}.");
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^-?[0-9]{1,30}(\.[0-9]{1,30})?$")]
    private static partial System.Text.RegularExpressions.Regex PaxTime();

    private static async ValueTask<long> CopyCountingAsync(Stream source, Stream destination, byte[] buffer, CancellationToken cancellationToken)
    {
        long total = 0;
        int read;
        while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            total += read;
        }

        return total;
    }

    /// <summary>Normalizes an archive path to a relative, '/'-separated path inside the target, or refuses it.
    /// Returns null for the archive root itself.</summary>
    internal static string? SafeRelativePath(string name, string entryName)
    {
        if (name.Contains('\0', StringComparison.Ordinal))
        {
            throw new UnsafeArchiveEntryException(entryName, "the path contains a NUL character");
        }

        if (name.StartsWith('/') || (name.Length >= 2 && name[1] == ':' && char.IsAsciiLetter(name[0])))
        {
            throw new UnsafeArchiveEntryException(entryName, "the path is absolute");
        }

        var segments = new List<string>();
        foreach (var segment in name.Split('/'))
        {
            if (segment == "..")
            {
                throw new UnsafeArchiveEntryException(entryName, "the path has a '..' segment");
            }

            if (segment.Length > 0 && segment != ".")
            {
                segments.Add(segment);
            }
        }

        return segments.Count == 0 ? null : string.Join('/', segments);
    }
}
