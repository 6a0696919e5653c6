using System.Runtime.InteropServices;
using System.Text;

namespace HealthMate.Backup.FileTree;

/// <summary>What a folder entry is, as the folder listing says (<c>d_type</c>), before any <c>lstat</c>.</summary>
internal enum ListedType
{
    /// <summary>The file system did not say: the caller finds out with <c>lstat</c>.</summary>
    Unknown,
    File,
    Directory,
    SymbolicLink,

    /// <summary>A device node, FIFO or socket.</summary>
    Special,
}

/// <summary>One entry of a folder listing. <see cref="ValidName"/> is false when the name's bytes are not UTF-8
/// (the name then holds U+FFFD in their place and cannot be opened through .NET).</summary>
internal readonly record struct ListedEntry(string Name, ListedType Type, bool ValidName);

/// <summary>
/// Lists a folder with <c>opendir</c>/<c>readdir</c> on Linux, taking each entry's type from the listing itself, so
/// the walk needs one <c>lstat</c> per path and a <c>readlink</c> only for links (.NET's FileSystemInfo costs a
/// <c>readlink</c> per entry to tell links apart, and more stats). Elsewhere it falls back to .NET's enumeration.
/// </summary>
internal static partial class DirectoryListing
{
    private const int NameOffset = 19; // struct dirent64: d_ino 0, d_off 8, d_reclen 16, d_type 18, d_name 19
    private const byte TypeDirectory = 4;
    private const byte TypeRegular = 8;
    private const byte TypeLink = 10;
    private const byte TypeUnknown = 0;
    private const int NoSuchEntry = 2;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Lists a folder's entries (not "." or ".."), sorted by ordinal name.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder is gone.</exception>
    /// <exception cref="IOException">The folder cannot be read.</exception>
    internal static List<ListedEntry> Read(string path)
    {
        var entries = FileStatus.IsSupported ? ReadNative(path) : ReadManaged(path);
        entries.Sort(static (x, y) => string.CompareOrdinal(x.Name, y.Name));
        return entries;
    }

    private static unsafe List<ListedEntry> ReadNative(string path)
    {
        var directory = OpenDir(path);
        if (directory == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno == NoSuchEntry
                ? new DirectoryNotFoundException($"Folder '{path}' is gone.")
                : new IOException($"Folder '{path}' cannot be listed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
        }

        try
        {
            var entries = new List<ListedEntry>();
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                var entry = (byte*)ReadDir(directory);
                if (entry == null)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno != 0)
                    {
                        throw new IOException($"Folder '{path}' cannot be listed to its end: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
                    }

                    return entries;
                }

                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(entry + NameOffset);
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
                {
                    continue;
                }

                var type = entry[18] switch
                {
                    TypeRegular => ListedType.File,
                    TypeDirectory => ListedType.Directory,
                    TypeLink => ListedType.SymbolicLink,
                    TypeUnknown => ListedType.Unknown,
                    _ => ListedType.Special,
                };
                entries.Add(Decode(name, type));
            }
        }
        finally
        {
            _ = CloseDir(directory);
        }
    }

    private static ListedEntry Decode(ReadOnlySpan<byte> name, ListedType type)
    {
        try
        {
            return new ListedEntry(StrictUtf8.GetString(name), type, ValidName: true);
        }
        catch (DecoderFallbackException)
        {
            return new ListedEntry(Encoding.UTF8.GetString(name), type, ValidName: false);
        }
    }

    private static List<ListedEntry> ReadManaged(string path)
    {
        var entries = new List<ListedEntry>();
        foreach (var info in new DirectoryInfo(path).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false }))
        {
            var type = info.LinkTarget is not null ? ListedType.SymbolicLink : info is DirectoryInfo ? ListedType.Directory : ListedType.Unknown;
            entries.Add(new ListedEntry(info.Name, type, ValidName: !info.Name.Contains('\uFFFD', StringComparison.Ordinal)));
        }

        return entries;
    }

    [LibraryImport("libc", EntryPoint = "opendir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint OpenDir(string path);

    [LibraryImport("libc", EntryPoint = "readdir64", SetLastError = true)]
    private static partial nint ReadDir(nint directory);

    [LibraryImport("libc", EntryPoint = "closedir")]
    private static partial int CloseDir(nint directory);
}
