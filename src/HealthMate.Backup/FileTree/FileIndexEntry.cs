using System.Text.Json.Serialization;

namespace HealthMate.Backup.FileTree;

/// <summary>
/// One line of a file backup's index (JSON Lines, stored encrypted as the companion object <c>index</c>): every path
/// present at that backup point, with its metadata and, for files, the SHA-256 of its content and the backup in the
/// chain whose archive holds its bytes.
/// </summary>
internal sealed record FileIndexEntry
{
    internal const string File = "file";
    internal const string Directory = "dir";
    internal const string SymbolicLink = "symlink";
    internal const string HardLink = "hardlink";

    /// <summary>Gets the path as in the archive: root name, '/', relative path; no trailing '/'.</summary>
    public required string Path { get; init; }

    /// <summary>Gets <c>file</c>, <c>dir</c>, <c>symlink</c> or <c>hardlink</c>.</summary>
    public required string Type { get; init; }

    public long Size { get; init; }

    /// <summary>Gets the modification time in UTC ticks (100 ns).</summary>
    public long Mtime { get; init; }

    public int Mode { get; init; }

    public int Uid { get; init; }

    public int Gid { get; init; }

    /// <summary>Gets a symbolic link's target, or a hard link's first path.</summary>
    public string? Target { get; init; }

    /// <summary>Gets the SHA-256 of a file's content (lower-case hex).</summary>
    public string? Sha256 { get; init; }

    /// <summary>Gets the backup whose archive holds a file's bytes.</summary>
    public string? Holder { get; init; }

    public long Device { get; init; }

    public long Inode { get; init; }

    /// <summary>Gets the status-change time in UTC ticks: chmod, chown, rename and writes all change it.</summary>
    public long Ctime { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault, IncludeFields = false)]
[JsonSerializable(typeof(FileIndexEntry))]
internal sealed partial class FileIndexJsonContext : JsonSerializerContext;
