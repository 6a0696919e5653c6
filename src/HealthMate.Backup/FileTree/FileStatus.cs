using System.Runtime.InteropServices;

namespace HealthMate.Backup.FileTree;

/// <summary>
/// <c>lstat(2)</c> of a path, without following symbolic links: what .NET's FileSystemInfo does not expose (owner,
/// device and inode for hard links, nanosecond times). Supported on Linux x64 and arm64; elsewhere <see cref="TryGet(string, out FileStatus)"/>
/// returns false and callers fall back to what .NET provides.
/// </summary>
internal readonly partial record struct FileStatus(long Device, long Inode, long LinkCount, uint Mode, int Uid, int Gid, long Size, DateTimeOffset ModifiedAt, DateTimeOffset ChangedAt)
{
    private const uint TypeMask = 0xF000;
    private const uint RegularType = 0x8000;
    private const uint DirectoryType = 0x4000;
    private const uint LinkType = 0xA000;

    internal bool IsRegularFile => (Mode & TypeMask) == RegularType;

    internal bool IsDirectory => (Mode & TypeMask) == DirectoryType;

    internal bool IsSymbolicLink => (Mode & TypeMask) == LinkType;

    internal UnixFileMode Permissions => (UnixFileMode)(Mode & 0xFFF);

    internal static bool IsSupported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    internal static unsafe bool TryGet(string path, out FileStatus status)
    {
        status = default;
        if (!IsSupported)
        {
            return false;
        }

        var buffer = stackalloc byte[256];
        if (LStat(path, buffer) != 0)
        {
            return false;
        }

        status = Parse(new ReadOnlySpan<byte>(buffer, 256));
        return true;
    }

    /// <summary><c>fstat(2)</c> of an open file: what was opened, whatever its path names now.</summary>
    internal static unsafe bool TryGet(Microsoft.Win32.SafeHandles.SafeFileHandle handle, out FileStatus status)
    {
        status = default;
        if (!IsSupported)
        {
            return false;
        }

        var buffer = stackalloc byte[256];
        if (FStat(handle, buffer) != 0)
        {
            return false;
        }

        status = Parse(new ReadOnlySpan<byte>(buffer, 256));
        return true;
    }

    private static FileStatus Parse(ReadOnlySpan<byte> span) =>
        RuntimeInformation.ProcessArchitecture == Architecture.X64 ? ParseX64(span) : ParseArm64(span);

    // struct stat on x86_64 glibc: dev 0, ino 8, nlink 16, mode 24, uid 28, gid 32, rdev 40, size 48, blksize 56,
    // blocks 64, atim 72, mtim 88, ctim 104.
    private static FileStatus ParseX64(ReadOnlySpan<byte> s) => new(
        Read<long>(s, 0), Read<long>(s, 8), Read<long>(s, 16), Read<uint>(s, 24), Read<int>(s, 28), Read<int>(s, 32), Read<long>(s, 48), Time(s, 88), Time(s, 104));

    // struct stat on aarch64 (asm-generic): dev 0, ino 8, mode 16, nlink 20, uid 24, gid 28, rdev 32, size 48,
    // blksize 56, blocks 64, atim 72, mtim 88, ctim 104.
    private static FileStatus ParseArm64(ReadOnlySpan<byte> s) => new(
        Read<long>(s, 0), Read<long>(s, 8), Read<uint>(s, 20), Read<uint>(s, 16), Read<int>(s, 24), Read<int>(s, 28), Read<long>(s, 48), Time(s, 88), Time(s, 104));

    private static T Read<T>(ReadOnlySpan<byte> s, int offset)
        where T : unmanaged => MemoryMarshal.Read<T>(s[offset..]);

    private static DateTimeOffset Time(ReadOnlySpan<byte> s, int offset) =>
        DateTimeOffset.FromUnixTimeSeconds(Read<long>(s, offset)).AddTicks(Read<long>(s, offset + 8) / 100);

    [LibraryImport("libc", EntryPoint = "lstat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int LStat(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "fstat")]
    private static unsafe partial int FStat(Microsoft.Win32.SafeHandles.SafeFileHandle handle, byte* buffer);
}
