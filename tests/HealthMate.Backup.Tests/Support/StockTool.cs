using System.Diagnostics;

namespace HealthMate.Backup.Tests.Support;

/// <summary>Runs a stock command-line tool (installed by scripts/install-test-deps.sh); a missing tool fails the test.</summary>
internal static class StockTool
{
    internal static async Task<byte[]> RunAsync(string tool, params string[] arguments)
    {
        var path = Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"'{tool}' is not installed; run scripts/install-test-deps.sh (the README test command does).");
        var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        using var output = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(output);
        var error = process.StandardError.ReadToEndAsync();
        await Task.WhenAll(copy, error, process.WaitForExitAsync());
        Assert.True(process.ExitCode == 0, $"{tool} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await error}");
        return output.ToArray();
    }
}
