using System.Formats.Tar;
using System.Globalization;

namespace HealthMate.Backup.FileTree;

/// <summary>The state of one file-tree backup run: counts, the index being written, the parent's being read, events.</summary>
internal sealed partial class FileTreeSource
{
    /// <summary>Counts and state of one backup run.</summary>
    private sealed class Run(FileTreeSourceOptions options, string backupId, FileIndex.Writer index, FileIndex.Cursor? parent)
    {
        /// <summary>The parent's index, walked alongside; null for a full backup.</summary>
        internal FileIndex.Cursor? Parent { get; } = parent;

        internal FileIndex.Writer Index { get; } = index;

        internal long Unchanged { get; set; }

        /// <summary>Adds a path to the index, with the status taken once when the entry was made (one lstat per path).</summary>
        internal ValueTask AddToIndexAsync(PaxTarEntry entry, string path, string type, FileStatus status, CancellationToken cancellationToken, string? target = null, long size = 0, string? sha256 = null) =>
            Index.WriteAsync(
                new FileIndexEntry
            {
                Path = path,
                Type = type,
                Size = size,
                Mtime = entry.ModificationTime.UtcTicks,
                Mode = (int)entry.Mode,
                Uid = entry.Uid,
                Gid = entry.Gid,
                Target = target,
                Sha256 = sha256,
                Holder = type == FileIndexEntry.File ? backupId : null,
                Device = status.Device,
                Inode = status.Inode,
                Ctime = status.ChangedAt.UtcTicks,
            },
                cancellationToken);

        internal Dictionary<(long Device, long Inode), string> HardLinks { get; } = [];

        internal long Files { get; set; }

        internal long Directories { get; set; }

        internal long SymbolicLinks { get; set; }

        internal long HardLinkCount { get; set; }

        internal long Bytes { get; set; }

        internal long Excluded { get; set; }

        internal long SkippedTooLarge { get; set; }

        internal long SkippedUnreadable { get; set; }

        internal long SkippedSpecial { get; set; }

        internal long ChangedWhileReading { get; set; }

        internal PaxTarEntry Entry(TarEntryType type, string name, string path, out FileStatus status) =>
            Entry(type, name, path, FileStatus.TryGet(path, out status) ? status : null);

        /// <summary>A tar entry with the path's mode, time and owner, from a status already taken when there is one.</summary>
        internal PaxTarEntry Entry(TarEntryType type, string name, string path, FileStatus? known)
        {
            var entry = new PaxTarEntry(type, name);
            if (known is { } status)
            {
                entry.Mode = type == TarEntryType.SymbolicLink ? (UnixFileMode)0x1FF : status.Permissions;
                entry.ModificationTime = status.ModifiedAt;
                entry.Uid = status.Uid;
                entry.Gid = status.Gid;
            }
            else if (File.Exists(path) || Directory.Exists(path))
            {
                var info = new FileInfo(path);
                entry.ModificationTime = info.LastWriteTimeUtc;
                entry.Mode = type == TarEntryType.SymbolicLink ? (UnixFileMode)0x1FF : File.GetUnixFileMode(path);
            }

            return entry;
        }

        internal void Event(string path, FileTreeEventKind kind, string detail) => options.OnEvent?.Invoke(new FileTreeEvent(path, kind, detail));

        internal long Vanished { get; set; }

        /// <summary>A listed entry that is gone (or no longer what it was) when the walk comes to it.</summary>
        internal void Missing(string path)
        {
            Event(path, FileTreeEventKind.Vanished, "listed, then gone before it was read");
            Vanished++;
        }

        internal void Unreadable(string path, Exception error, FileTreeSourceOptions settings)
        {
            if (settings.OnUnreadable == UnreadableFileHandling.Fail)
            {
                throw new IOException($"'{path}' cannot be read ({error.Message}); the backup was stopped because OnUnreadable is Fail.", error);
            }

            Event(path, FileTreeEventKind.SkippedUnreadable, error is IOException { Message: var message } && message.Contains("UTF-8", StringComparison.Ordinal) ? message : error.GetType().Name);
            SkippedUnreadable++;
        }

        internal void Record(BackupContext context)
        {
            void Put(string key, long value) => context.Properties[key] = value.ToString(CultureInfo.InvariantCulture);
            Put("files.count", Files);
            Put("files.directories", Directories);
            Put("files.symlinks", SymbolicLinks);
            Put("files.hardlinks", HardLinkCount);
            Put("files.bytes", Bytes);
            Put("files.excluded", Excluded);
            Put("files.skipped.too-large", SkippedTooLarge);
            Put("files.skipped.unreadable", SkippedUnreadable);
            Put("files.skipped.special", SkippedSpecial);
            Put("files.changed-while-reading", ChangedWhileReading);
            Put("files.unchanged", Unchanged);
            Put("files.vanished", Vanished);
        }
    }
}
