using System.Collections.Concurrent;
using System.Text.Json;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using HealthMate.Backup.Hooks;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Tests.DR;
using HealthMate.Backup.Tests.Support;
using Npgsql;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 14's partition scenarios on fresh real PostgreSQL 15 clusters (a primary and two standbys), every link through
/// its own <see cref="TcpLink"/>, with the Jepsen-style <see cref="AckChecker"/>: every acknowledged commit must be on
/// the surviving primary (synchronous replication), and a sampler every 100 ms must never see two servers take a write.
/// Each scenario prints one <c>scenario:</c> line for the table in docs/disaster-recovery.md.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PartitionScenarioTests
{
    [Fact]
    public async Task The_coordinator_cut_off_from_a_primary_that_clients_and_standbys_still_reach_promotes_nothing_and_says_why()
    {
        await using var cluster = await PostgresCluster.StartAsync(synchronous: true);
        await using var scenario = await WritingAsync(cluster);
        var (host, decisions, checker) = scenario;

        cluster.CoordinatorLink(ClusterNode.Primary).Cut();
        await PostgresPair.WaitAsync(() => Task.FromResult(decisions.Count(d => d.Outcome == FailoverOutcome.Refused) + decisions.Count(d => d.Outcome == FailoverOutcome.FailedOver) >= 3), "three decisions", 60);
        var acknowledgedDuring = checker.Acknowledged.Count;
        await checker.WaitForAcknowledgedAsync(acknowledgedDuring + 20, TimeSpan.FromSeconds(30)); // clients still write to the primary
        await checker.StopAsync();

        Assert.DoesNotContain(decisions, d => d.Outcome == FailoverOutcome.FailedOver);
        var refusal = decisions.First(d => d.Outcome == FailoverOutcome.Refused);
        Assert.Contains("streams from it", refusal.Reason, StringComparison.Ordinal);
        Assert.Contains("this host may be cut off from the primary", refusal.Reason, StringComparison.Ordinal);
        Assert.True(await cluster.IsInRecoveryAsync(ClusterNode.Standby1) && await cluster.IsInRecoveryAsync(ClusterNode.Standby2));
        await AssertCheckerAsync(checker, ClusterNode.Primary, "coordinator cut from the primary (sync)", decisions, maxLossAllowed: 0);
    }

    [Fact]
    public async Task A_synchronous_primary_isolated_from_everyone_is_replaced_once_the_isolation_is_confirmed_and_comes_back_fenced()
    {
        await using var cluster = await PostgresCluster.StartAsync(synchronous: true);
        await using var scenario = await WritingAsync(cluster);
        var (host, decisions, checker) = scenario;

        var isolatedAt = DateTimeOffset.UtcNow;
        cluster.Isolate(ClusterNode.Primary, LinkMode.BlackHole);
        await FailedOverAsync(decisions, 90, host);
        var decision = decisions.Single(d => d.Outcome == FailoverOutcome.FailedOver);
        Assert.Equal(FencingOutcome.Isolated, decision.Result!.Fencing);
        var promoted = Survivor(cluster, decision);
        await checker.FirstAcknowledgedOnAsync(promoted, TimeSpan.FromSeconds(30));

        // Everything heals at once: the old primary is back for everyone, but it has no synchronous standby left, and
        // the probe fences it as a replaced primary.
        cluster.Heal();
        await PostgresPair.WaitAsync(async () => (await host.Monitor.ProbeNowAsync("database")).Last!.Description.Contains("came back as a primary and was fenced", StringComparison.Ordinal), "the old primary to be fenced", 60);
        await checker.WaitForAcknowledgedAsync(checker.Acknowledged.Count + 20, TimeSpan.FromSeconds(30));
        await checker.StopAsync();

        await DR.PostgreSqlFailoverTests.AssertRefusesLoginsAsync(cluster.Direct(ClusterNode.Primary));
        Console.WriteLine($"scenario: isolated sync primary replaced {(decision.Result.RestoredAt!.Value - isolatedAt).TotalSeconds:0.0} s after the partition; {decision.Result.Steps[0].Detail}");
        await AssertCheckerAsync(checker, promoted, "primary isolated from everyone (sync)", decisions, maxLossAllowed: 0);
    }

    [Fact]
    public async Task An_asynchronous_primary_isolated_from_everyone_with_a_hanging_fence_hook_is_replaced_by_the_isolation_rule_and_the_loss_is_measured()
    {
        await using var cluster = await PostgresCluster.StartAsync(synchronous: false);
        var options = cluster.FailoverOptions(o => o.FenceHook = new HookOptions { Command = new CommandHookOptions { FileName = "/bin/sh", Arguments = ["-c", "sleep 600"], Timeout = TimeSpan.FromSeconds(2) } });
        await using var scenario = await WritingAsync(cluster, options);
        var (host, decisions, checker) = scenario;

        cluster.Isolate(ClusterNode.Primary, LinkMode.BlackHole);
        await FailedOverAsync(decisions, 90);
        var decision = decisions.Single(d => d.Outcome == FailoverOutcome.FailedOver);
        Assert.Equal(FencingOutcome.Isolated, decision.Result!.Fencing);
        Assert.Contains(decision.Result.Steps, s => s.Name == "fence" && !s.Succeeded && s.Detail.Contains("timeout", StringComparison.Ordinal));
        Assert.NotNull(decision.Result.DataLoss);
        var promoted = Survivor(cluster, decision);
        await checker.FirstAcknowledgedOnAsync(promoted, TimeSpan.FromSeconds(30));

        // An asynchronous old primary takes writes from whoever reaches it: this host must see (and fence) it before
        // the clients do. The coordinator's link heals first; the clients' once it is fenced.
        cluster.CoordinatorLink(ClusterNode.Primary).Heal();
        await PostgresPair.WaitAsync(async () => (await host.Monitor.ProbeNowAsync("database")).Last!.Description.Contains("came back as a primary and was fenced", StringComparison.Ordinal), "the old primary to be fenced", 60);
        cluster.Heal();
        await checker.WaitForAcknowledgedAsync(checker.Acknowledged.Count + 20, TimeSpan.FromSeconds(30));
        await checker.StopAsync();

        var lost = await checker.LostAsync(promoted);
        Console.WriteLine($"scenario: async isolated primary: {lost.Count} acknowledged writes lost, bound reported {decision.Result.DataLoss?.TotalSeconds:0.0} s; {decision.Result.Description}");
        await AssertCheckerAsync(checker, promoted, "primary isolated from everyone (async, hanging fence hook)", decisions, maxLossAllowed: null);
    }

    [Fact]
    public async Task A_flapping_link_to_the_primary_never_promotes()
    {
        await using var cluster = await PostgresCluster.StartAsync(synchronous: false);
        await using var scenario = await WritingAsync(cluster);
        var (host, decisions, checker) = scenario;

        // The primary's links (coordinator and replication) go down for 3 s and up for 1 s, eight times: long enough
        // for the monitor to call it down, never long enough for its standbys to have lost it for the isolation time.
        var links = new[] { cluster.CoordinatorLink(ClusterNode.Primary), cluster.ReplicationLink(ClusterNode.Standby1), cluster.ReplicationLink(ClusterNode.Standby2) };
        for (var flap = 0; flap < 8; flap++)
        {
            PostgresCluster.Partition(LinkMode.Cut, links);
            await Task.Delay(3000);
            cluster.Heal();
            await Task.Delay(1000);
        }

        await checker.StopAsync();
        Assert.DoesNotContain(decisions, d => d.Outcome == FailoverOutcome.FailedOver);
        Assert.False(await cluster.IsInRecoveryAsync(ClusterNode.Primary));
        await AssertCheckerAsync(checker, ClusterNode.Primary, "flapping link (async)", decisions, maxLossAllowed: 0);
    }

    [Fact]
    public async Task Two_coordinators_one_with_its_clock_ten_seconds_ahead_promote_exactly_once()
    {
        await using var cluster = await PostgresCluster.StartAsync(synchronous: true);
        var root = Directory.CreateTempSubdirectory("hmb-dr-").FullName;
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        try
        {
            await using var first = new DrHost(cluster.FailoverOptions(), root: root, key: key);
            await using var second = new DrHost(cluster.FailoverOptions(), root: root, key: key, time: new SteppedClock(TimeSpan.FromSeconds(10)));
            var decisions = new ConcurrentQueue<FailoverDecision>();
            first.Coordinator.Decided += (_, d) => decisions.Enqueue(d);
            second.Coordinator.Decided += (_, d) => decisions.Enqueue(d);
            await Task.WhenAll(first.StartAsync(), second.StartAsync());
            await UpAsync(first);
            await UpAsync(second);
            await using var checker = await AckChecker.StartAsync(cluster, cluster.ClientConnectionString(TargetSessionAttributes.ReadWrite));
            await checker.WaitForAcknowledgedAsync(50, TimeSpan.FromSeconds(30));

            cluster.Isolate(ClusterNode.Primary, LinkMode.Cut);
            await FailedOverAsync(decisions, 90, first, second);
            var promoted = Survivor(cluster, decisions.Single(d => d.Outcome == FailoverOutcome.FailedOver));
            await PostgresPair.WaitAsync(() => Task.FromResult(first.Monitor.GetStatus("database")?.State == ComponentState.Up && second.Monitor.GetStatus("database")?.State == ComponentState.Up), "both monitors to follow the new primary", 60);
            await checker.FirstAcknowledgedOnAsync(promoted, TimeSpan.FromSeconds(30));
            await checker.StopAsync();

            Assert.Single(decisions, d => d.Outcome == FailoverOutcome.FailedOver);
            Assert.Equal(cluster.Coordinator(promoted).Port, first.Strategy.CurrentPrimary.Port);
            Assert.Equal(cluster.Coordinator(promoted).Port, second.Strategy.CurrentPrimary.Port);
            Assert.Single(await first.Records.ListAsync(DateTimeOffset.UtcNow.AddMinutes(-5)).Where(r => r.Kind == HealthMate.Backup.Recovery.RecoveryKind.Failover).ToListAsync());
            await AssertCheckerAsync(checker, promoted, "two coordinators, one clock +10 s (sync)", [.. decisions], maxLossAllowed: 0);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_coordinator_killed_in_the_middle_of_a_failover_leaves_one_primary_and_a_restarted_host_finishes_the_job()
    {
        await using var cluster = await PostgresCluster.StartAsync(synchronous: true);
        var root = Directory.CreateTempSubdirectory("hmb-dr-").FullName;
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        try
        {
            await using var checker = await AckChecker.StartAsync(cluster, cluster.ClientConnectionString(TargetSessionAttributes.ReadWrite));
            await checker.WaitForAcknowledgedAsync(50, TimeSpan.FromSeconds(30));
            cluster.Isolate(ClusterNode.Primary, LinkMode.Cut);

            // A coordinator in its own process takes the lease, reaches the fence and is killed there (SIGKILL).
            var run = await FaultHostProcess.RunAsync(key, ["failover", root, "-", "6"], environment: new Dictionary<string, string>
            {
                ["HM_FAULT_FAILOVER"] = JsonSerializer.Serialize(cluster.FailoverOptions()),
            });
            Assert.True(run.Killed && run.Line == "PAUSED fence", $"{run.Line} {run.ExitCode} {run.Error}");
            Assert.True(await cluster.IsInRecoveryAsync(ClusterNode.Standby1) && await cluster.IsInRecoveryAsync(ClusterNode.Standby2));

            // A host restarted on the same store: it waits out the dead holder's lease, then fails over once.
            await using var restarted = await new DrHost(cluster.FailoverOptions(), o => o.Failover.LeaseDuration = TimeSpan.FromSeconds(6), root: root, key: key).StartAsync();
            var decisions = Record(restarted);
            await FailedOverAsync(decisions, 90);
            var promoted = Survivor(cluster, decisions.Single(d => d.Outcome == FailoverOutcome.FailedOver));
            await checker.FirstAcknowledgedOnAsync(promoted, TimeSpan.FromSeconds(30));
            await checker.StopAsync();

            Assert.Contains(decisions, d => d.Outcome == FailoverOutcome.LeaseHeldElsewhere);
            await AssertCheckerAsync(checker, promoted, "coordinator killed mid-failover, restarted (sync)", [.. decisions], maxLossAllowed: 0);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A started host over the cluster (its own options, or the cluster's), its decisions, and the checker
    /// writing through the clients' links with 50 writes acknowledged.</summary>
    private static async Task<Scenario> WritingAsync(PostgresCluster cluster, PostgreSqlFailoverOptions? options = null)
    {
        var host = await new DrHost(options ?? cluster.FailoverOptions()).StartAsync();
        var decisions = Record(host);
        await UpAsync(host);
        var checker = await AckChecker.StartAsync(cluster, cluster.ClientConnectionString(TargetSessionAttributes.ReadWrite));
        await checker.WaitForAcknowledgedAsync(50, TimeSpan.FromSeconds(30));
        return new Scenario(host, decisions, checker);
    }

    private static ConcurrentQueue<FailoverDecision> Record(DrHost host)
    {
        var decisions = new ConcurrentQueue<FailoverDecision>();
        host.Coordinator.Decided += (_, d) => decisions.Enqueue(d);
        return decisions;
    }

    /// <summary>Waits for a promotion; a timeout names every decision made meanwhile.</summary>
    private static async Task FailedOverAsync(ConcurrentQueue<FailoverDecision> decisions, int seconds, params DrHost[] hosts)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!decisions.Any(d => d.Outcome == FailoverOutcome.FailedOver))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(seconds), $"no promotion within {seconds} s; monitors: {string.Join(" | ", hosts.Select(h => $"{h.Monitor.GetStatus("database")?.State}: {h.Monitor.GetStatus("database")?.Last?.Description}"))}; decisions:\n{string.Join("\n", decisions.Select(d => $"{d.At:HH:mm:ss.fff} {d.Outcome}: {d.Reason}"))}");
            await Task.Delay(100);
        }
    }

    private static Task UpAsync(DrHost host) =>
        PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("database")?.State == ComponentState.Up), "the monitor to see the primary", 60);

    private static ClusterNode Survivor(PostgresCluster cluster, FailoverDecision decision) =>
        PostgresCluster.Nodes.Single(n => decision.Result!.NewEndpoint == $"{cluster.Coordinator(n).Host}:{cluster.Coordinator(n).Port}");

    /// <summary>No two writable primaries, ever; acknowledged writes lost within what the scenario allows (zero when
    /// synchronous; measured when not); prints the scenario's line.</summary>
    private static async Task AssertCheckerAsync(AckChecker checker, ClusterNode survivor, string scenario, IReadOnlyCollection<FailoverDecision> decisions, int? maxLossAllowed)
    {
        var lost = await checker.LostAsync(survivor);
        var cleanLost = lost.Except(checker.Acknowledged.Where(a => a.Unreplicated).Select(a => a.Id)).ToList();
        Console.WriteLine($"scenario: {scenario}: promotions {decisions.Count(d => d.Outcome == FailoverOutcome.FailedOver)}, refusals {decisions.Count(d => d.Outcome == FailoverOutcome.Refused)}, max writable primaries seen {checker.MaxAccepting} over {checker.Rounds.Count} rounds, acknowledged {checker.Acknowledged.Count}, lost {cleanLost.Count} (+{lost.Count - cleanLost.Count} acknowledged with PostgreSQL's 'committed locally' warning)");
        Assert.True(checker.MaxAccepting <= 1, $"{checker.MaxAccepting} servers took writes at once, at {string.Join(", ", checker.SplitBrainAt)}");
        if (maxLossAllowed is { } allowed)
        {
            Assert.True(cleanLost.Count <= allowed, $"acknowledged writes lost: {string.Join(", ", cleanLost)}");
        }
    }

    /// <summary>A scenario's host, decisions and checker; disposing stops the checker, then the host.</summary>
    private sealed record Scenario(DrHost Host, ConcurrentQueue<FailoverDecision> Decisions, AckChecker Checker) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Checker.DisposeAsync();
            await Host.DisposeAsync();
        }
    }

    /// <summary>A wall clock stepped by a fixed offset (a host whose NTP is off); timers and the monotonic clock are the system's.</summary>
    private sealed class SteppedClock(TimeSpan offset) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + offset;
    }
}
