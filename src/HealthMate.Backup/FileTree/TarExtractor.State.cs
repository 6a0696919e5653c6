using System.Formats.Tar;
using System.Runtime.Versioning;

namespace HealthMate.Backup.FileTree;

/// <summary>Per-extraction state: where the staging folder is, which folders are verified, and metadata to apply.</summary>
[UnsupportedOSPlatform("windows")]
internal static partial class TarExtractor
{
    /// <summary>What one extraction is doing.</summary>
    private sealed class State(string staging, DirectoryRestoreOptions options)
    {
        internal DirectoryRestoreOptions Options { get; } = options;

        private readonly PathFilter? _globs = options.IncludeGlobs.Count == 0 ? null : new PathFilter(options.IncludeGlobs);

        /// <summary>Whether a path is in the requested subset (folders above a selected file are created as needed).</summary>
        internal bool Includes(string relative) => (Options.Include is null || Options.Include(relative)) && (_globs is null || _globs.Matches(relative));

        internal DirectoryRestoreResult Outcome { get; } = new();

        private readonly HashSet<string> _verifiedFolders = new(StringComparer.Ordinal) { staging };

        /// <summary>One copy buffer for the whole extraction: a tree can hold a hundred thousand files.</summary>
        internal byte[] CopyBuffer { get; } = new byte[256 * 1024];

        internal List<(string Path, TarEntry Entry)> Directories { get; } = [];

        internal string? LastEntry { get; set; }

        internal string Resolve(string entryName, string relative)
        {
            var path = Path.GetFullPath(Path.Combine(staging, relative));
            if (!path.StartsWith(staging + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new UnsafeArchiveEntryException(entryName, "the path resolves outside the target");
            }

            return path;
        }

        /// <summary>Creates missing parent folders, refusing to pass through a symbolic link or a file.</summary>
        internal void EnsureParents(string entryName, string path)
        {
            var parent = Path.GetDirectoryName(path)!;
            if (_verifiedFolders.Contains(parent))
            {
                return;
            }

            EnsureNoSymbolicLinkOnTheWay(entryName, path);
            Directory.CreateDirectory(parent);
            _verifiedFolders.Add(parent);
        }

        internal void EnsureNoSymbolicLinkOnTheWay(string entryName, string path)
        {
            var current = staging;
            var relative = Path.GetRelativePath(staging, Path.GetDirectoryName(path)!);
            if (relative == ".")
            {
                return;
            }

            foreach (var segment in relative.Split(Path.DirectorySeparatorChar))
            {
                current = Path.Combine(current, segment);
                if (_verifiedFolders.Contains(current))
                {
                    // Verified as a real folder earlier: the staging folder is private, and no entry replaces a folder.
                    continue;
                }

                var info = new FileInfo(current);
                if (info.LinkTarget is { } linkTarget)
                {
                    throw new UnsafeArchiveEntryException(entryName, $"it would be written through the symbolic link '{Path.GetRelativePath(staging, current)}' (-> '{linkTarget}')");
                }

                if (info.Exists)
                {
                    throw new UnsafeArchiveEntryException(entryName, $"'{Path.GetRelativePath(staging, current)}' is a file, not a folder");
                }

                if (Directory.Exists(current))
                {
                    _verifiedFolders.Add(current);
                }
            }
        }

        /// <summary>A later entry for the same path replaces an earlier file or link (tar semantics), never a folder, and never follows a link.</summary>
        internal void ReplaceExisting(string entryName, string path, bool isDirectory)
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null || info.Exists)
            {
                File.Delete(path);
            }
            else if (Directory.Exists(path) && !isDirectory)
            {
                throw new UnsafeArchiveEntryException(entryName, "a file entry would replace a folder");
            }
        }

        internal void ApplyMetadata(TarEntry entry, string path)
        {
            File.SetUnixFileMode(path, Mode(entry));
            File.SetLastWriteTimeUtc(path, entry.ModificationTime.UtcDateTime);
            ApplyOwner(entry, path);
        }

        internal void ApplyOwner(TarEntry entry, string path)
        {
            if (Options.RestoreOwnership && FileSystemNative.IsRoot && entry is PosixTarEntry posix)
            {
                FileSystemNative.SetOwner(path, posix.Uid, posix.Gid);
            }
        }

        /// <summary>Folder modes and times last, deepest first, so a read-only folder does not block its children.</summary>
        internal void ApplyDirectoryMetadata()
        {
            foreach (var (path, entry) in Directories.OrderByDescending(d => d.Path.Length))
            {
                ApplyOwner(entry, path);
                File.SetUnixFileMode(path, Mode(entry) | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                Directory.SetLastWriteTimeUtc(path, entry.ModificationTime.UtcDateTime);
            }
        }

        private UnixFileMode Mode(TarEntry entry) => Options.RestoreSetIdBits ? entry.Mode : entry.Mode & ~SetIdBits;
    }
}
