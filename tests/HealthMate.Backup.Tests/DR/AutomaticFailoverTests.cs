using System.Collections.Concurrent;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using HealthMate.Backup.Hooks;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.DR;

/// <summary>The automatic decision with a command-hook strategy: approval gate, cooldown, recovery before the decision.</summary>
public sealed class AutomaticFailoverTests
{
    /// <summary>A probe whose answer the test sets.</summary>
    internal sealed class SwitchProbe(string name) : IHealthProbe
    {
        public volatile bool Up = true;

        public string Name => name;

        public ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(new ProbeResult(Up ? ProbeStatus.Healthy : ProbeStatus.Unhealthy, Up ? "answers" : "refuses connections", TimeSpan.Zero, new Dictionary<string, object>()));
    }

    /// <summary>A host whose <c>application</c> component fails over through a command hook that appends to
    /// <paramref name="marker"/>, or through <paramref name="strategy"/> when one is given (a registered strategy wins
    /// over the hook).</summary>
    internal static DrHost Host(SwitchProbe probe, string marker, bool approval, IFailoverStrategy? strategy = null) => new(
        failover: null,
        configure: o =>
        {
            o.Monitor.Defaults.Interval = TimeSpan.FromMilliseconds(50);
            o.Monitor.Defaults.FailureWindow = TimeSpan.FromSeconds(5);
            o.Failover.Components.Remove("database");
            o.Failover.Components["application"] = new FailoverComponentOptions
            {
                Tier = "high",
                RequireApproval = approval,
                RetryInterval = TimeSpan.FromMilliseconds(200),
                Hook = new HookOptions { Command = new CommandHookOptions { FileName = "/bin/sh", Arguments = ["-c", $"echo \"$HM_ACTION $HM_TARGET token=$HM_FENCING_TOKEN\" >> '{marker}'"] } },
            };
        },
        services: s =>
        {
            var builder = s.AddBackupDR().AddHealthProbe(_ => probe);
            if (strategy is not null)
            {
                builder.AddFailoverStrategy(_ => strategy);
            }
        });

    [Fact]
    public async Task An_automatic_failover_that_needs_approval_waits_for_it_and_a_second_outage_inside_the_cooldown_is_left_alone()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"hm-hook-{Guid.NewGuid():N}");
        var probe = new SwitchProbe("application");
        await using var host = await Host(probe, marker, approval: true).StartAsync();
        var decisions = new ConcurrentQueue<FailoverDecision>();
        host.Coordinator.Decided += (_, d) => decisions.Enqueue(d);
        var gate = host.Services.GetRequiredService<IApprovalGate>();
        try
        {
            await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("application")?.State == ComponentState.Up), "the component up");
            probe.Up = false;
            await PostgresPair.WaitAsync(() => Task.FromResult(gate.Pending.Count == 1), "the approval request");
            var request = gate.Pending[0];
            Assert.Equal("failover:application", request.Subject);
            Assert.Contains("no check hook", request.Description, StringComparison.Ordinal);
            await Task.Delay(300);
            Assert.False(File.Exists(marker));
            Assert.Empty(decisions);

            Assert.True(gate.Approve(request.Id, "alice"));
            await PostgresPair.WaitAsync(() => Task.FromResult(decisions.Any(d => d.Outcome == FailoverOutcome.FailedOver)), "the failover");
            Assert.Matches(@"^failover application token=\d+$", Assert.Single(await File.ReadAllLinesAsync(marker)));
            var audit = await host.Records.ListAuditAsync(DateTimeOffset.UtcNow.AddMinutes(-5)).ToListAsync();
            Assert.Contains(audit, a => a.Actor == "monitor, approved by alice" && a.Outcome == "FailedOver");

            // It comes back, then fails again within the cooldown: nothing is called, nobody is asked.
            probe.Up = true;
            await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("application")?.State == ComponentState.Up), "the component back up");
            probe.Up = false;
            await PostgresPair.WaitAsync(() => Task.FromResult(decisions.Any(d => d.Outcome == FailoverOutcome.CoolingDown)), "the cooldown decision");
            Assert.Empty(gate.Pending);
            Assert.Single(await File.ReadAllLinesAsync(marker));
            Assert.Contains("cooldown", decisions.First(d => d.Outcome == FailoverOutcome.CoolingDown).Reason, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task A_rejected_approval_changes_nothing_and_is_audited()
    {
        var marker = Path.Combine(Path.GetTempPath(), $"hm-hook-{Guid.NewGuid():N}");
        var probe = new SwitchProbe("application");
        await using var host = await Host(probe, marker, approval: true).StartAsync();
        var decided = new TaskCompletionSource<FailoverDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Coordinator.Decided += (_, d) => decided.TrySetResult(d);
        var gate = host.Services.GetRequiredService<IApprovalGate>();
        await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("application")?.State == ComponentState.Up), "the component up");

        probe.Up = false;
        await PostgresPair.WaitAsync(() => Task.FromResult(gate.Pending.Count == 1), "the approval request");
        Assert.True(gate.Reject(gate.Pending[0].Id, "bob", "it is the network, not the app"));
        var decision = await decided.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(FailoverOutcome.Rejected, decision.Outcome);
        Assert.Equal("rejected by bob: it is the network, not the app", decision.Reason);
        Assert.False(File.Exists(marker));
        Assert.Contains(await host.Records.ListAuditAsync(DateTimeOffset.UtcNow.AddMinutes(-5)).ToListAsync(), a => a.Outcome == "Rejected");
    }
}
