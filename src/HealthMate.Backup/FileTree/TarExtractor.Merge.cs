using System.Runtime.Versioning;

namespace HealthMate.Backup.FileTree;

/// <summary>Moving a verified, staged tree into the target.</summary>
[UnsupportedOSPlatform("windows")]
internal static partial class TarExtractor
{
    /// <summary>Moves the staged tree (a folder inside the target) into the target: each top-level entry renamed into
    /// place when the target holds nothing else, else merged entry by entry.</summary>
    private static void MoveIntoPlace(string staging, string target, bool overwrite, List<string> written)
    {
        if (!Session.HasContent(target))
        {
            foreach (var staged in new DirectoryInfo(staging).EnumerateFileSystemInfos())
            {
                var destination = Path.Combine(target, staged.Name);
                if (staged is DirectoryInfo { LinkTarget: null })
                {
                    Directory.Move(staged.FullName, destination);
                }
                else
                {
                    File.Move(staged.FullName, destination, overwrite: false);
                }

                written.Add(staged.Name);
            }

            return;
        }

        if (!overwrite)
        {
            throw new IOException($"The restore target '{target}' stopped being empty during the restore.");
        }

        Merge(staging, target, target, written);
    }

    private static void Merge(string stagedDirectory, string targetDirectory, string targetRoot, List<string> written)
    {
        foreach (var staged in new DirectoryInfo(stagedDirectory).EnumerateFileSystemInfos())
        {
            var destination = Path.Combine(targetDirectory, staged.Name);
            var relative = Path.GetRelativePath(targetRoot, destination);
            var existing = new FileInfo(destination);
            if (existing.LinkTarget is not null && staged is DirectoryInfo)
            {
                throw new UnsafeArchiveEntryException(relative, "the target has a symbolic link where the backup has a folder; it is not followed");
            }

            if (staged is DirectoryInfo { LinkTarget: null } directory)
            {
                if (File.Exists(destination))
                {
                    throw new IOException($"'{relative}' is a file in the target and a folder in the backup; remove it and restore again.");
                }

                Directory.CreateDirectory(destination);
                Merge(directory.FullName, destination, targetRoot, written);
                File.SetUnixFileMode(destination, File.GetUnixFileMode(directory.FullName));
                Directory.SetLastWriteTimeUtc(destination, directory.LastWriteTimeUtc);
                DurableTree.FlushFolder(destination);
                continue;
            }

            if (Directory.Exists(destination) && existing.LinkTarget is null)
            {
                throw new IOException($"'{relative}' is a folder in the target and a file in the backup; remove it and restore again.");
            }

            File.Move(staged.FullName, destination, overwrite: true);
            written.Add(relative.Replace(Path.DirectorySeparatorChar, '/'));
        }
    }
}
