using System.Runtime.Versioning;
using HealthMate.Backup.Storage.Local;

namespace HealthMate.Backup.FileTree;

/// <summary>
/// Flushes a restored tree to disk before the restore reports success, as PostgreSQL does with its data directory:
/// every regular file, then every folder deepest first (so the entries naming the files are durable too). Symbolic
/// links have no data of their own; the folder that holds them is flushed. Files were given to writeback as they were
/// written, so this mostly waits for what is already on its way.
/// </summary>
[UnsupportedOSPlatform("windows")]
internal static class DurableTree
{
    internal static void Flush(string root)
    {
        // Walked by hand, never into a symbolic link: a restored link may point anywhere (even at "/").
        var folders = new List<string>();
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.TryPop(out var folder))
        {
            folders.Add(folder);
            foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false }))
            {
                if (entry.LinkTarget is not null)
                {
                    continue;
                }

                if (entry is DirectoryInfo)
                {
                    pending.Push(entry.FullName);
                }
                else
                {
                    NativeMethods.FlushFile(entry.FullName);
                }
            }
        }

        foreach (var folder in folders.OrderByDescending(f => f.Length))
        {
            FlushFolder(folder);
        }
    }

    internal static void FlushFolder(string folder) => NativeMethods.FlushDirectory(folder);
}
