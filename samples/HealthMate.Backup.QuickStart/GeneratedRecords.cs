using System.Buffers.Text;
using System.Text;

namespace HealthMate.Backup.QuickStart;

/// <summary>
/// Streams deterministic, realistic-looking data: JSON records drawn from a pool of varied templates, each with its
/// own increasing id, so it compresses like application data rather than like zeros or noise.
/// </summary>
internal static class GeneratedRecords
{
    private static readonly string[] Words = ["patient", "encounter", "observation", "medication", "dosage", "allergy", "diagnosis", "procedure", "embedding", "note"];

    internal static async Task WriteAsync(Stream destination, long length, CancellationToken cancellationToken)
    {
        var random = new Random(20261126);
        var templates = Enumerable.Range(0, 8192).Select(_ => Encoding.ASCII.GetBytes(
            $",\"type\":\"{Words[random.Next(Words.Length)]}\",\"code\":\"{random.Next(100_000, 999_999)}\",\"value\":{random.NextDouble():F4},\"ref\":\"{Guid.NewGuid():N}\",\"text\":\"{Words[random.Next(Words.Length)]} {Words[random.Next(Words.Length)]}\"}}\n")).ToArray();
        var buffer = new byte[1024 * 1024];
        long written = 0;
        long id = 0;
        while (written < length)
        {
            var filled = 0;
            while (filled < buffer.Length - 256)
            {
                "{\"id\":"u8.CopyTo(buffer.AsSpan(filled));
                filled += 6;
                Utf8Formatter.TryFormat(id++, buffer.AsSpan(filled), out var digits);
                filled += digits;
                var template = templates[random.Next(templates.Length)];
                template.CopyTo(buffer, filled);
                filled += template.Length;
            }

            var count = (int)Math.Min(filled, length - written);
            await destination.WriteAsync(buffer.AsMemory(0, count), cancellationToken);
            written += count;
        }
    }
}
