using System.Text.Json;

namespace HealthMate.Backup.FileTree;

/// <summary>Reads and writes the JSON Lines file index.</summary>
internal static class FileIndex
{
    internal const string ObjectName = "index";

    internal static ReadOnlyMemory<byte> Write(IEnumerable<FileIndexEntry> entries)
    {
        var output = new MemoryStream();
        foreach (var entry in entries.OrderBy(e => e.Path, StringComparer.Ordinal))
        {
            JsonSerializer.Serialize(output, entry, FileIndexJsonContext.Default.FileIndexEntry);
            output.WriteByte((byte)'\n');
        }

        // The stream's own buffer, without the copy ToArray would make: an index of 100,000 files is tens of MiB.
        return output.GetBuffer().AsMemory(0, (int)output.Length);
    }

    internal static Dictionary<string, FileIndexEntry> Read(ReadOnlySpan<byte> content)
    {
        var result = new Dictionary<string, FileIndexEntry>(StringComparer.Ordinal);
        while (!content.IsEmpty)
        {
            var end = content.IndexOf((byte)'\n');
            var line = end < 0 ? content : content[..end];
            content = end < 0 ? [] : content[(end + 1)..];
            if (line.IsEmpty)
            {
                continue;
            }

            try
            {
                var entry = JsonSerializer.Deserialize(line, FileIndexJsonContext.Default.FileIndexEntry)
                    ?? throw new BackupFormatException("The file index has an empty line.");
                result[entry.Path] = entry;
            }
            catch (JsonException ex)
            {
                throw new BackupFormatException($"The file index cannot be read: {ex.Message}", ex);
            }
        }

        return result;
    }
}
