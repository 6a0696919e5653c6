using System.Diagnostics;

namespace HealthMate.Backup.Tests.Support;

/// <summary>What became of one run of the fault host.</summary>
/// <param name="Killed">Whether it was killed (SIGKILL) at its pause point or after its delay.</param>
/// <param name="Line">The ACK or PAUSED line it printed last, if any.</param>
/// <param name="ExitCode">Its exit code (137 after a SIGKILL).</param>
/// <param name="Error">What it printed on standard error.</param>
internal sealed record FaultHostRun(bool Killed, string? Line, int ExitCode, string Error)
{
    internal bool Acknowledged => !Killed && ExitCode == 0 && Line?.StartsWith("ACK ", StringComparison.Ordinal) == true;
}

/// <summary>
/// Runs <c>healthmate-fault-host</c> (tests/HealthMate.Backup.Tests.FaultHost) as a real process and kills it with
/// SIGKILL where it pauses (<c>--pause</c>) or after a delay: nothing in the process gets to clean up, as when a host
/// loses power or the OOM killer strikes.
/// </summary>
internal static class FaultHostProcess
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    internal static async Task<FaultHostRun> RunAsync(byte[] key, IEnumerable<string> arguments, string? pause = null, TimeSpan? killAfter = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "healthmate-fault-host.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (pause is not null)
        {
            start.ArgumentList.Add("--pause");
            start.ArgumentList.Add(pause);
        }

        start.Environment["HM_FAULT_KEY"] = Convert.ToBase64String(key);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var paused = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        string? last = null;
        var reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                last = line;
                if (line.StartsWith("PAUSED ", StringComparison.Ordinal))
                {
                    paused.TrySetResult(line);
                }
            }
        });

        using var limit = new CancellationTokenSource(Limit);
        var exited = process.WaitForExitAsync(limit.Token);
        var killTimer = killAfter is { } delay ? Task.Delay(delay, limit.Token) : Task.Delay(Timeout.Infinite, limit.Token);
        var first = await Task.WhenAny(exited, paused.Task, killTimer);
        var killed = false;
        if (first != exited)
        {
            Assert.False(limit.IsCancellationRequested, $"the fault host ran past {Limit}: {string.Join(' ', start.ArgumentList)}");
            if (!process.HasExited)
            {
                process.Kill(); // SIGKILL: no finally block, no dispose, no flush runs in the process
                killed = true;
            }

            await process.WaitForExitAsync(CancellationToken.None);
        }

        await reading;
        return new FaultHostRun(killed, paused.Task.IsCompleted ? await paused.Task : last, process.ExitCode, await error);
    }
}
