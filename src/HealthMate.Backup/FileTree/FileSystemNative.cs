using System.Runtime.InteropServices;

namespace HealthMate.Backup.FileTree;

/// <summary>POSIX calls .NET has no API for: hard links and ownership (without following symbolic links).</summary>
internal static partial class FileSystemNative
{
    internal static bool IsRoot => OperatingSystem.IsLinux() && GetEffectiveUserId() == 0;

    internal static void CreateHardLink(string existing, string path)
    {
        if (Link(existing, path) != 0)
        {
            throw new IOException($"Cannot create hard link '{path}' to '{existing}' (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    internal static void SetOwner(string path, int uid, int gid)
    {
        if (LChown(path, uid, gid) != 0)
        {
            throw new IOException($"Cannot set the owner of '{path}' to {uid}:{gid} (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string path);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChown(string path, int uid, int gid);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
