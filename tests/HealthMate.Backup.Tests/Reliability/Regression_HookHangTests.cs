using System.Diagnostics;
using System.Globalization;
using HealthMate.Backup.Hooks;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 14, defect 4: a failover hook could hang a failover. Waiting for a command hook also waited for the end of its
/// output, so a background child holding stdout kept the hook "running" after it exited; on a timeout only the visible
/// process tree was killed, so a re-parented grandchild survived, and the wait for its output never ended. Each test
/// has its own limit, so a hang fails the test instead of the run.
/// </summary>
public sealed class Regression_HookHangTests : IDisposable
{
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(30);
    private static readonly HookCall Call = new("failover", "application", "test", IsDrill: true);

    // A grandchild whose parent exits at once: it is re-parented away from the hook, out of sight of the process tree.
    // It writes its pid to the file named by $1 first, then becomes `sleep 600`.
    private const string ReparentedGrandchild = "( sh -c 'echo $$ > \"$0\"; exec sleep 600' \"$1\" & ); exec sleep 600";

    private readonly string _work = Directory.CreateTempSubdirectory("hmb-hooks-").FullName;
    private readonly List<string> _pidFiles = [];

    public void Dispose()
    {
        // Never leak a sleeping process, whether the code under test killed it or not.
        foreach (var file in _pidFiles)
        {
            if (ReadPid(file) is { } pid && IsAlive(pid))
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    if (process.ProcessName == "sleep")
                    {
                        process.Kill();
                    }
                }
                catch (ArgumentException)
                {
                    // It is gone.
                }
            }
        }

        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task AHookThatExitsButLeavesABackgroundChildHoldingItsOutput_ReturnsWhenItExits()
    {
        var pidFile = PidFile("background");
        var clock = Stopwatch.StartNew();
        var result = await Hook.RunAsync(Shell("echo before; sleep 600 & echo $! > \"$1\"; echo done", pidFile), Call).WaitAsync(HangLimit);
        clock.Stop();

        Assert.True(result.Succeeded, result.Output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.StartsWith("/bin/sh exited 0.", result.Output, StringComparison.Ordinal);
        Assert.Contains("before", result.Output, StringComparison.Ordinal);
        Assert.Contains("done", result.Output, StringComparison.Ordinal);
        Assert.Contains("output cut", result.Output, StringComparison.Ordinal);

        // A hook may start a service on purpose: what it leaves running after a normal exit is not killed.
        Assert.True(ReadPid(pidFile) is { } pid && IsAlive(pid), "the background child was killed");
    }

    [Fact]
    public async Task AHookThatTimesOut_IsKilledWithItsReparentedGrandchild()
    {
        var pidFile = PidFile("grandchild");
        var clock = Stopwatch.StartNew();
        var options = Shell(ReparentedGrandchild, pidFile);
        options.Command!.Timeout = TimeSpan.FromSeconds(1);
        var result = await Hook.RunAsync(options, Call).WaitAsync(HangLimit);
        clock.Stop();

        Assert.False(result.Succeeded);
        Assert.Contains("ran past its 1 s timeout and was killed", result.Output, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        var grandchild = ReadPid(pidFile) ?? throw new Xunit.Sdk.XunitException("the grandchild never started");
        Assert.True(await GoneWithinAsync(grandchild, TimeSpan.FromSeconds(5)), $"grandchild {grandchild} survived the timeout");
    }

    [Fact]
    public async Task AHookRunsAsTheLeaderOfItsOwnSessionAndProcessGroup()
    {
        // Fields 1, 4, 5 and 6 of /proc/<pid>/stat: pid, parent, process group, session. The parent being this test
        // process shows that the process .NET started is the hook itself (setsid ran in place, it did not fork).
        var result = await Hook.RunAsync(Shell("read -r pid comm state ppid pgrp sid rest < /proc/$$/stat; echo \"ids $$ $pid $ppid $pgrp $sid\""), Call).WaitAsync(HangLimit);

        Assert.True(result.Succeeded, result.Output);
        var ids = result.Output[(result.Output.IndexOf("ids ", StringComparison.Ordinal) + 4)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Take(5).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var (shell, pid, parent, group, session) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
        Assert.Equal(Environment.ProcessId, parent);
        Assert.Equal(shell, pid);
        Assert.Equal(pid, group);
        Assert.Equal(pid, session);
    }

    [Fact]
    public async Task ACallerThatCancels_StillGetsOperationCanceled_AndTheWholeGroupIsKilled()
    {
        var pidFile = PidFile("cancelled");
        using var cancel = new CancellationTokenSource();
        var run = Hook.RunAsync(Shell(ReparentedGrandchild, pidFile), Call, cancel.Token);
        var grandchild = await WaitForPidAsync(pidFile, TimeSpan.FromSeconds(10));
        var clock = Stopwatch.StartNew();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(HangLimit));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.True(await GoneWithinAsync(grandchild, TimeSpan.FromSeconds(5)), $"grandchild {grandchild} survived the cancellation");
    }

    [Fact]
    public async Task AProgramIsFoundAsBefore_ThoughItIsStartedThroughSetsid()
    {
        // Process.Start looked a bare name up in PATH, and a missing program could not start: setsid must not change that.
        var bare = await Hook.RunAsync(new HookOptions { Command = new CommandHookOptions { FileName = "sh", Arguments = ["-c", "echo found"] } }, Call).WaitAsync(HangLimit);
        Assert.True(bare.Succeeded, bare.Output);
        Assert.Contains("found", bare.Output, StringComparison.Ordinal);

        var missing = await Hook.RunAsync(new HookOptions { Command = new CommandHookOptions { FileName = Path.Combine(_work, "no-such-hook") } }, Call).WaitAsync(HangLimit);
        Assert.False(missing.Succeeded);
        Assert.StartsWith("could not start", missing.Output, StringComparison.Ordinal);
    }

    private static HookOptions Shell(string script, string? argument = null) => new()
    {
        Command = new CommandHookOptions { FileName = "/bin/sh", Arguments = argument is null ? ["-c", script] : ["-c", script, "hook", argument] },
    };

    private string PidFile(string name)
    {
        var path = Path.Combine(_work, name + ".pid");
        _pidFiles.Add(path);
        return path;
    }

    private static int? ReadPid(string file)
    {
        try
        {
            return int.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    private static async Task<int> WaitForPidAsync(string file, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (ReadPid(file) is { } pid)
            {
                return pid;
            }

            Assert.True(clock.Elapsed < limit, $"no pid in {file} after {limit}");
            await Task.Delay(20);
        }
    }

    /// <summary>Whether a process runs: a zombie is dead (a re-parented one waits for a reaper this test does not control).</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task<bool> GoneWithinAsync(int pid, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (IsAlive(pid))
        {
            if (clock.Elapsed > limit)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }
}
