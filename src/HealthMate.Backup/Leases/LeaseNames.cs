namespace HealthMate.Backup.Leases;

/// <summary>Lease name rules shared by every lease provider.</summary>
internal static class LeaseNames
{
    internal static bool IsValid(string name) =>
        name is { Length: > 0 and <= 64 } && char.IsAsciiLetterLower(name[0]) && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.');

    internal static void Validate(string name, TimeSpan duration)
    {
        if (!IsValid(name))
        {
            throw new ArgumentException($"Lease name '{name}' is not valid: use 1 to 64 lower-case letters, digits, '-' and '.', starting with a letter.", nameof(name));
        }

        if (duration < TimeSpan.FromSeconds(1) || duration > TimeSpan.FromDays(1))
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "A lease lasts from one second to one day.");
        }
    }
}
