using System.Globalization;
using System.Text.Json;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Hooks;
using HealthMate.Backup.PostgreSql;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.FaultHost;

/// <summary>
/// <c>failover STORE - LEASE-SECONDS</c>: a coordinator in its own process fails the <c>database</c> component over by
/// hand, with the servers from <c>HM_FAULT_FAILOVER</c> (the options as JSON; they hold a password, so not an argument)
/// and the key of the tests' hosts (<c>test-key</c> from <c>HM_FAULT_KEY</c>), over the same local store. Its fence hook
/// prints <c>PAUSED fence</c> on this process's output and then hangs: the test kills the process there, mid-failover,
/// holding the failover lease.
/// </summary>
internal static class FailoverCommand
{
    internal static async Task<int> RunAsync(string store, string leaseSeconds)
    {
        var options = JsonSerializer.Deserialize<PostgreSqlFailoverOptions>(Environment.GetEnvironmentVariable("HM_FAULT_FAILOVER") ?? throw new InvalidOperationException("HM_FAULT_FAILOVER is not set"))!;
        options.FenceHook = new HookOptions
        {
            Command = new CommandHookOptions
            {
                FileName = "/bin/sh",
                Arguments = ["-c", $"echo 'PAUSED fence' > /proc/{Environment.ProcessId}/fd/1; sleep 20; exit 1"],
                Timeout = TimeSpan.FromSeconds(30),
            },
        };
        var services = new ServiceCollection();
        services.AddBackupDR(o =>
        {
            o.Encryption.ActiveKeyId = "test-key";
            o.Encryption.Keys.Add(new() { Id = "test-key", EnvironmentVariable = "HM_FAULT_KEY" });
            o.Failover.LeaseDuration = TimeSpan.FromSeconds(int.Parse(leaseSeconds, CultureInfo.InvariantCulture));
            o.Failover.Components["database"] = new FailoverComponentOptions { Automatic = false };
        }).AddLocalStorage(l =>
        {
            l.Path = store;
            l.FlushToDisk = false;
        }).AddPostgreSqlFailover(options);
        await using var provider = services.BuildServiceProvider();
        var decision = await provider.GetRequiredService<IFailoverCoordinator>().FailOverAsync("database", "the fault host's failover", "fault-host");
        Console.WriteLine($"ACK failover {decision.Outcome}: {decision.Reason}");
        return 0;
    }
}
