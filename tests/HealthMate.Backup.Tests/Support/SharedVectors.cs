namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// Finds the vector sets that are read in place (not committed): <c>../shared/vectors</c> beside the repository, or
/// the folder in <c>HEALTHMATE_VECTORS</c>. Under <c>CI=true</c> a missing folder fails the test; elsewhere the test
/// is skipped with a message that says the vectors are absent.
/// </summary>
internal static class SharedVectors
{
    internal static string? Find(string relative)
    {
        var overridden = Environment.GetEnvironmentVariable("HEALTHMATE_VECTORS");
        if (!string.IsNullOrEmpty(overridden))
        {
            var candidate = Path.Combine(overridden, relative);
            return Directory.Exists(candidate) ? candidate : null;
        }

        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "HealthMate.Backup.sln")))
            {
                var candidate = Path.Combine(directory.FullName, "..", "shared", "vectors", relative);
                return Directory.Exists(candidate) ? Path.GetFullPath(candidate) : null;
            }
        }

        return null;
    }

    internal static string Require(string relative) =>
        Find(relative) ?? throw new DirectoryNotFoundException($"Test vectors '{relative}' are missing: expected ../shared/vectors/{relative} beside the repository or HEALTHMATE_VECTORS.");

    internal static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
}

/// <summary>A fact that needs a vector set read in place; skipped with a message only outside CI when the set is absent.</summary>
internal sealed class VectorsFactAttribute : FactAttribute
{
    public VectorsFactAttribute(string relative)
    {
        if (SharedVectors.Find(relative) is null && !SharedVectors.IsCi)
        {
            Skip = $"Vectors absent: ../shared/vectors/{relative} was not found (under CI=true this test fails instead).";
        }
    }
}
