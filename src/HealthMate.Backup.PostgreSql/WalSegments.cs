using System.Globalization;
using System.Text.RegularExpressions;

namespace HealthMate.Backup.PostgreSql;

/// <summary>WAL segment names: <c>TTTTTTTTLLLLLLLLSSSSSSSS</c> (timeline, log, segment within the log, hex).</summary>
internal static partial class WalSegments
{
    /// <summary>PostgreSQL's default segment size, when a data directory shows none.</summary>
    internal const long DefaultSize = 16 * 1024 * 1024;

    /// <summary>The segment after <paramref name="name"/> on the same timeline, for segments of <paramref name="segmentSize"/> bytes.</summary>
    internal static string Next(string name, long segmentSize)
    {
        var perLog = 0x1_0000_0000L / segmentSize;
        var log = uint.Parse(name.AsSpan(8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var segment = uint.Parse(name.AsSpan(16, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture) + 1L;
        if (segment >= perLog)
        {
            (log, segment) = (log + 1, 0);
        }

        return FormattableString.Invariant($"{name[..8]}{log:X8}{segment:X8}");
    }

    /// <summary>The segment size a data directory's <c>pg_wal</c> shows (its segment files are preallocated whole), or the default.</summary>
    internal static long SizeIn(string walDirectory)
    {
        if (!Directory.Exists(walDirectory))
        {
            return DefaultSize;
        }

        var sizes = new DirectoryInfo(walDirectory).EnumerateFiles().Where(f => SegmentName().IsMatch(f.Name)).Select(f => f.Length)
            .Where(l => l >= 1024 * 1024 && (l & (l - 1)) == 0).ToList();
        return sizes.Count > 0 ? sizes.Max() : DefaultSize;
    }

    [GeneratedRegex("^[0-9A-F]{24}$")]
    private static partial Regex SegmentName();
}
