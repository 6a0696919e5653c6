using System.Diagnostics;

namespace HealthMate.Backup.Tests.Support;

/// <summary>Runs the project's service scripts (scripts/postgres.sh, scripts/ceph-rgw.sh) for the test fixtures, and
/// stops services left by test runs that were killed before they could stop them.</summary>
internal static class ServiceScripts
{
    /// <summary>Runs <c>scripts/{script} {arguments}</c>; a failure says what it printed and that the tests need the service.</summary>
    internal static async Task RunAsync(string script, string need, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot(), "scripts", script));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/{script} {string.Join(' ', arguments)} failed ({process.ExitCode}); {need}:\n{await error}{await output}");
        }
    }

    /// <summary>Records this test process as the owner of a service folder, so a later run can tell it was abandoned.</summary>
    internal static Task ClaimAsync(string directory) =>
        File.WriteAllTextAsync(Path.Combine(directory, "owner.pid"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Calls <paramref name="stop"/> for each folder under the temporary path with this prefix whose owning test process is gone.</summary>
    internal static async Task ReapAbandonedAsync(string prefix, Func<string, Task> stop)
    {
        foreach (var directory in Directory.EnumerateDirectories(Path.GetTempPath(), prefix + "*"))
        {
            var owner = Path.Combine(directory, "owner.pid");
            if (File.Exists(owner) && int.TryParse(await File.ReadAllTextAsync(owner), out var pid) && !IsAlive(pid))
            {
                await stop(directory);
            }
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "HealthMate.Backup.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (HealthMate.Backup.sln) was not found above the test binaries.");
    }
}
