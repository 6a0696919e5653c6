using System.Diagnostics;
using System.Globalization;
using HealthMate.Backup.FileTree;

namespace HealthMate.Backup.PostgreSql;

/// <summary>pg_ctl for one data directory, run as the server's user when this process is root.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class ServerControl(string? toolsDirectory, string serverUser, string dataDirectory)
{
    internal string DataDirectory { get; } = dataDirectory;

    internal bool IsRunning => File.Exists(Path.Combine(DataDirectory, "postmaster.pid"));

    /// <summary>PostgreSQL wants its data directory owned by its user, mode 0700.</summary>
    internal async Task TakeOwnershipAsync(CancellationToken cancellationToken)
    {
        File.SetUnixFileMode(DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (FileSystemNative.IsRoot)
        {
            await RunAsync("chown", ["-R", "--", serverUser + ":", DataDirectory], asServerUser: false, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Starts the server. With <paramref name="wait"/>, until it accepts connections (or fails to start).</summary>
    internal async Task<bool> StartAsync(string logFile, bool wait, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var pgCtl = PgTool.Locate("pg_ctl", toolsDirectory).Path;
        var seconds = ((int)Math.Ceiling(timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var (exitCode, output) = await RunAsync(pgCtl, ["start", "-D", DataDirectory, "-l", logFile, wait ? "-w" : "-W", "-t", seconds], asServerUser: true, cancellationToken).ConfigureAwait(false);
        // pg_ctl -w fails when the server exits during start-up (a recovery that cannot reach its target may do that):
        // the caller reads the server log either way.
        _ = exitCode;
        _ = output;
        return true;
    }

    internal async Task StopQuietlyAsync()
    {
        try
        {
            var pgCtl = PgTool.Locate("pg_ctl", toolsDirectory).Path;
            await RunAsync(pgCtl, ["stop", "-D", DataDirectory, "-m", "fast", "-w"], asServerUser: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Boundary: the restore already failed with its own error.
        }
    }

    private async Task<(int ExitCode, string Output)> RunAsync(string executable, IReadOnlyList<string> arguments, bool asServerUser, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(asServerUser && FileSystemNative.IsRoot ? "runuser" : executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        if (asServerUser && FileSystemNative.IsRoot)
        {
            foreach (var argument in new[] { "-u", serverUser, "--", executable })
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{executable} could not be started.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        var text = await output.ConfigureAwait(false) + await error.ConfigureAwait(false);
        if (!asServerUser && process.ExitCode != 0)
        {
            throw new IOException($"{executable} failed with exit code {process.ExitCode}: {text.Trim()}");
        }

        return (process.ExitCode, text);
    }
}
