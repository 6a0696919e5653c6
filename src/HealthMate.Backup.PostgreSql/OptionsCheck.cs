namespace HealthMate.Backup.PostgreSql;

/// <summary>How every entry point of this package refuses invalid options: one exception listing every problem.</summary>
internal static class OptionsCheck
{
    internal static void ThrowIfInvalid(IReadOnlyList<string> errors, string parameterName)
    {
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), parameterName);
        }
    }
}
