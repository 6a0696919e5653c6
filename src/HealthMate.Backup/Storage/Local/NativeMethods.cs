using System.Runtime.InteropServices;

namespace HealthMate.Backup.Storage.Local;

/// <summary>fsync of a directory, so a rename survives a power loss. .NET has no API for it.</summary>
internal static partial class NativeMethods
{
    private const int ReadOnlyDirectory = 0x10000; // O_RDONLY | O_DIRECTORY on Linux

    internal static void FlushDirectory(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = Open(path, ReadOnlyDirectory);
        if (fd < 0)
        {
            throw new IOException($"Cannot open folder '{path}' to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"Cannot flush folder '{path}' to disk (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>fsync of a file by path (read-only, never through a symbolic link): what a restore wrote reaches the disk.</summary>
    internal static void FlushFile(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // O_RDONLY (or O_WRONLY, never truncating, for a file restored write-only) | O_CLOEXEC | O_NOFOLLOW. A file restored
        // with no permission for its owner (mode 0000), when not root, is given read permission for the flush only.
        var noFollow = NoFollow;
        var fd = Open(path, 0x80000 | noFollow);
        if (fd < 0 && Marshal.GetLastPInvokeError() == PermissionDenied)
        {
            fd = Open(path, 0x80000 | noFollow | WriteOnly);
        }

        var error = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        if (fd < 0 && error == PermissionDenied && !OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            File.SetUnixFileMode(path, mode | UnixFileMode.UserRead);
            fd = Open(path, 0x80000 | noFollow);
            error = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
            File.SetUnixFileMode(path, mode);
        }

        if (fd < 0)
        {
            throw new IOException($"Cannot open '{path}' to flush it (errno {error}).");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"Cannot flush '{path}' to disk (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Starts writeback of a range without waiting for it (Linux <c>sync_file_range(SYNC_FILE_RANGE_WRITE)</c>),
    /// so the fsync at commit has little left to do. Best effort: an error here only means the fsync does more work.</summary>
    internal static void StartWriteback(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, long length)
    {
        if (!OperatingSystem.IsLinux() || handle.IsInvalid || handle.IsClosed)
        {
            return;
        }

        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            _ = SyncFileRange((int)handle.DangerousGetHandle(), offset, length, SyncFileRangeWrite);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private const uint SyncFileRangeWrite = 2;

    [LibraryImport("libc", EntryPoint = "sync_file_range")]
    private static partial int SyncFileRange(int fd, long offset, long nbytes, uint flags);

    /// <summary>
    /// Renames <paramref name="from"/> to <paramref name="to"/> only if <paramref name="to"/> does not exist, atomically:
    /// Linux <c>renameat2(RENAME_NOREPLACE)</c>, or <c>link</c> + <c>unlink</c> where the file system lacks it.
    /// (.NET's <c>File.Move(overwrite: false)</c> checks and then renames, so two racing writers can both succeed.)
    /// </summary>
    /// <returns><see langword="false"/> if <paramref name="to"/> already existed; nothing was changed then.</returns>
    internal static bool MoveNoReplace(string from, string to)
    {
        if (!OperatingSystem.IsLinux())
        {
            if (File.Exists(to))
            {
                return false;
            }

            File.Move(from, to, overwrite: false);
            return true;
        }

        if (RenameAt2(AtCurrentDirectory, from, AtCurrentDirectory, to, RenameNoReplace) == 0)
        {
            return true;
        }

        var error = Marshal.GetLastPInvokeError();
        if (error == ErrorExists)
        {
            return false;
        }

        if (error is not (ErrorNotSupported or ErrorInvalid or ErrorNoSystemCall))
        {
            throw new IOException($"Cannot move '{from}' to '{to}' (errno {error}).");
        }

        if (Link(from, to) != 0)
        {
            var linkError = Marshal.GetLastPInvokeError();
            return linkError == ErrorExists ? false : throw new IOException($"Cannot link '{from}' to '{to}' (errno {linkError}).");
        }

        File.Delete(from);
        return true;
    }

    /// <summary>O_NOFOLLOW, which differs by architecture: 0400000 on x86-64, 0100000 on arm64.</summary>
    internal static int NoFollow => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x8000 : 0x20000;

    private const int PermissionDenied = 13;
    private const int WriteOnly = 1;
    private const int AtCurrentDirectory = -100;
    private const uint RenameNoReplace = 1;
    private const int ErrorExists = 17;
    private const int ErrorInvalid = 22;
    private const int ErrorNoSystemCall = 38;
    private const int ErrorNotSupported = 95;

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int oldDirectory, string oldPath, int newDirectory, string newPath, uint flags);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string path);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
