using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace HealthMate.Backup.FileTree;

/// <summary>POSIX calls .NET has no API for: hard links, ownership (without following symbolic links), and opening a
/// file for backup without following a link or taking a lock.</summary>
internal static partial class FileSystemNative
{
    internal const int NoSuchEntry = 2;
    internal const int TooManyLinks = 40; // ELOOP: O_NOFOLLOW met a symbolic link
    private const int ReadOnlyNoTtyNonBlockCloseOnExec = 0x100 | 0x800 | 0x80000;

    /// <summary>
    /// Opens a file to back it up: read-only, never through a symbolic link (a file swapped for a link after it was
    /// listed is not followed), non-blocking (a file swapped for a FIFO does not hang the walk), close-on-exec, and
    /// without the advisory lock .NET's FileStream takes. Returns null with the errno when it cannot.
    /// </summary>
    internal static SafeFileHandle? OpenForBackup(string path, out int errno)
    {
        var handle = Open(path, ReadOnlyNoTtyNonBlockCloseOnExec | Storage.Local.NativeMethods.NoFollow);
        if (handle.IsInvalid)
        {
            errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            return null;
        }

        errno = 0;
        return handle;
    }

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

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial SafeFileHandle Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string path);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChown(string path, int uid, int gid);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
