using System.Globalization;
using System.Security.Cryptography;

namespace HealthMate.Backup.Catalog;

/// <summary>
/// Backup ids sort by time as plain strings: <c>yyyyMMdd'T'HHmmssfff'Z'-xxxxxxxx</c> (UTC, milliseconds, then 32
/// random bits in hex), for example <c>20261126T084436123Z-1a2b3c4d</c>.
/// </summary>
public static class BackupId
{
    private const string TimeFormat = "yyyyMMdd'T'HHmmssfff'Z'";

    /// <summary>Creates a new id for the current time of <paramref name="timeProvider"/>.</summary>
    /// <param name="timeProvider">The clock.</param>
    /// <returns>The id.</returns>
    public static string New(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        Span<byte> random = stackalloc byte[4];
        RandomNumberGenerator.Fill(random);
        return timeProvider.GetUtcNow().UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture) + "-" + Convert.ToHexStringLower(random);
    }

    /// <summary>The time part of ids made at <paramref name="time"/>: every id made at or after it sorts at or after this string.</summary>
    internal static string TimePrefix(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    /// <summary>The time a well-formed id was made.</summary>
    internal static DateTimeOffset TimeOf(string id) =>
        DateTimeOffset.ParseExact(id.AsSpan(0, 19), TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    /// <summary>Returns whether <paramref name="id"/> has the form of a backup id.</summary>
    /// <param name="id">The candidate.</param>
    /// <returns><see langword="true"/> if it is a well-formed id.</returns>
    public static bool IsValid(string? id)
    {
        if (id is not { Length: 28 } || id[19] != '-')
        {
            return false;
        }

        return DateTime.TryParseExact(id.AsSpan(0, 19), TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out _)
            && id.AsSpan(20).ContainsAnyExcept("0123456789abcdef") is false;
    }

    /// <summary>Throws if <paramref name="id"/> is not a well-formed backup id.</summary>
    /// <param name="id">The candidate.</param>
    /// <param name="paramName">The parameter name.</param>
    /// <exception cref="ArgumentException">The id is malformed.</exception>
    public static void Validate(string? id, string paramName = "backupId")
    {
        if (!IsValid(id))
        {
            throw new ArgumentException($"'{id}' is not a backup id (expected the form 20261126T084436123Z-1a2b3c4d).", paramName);
        }
    }
}
