using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using HealthMate.Backup.Playbooks;
using HealthMate.Backup.Recovery;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.DR;

/// <summary>The built-in database-failure playbook and the readiness score, against a real primary and standby.</summary>
[Collection(PostgresCollection.Name)]
public sealed class DisasterRecoveryScenarioTests
{
    [Fact]
    public async Task The_database_failure_playbook_drill_fails_the_real_pair_over_and_records_its_rto_and_rpo()
    {
        await using var pair = await PostgresPair.StartAsync();
        // Automatic failover off: the playbook, not the monitor, does it.
        await using var host = await new DrHost(pair.FailoverOptions(), o => o.Failover.Components["database"] = new FailoverComponentOptions { Automatic = false }).StartAsync();
        await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("database")?.State == ComponentState.Up), "the monitor to see the primary");
        await pair.ExecuteAsync(pair.Primary, "CREATE TABLE patients (id int PRIMARY KEY); INSERT INTO patients SELECT generate_series(1, 1000)");
        await host.Monitor.ProbeNowAsync("database");

        var dry = await host.Playbooks.RunAsync("database-failure", new PlaybookRunOptions { Mode = PlaybookMode.DryRun });
        Assert.Equal(PlaybookOutcome.Succeeded, dry.Outcome);
        Assert.StartsWith("would: fail database over", dry.Steps[1].Output, StringComparison.Ordinal);
        Assert.True(await pair.ScalarAsync<bool>(pair.Standby, "SELECT pg_is_in_recovery()"));

        var crashedAt = DateTimeOffset.UtcNow;
        await pair.CrashPrimaryAsync();
        await PostgresPair.WaitAsync(() => Task.FromResult(host.Monitor.GetStatus("database")?.State == ComponentState.Down), "the monitor to declare the database down");
        var report = await host.Playbooks.RunAsync("database-failure", new PlaybookRunOptions { Mode = PlaybookMode.Drill, Actor = "dr-team", Reason = "quarterly drill: primary killed", OutageStartedAt = crashedAt });

        Assert.True(report.Outcome == PlaybookOutcome.Succeeded, string.Join("\n", report.Steps.Select(s => $"{s.Name} {s.Outcome}: {s.Output}")));
        Assert.All(report.Steps, s => Assert.Equal(PlaybookStepOutcome.Succeeded, s.Outcome));
        Assert.Contains("unreachable", report.Steps[0].Output, StringComparison.Ordinal);
        Assert.Equal("Isolated", report.Steps[1].Data["fencing"]);
        Assert.Contains("takes writes", report.Steps[3].Output, StringComparison.Ordinal);
        Assert.False(await pair.ScalarAsync<bool>(pair.Standby, "SELECT pg_is_in_recovery()"));
        Assert.Equal(1000L, await pair.ScalarAsync<long>(pair.Standby, "SELECT count(*) FROM patients"));
        Assert.True(report.Rto > TimeSpan.Zero && report.Rto < TimeSpan.FromMinutes(15), $"RTO {report.Rto}");
        // Asynchronous and not fenced: the RPO is the bound on what the old primary may have committed alone (since
        // the standby last heard from it, plus its 5 s wal_receiver_timeout), not a claim of zero.
        Assert.True(report.Rpo > TimeSpan.Zero && report.Rpo < TimeSpan.FromSeconds(30), $"RPO {report.Rpo}");

        var records = await host.Records.ListAsync(crashedAt.AddMinutes(-1)).ToListAsync();
        var drill = Assert.Single(records, r => r.Kind == RecoveryKind.Playbook);
        Assert.True(drill.IsDrill && drill.Compliant && drill.Tier == "critical" && drill.RunId == report.RunId);
        var failover = Assert.Single(records, r => r.Kind == RecoveryKind.Failover);
        Assert.True(failover.IsDrill && failover.Succeeded);
        Assert.Contains(await host.Records.ListAuditAsync(crashedAt.AddMinutes(-1)).ToListAsync(), a => a.Action == "playbook.drill" && a.Actor == "dr-team");
        var compliance = await host.Records.GetComplianceReportAsync(crashedAt.AddMinutes(-1));
        Assert.True(compliance.Compliant);
        Console.WriteLine($"database-failure drill: RTO {report.Rto?.TotalMilliseconds:0} ms; steps {string.Join(", ", report.Steps.Select(s => $"{s.Name} {(s.EndedAt - s.StartedAt)?.TotalMilliseconds:0} ms"))}");

        var readiness = await host.Services.GetRequiredService<IReadiness>().EvaluateAsync();
        var drillFactor = readiness.Factors.Single(f => f.Name == ReadinessFactors.Drill);
        Assert.Equal(1, drillFactor.Score);
        Assert.Contains("database-failure", drillFactor.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_readiness_score_drops_when_the_last_backup_is_too_old_or_the_standby_is_down_and_says_why()
    {
        await using var pair = await PostgresPair.StartAsync();
        await using var host = new DrHost(pair.FailoverOptions(), o => o.Health.Targets.Add(new BackupHealthTarget { Kind = "stream", ExpectedEvery = TimeSpan.FromSeconds(4), Grace = TimeSpan.Zero }));
        var readiness = host.Services.GetRequiredService<IReadiness>();
        await host.Host.Backups.RunAsync(TestHost.BytesSource([1, 2, 3], 10));

        var good = await readiness.EvaluateAsync();
        var factors = good.Factors.ToDictionary(f => f.Name);
        Assert.Equal(1, factors[ReadinessFactors.Backups].Score);
        Assert.Equal(1, factors[ReadinessFactors.Standby].Score);
        Assert.Equal(1, factors[ReadinessFactors.Probes].Score);
        Assert.Equal(0, factors[ReadinessFactors.TestRestore].Score);
        Assert.Equal("no passing test restore recorded", factors[ReadinessFactors.TestRestore].Reason);
        Assert.Equal(0, factors[ReadinessFactors.Drill].Score);
        Assert.Equal(0.7, good.Score, 3);
        Assert.False(good.Ready);

        // The backup ages past its expected interval.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var stale = await readiness.EvaluateAsync();
        var backups = stale.Factors.Single(f => f.Name == ReadinessFactors.Backups);
        Assert.Equal(0, backups.Score);
        Assert.Contains("backup missing", backups.Reason, StringComparison.Ordinal);
        Assert.Equal(0.4, stale.Score, 3);

        // The standby goes down.
        await pair.StopStandbyAsync();
        var noStandby = await readiness.EvaluateAsync();
        var standby = noStandby.Factors.Single(f => f.Name == ReadinessFactors.Standby);
        Assert.Equal(0, standby.Score);
        Assert.Contains($"{pair.Standby} is unreachable", standby.Reason, StringComparison.Ordinal);
        var probes = noStandby.Factors.Single(f => f.Name == ReadinessFactors.Probes);
        Assert.Equal(0.5, probes.Score);
        Assert.Contains("no standby streaming", probes.Reason, StringComparison.Ordinal);
        Assert.True(noStandby.Score < stale.Score, $"{noStandby.Score} vs {stale.Score}");
    }
}
