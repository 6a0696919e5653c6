namespace HealthMate.Backup.Tests.Support;

/// <summary>A comparable description of a folder tree: relative path → type, content hash, link target, mode, mtime.</summary>
internal static class TreeSnapshot
{
    internal static SortedDictionary<string, string> Take(string root, bool includeDirectoryTimes = true)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var info in new DirectoryInfo(root).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var relative = Path.GetRelativePath(root, info.FullName);
            var mode = info.LinkTarget is null ? File.GetUnixFileMode(info.FullName) : 0;
            result[relative] = info switch
            {
                { LinkTarget: { } target } => $"link -> {target}",
                DirectoryInfo d => $"dir {mode} {(includeDirectoryTimes ? d.LastWriteTimeUtc.Ticks / TimeSpan.TicksPerSecond : 0)}",
                FileInfo f => $"file {f.Length} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f.FullName)))} {mode} {f.LastWriteTimeUtc.Ticks / TimeSpan.TicksPerSecond}",
                _ => "other",
            };
        }

        return result;
    }
}
