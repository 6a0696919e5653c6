using System.Diagnostics;

namespace HealthMate.Backup.Benchmarks;

/// <summary>Runs commands for the harness's services: the project's scripts (found above the binaries) and tools.</summary>
internal static class ServiceScripts
{
    /// <summary>The path of <c>scripts/{name}</c> in the repository.</summary>
    internal static string Find(string name)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var script = Path.Combine(directory.FullName, "scripts", name);
            if (File.Exists(script))
            {
                return script;
            }
        }

        throw new FileNotFoundException($"scripts/{name} was not found above the benchmark binaries.");
    }

    /// <summary>Runs a command to its end; a non-zero exit fails with what it printed.</summary>
    internal static async Task RunAsync(string command, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
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
            throw new InvalidOperationException($"{command} failed: {await error}{await output}");
        }
    }
}
