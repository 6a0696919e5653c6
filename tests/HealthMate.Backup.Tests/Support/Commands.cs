using System.Diagnostics;

namespace HealthMate.Backup.Tests.Support;

/// <summary>Runs a system command (chown, runuser, pg_ctl) for a test, and fails the test with what it printed unless it exits 0.</summary>
internal static class Commands
{
    internal static async Task RunAsync(string executable, params string[] arguments)
    {
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{executable} {string.Join(' ', arguments)}: {await error}");
    }
}
