using System.Collections.Concurrent;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Hooks;
using HealthMate.Backup.Playbooks;
using HealthMate.Backup.Recovery;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup.Tests.DR;

public sealed class PlaybookEngineTests : IDisposable
{
    private readonly TestHost _host = new(services: s => s.AddBackupDR());
    private readonly ConcurrentQueue<string> _log = new();

    private IPlaybookRunner Runner => _host.Services.GetRequiredService<IPlaybookRunner>();

    private IRecoveryRecords Records => _host.Services.GetRequiredService<IRecoveryRecords>();

    private IApprovalGate Gate => _host.Services.GetRequiredService<IApprovalGate>();

    public void Dispose() => _host.Dispose();

    private Func<PlaybookStepContext, CancellationToken, Task<string>> Logs(string name) => (_, _) =>
    {
        _log.Enqueue(name);
        return Task.FromResult($"{name} done");
    };

    private IPlaybookStep Undo(string name) => Playbook.Step($"undo-{name}", $"undo {name}", Logs($"undo-{name}"));

    [Fact]
    public async Task Steps_run_in_order_and_the_run_leaves_a_report_an_audit_record_and_a_measured_recovery()
    {
        var playbook = Playbook.Create("ordered").WithTier("high")
            .Step("first", "one", Logs("first"))
            .Step("second", "two", Logs("second"))
            .Step("third", "three", Logs("third"))
            .Build();
        var outageStarted = DateTimeOffset.UtcNow.AddSeconds(-30);
        var report = await Runner.RunAsync(playbook, new PlaybookRunOptions { Mode = PlaybookMode.Drill, Actor = "drill-bot", Reason = "quarterly drill", OutageStartedAt = outageStarted });

        Assert.Equal(PlaybookOutcome.Succeeded, report.Outcome);
        Assert.Equal(["first", "second", "third"], _log);
        Assert.Equal(["first done", "second done", "third done"], report.Steps.Select(s => s.Output));
        Assert.All(report.Steps, s => Assert.True(s.Outcome == PlaybookStepOutcome.Succeeded && s.Attempts == 1 && s.StartedAt <= s.EndedAt));
        Assert.True(report.Steps[0].EndedAt <= report.Steps[1].StartedAt && report.Steps[1].EndedAt <= report.Steps[2].StartedAt);
        Assert.True(report.Rto >= TimeSpan.FromSeconds(30), $"RTO {report.Rto}");
        Assert.Equal(TimeSpan.FromMinutes(60), report.RtoObjective);

        var since = outageStarted.AddMinutes(-1);
        var stored = Assert.Single(await Records.ListRunsAsync(since).ToListAsync());
        Assert.Equal(report.RunId, stored.RunId);
        Assert.Equal(report.Steps.Select(s => (s.Name, s.Outcome, s.Output)), stored.Steps.Select(s => (s.Name, s.Outcome, s.Output)));
        var audit = Assert.Single(await Records.ListAuditAsync(since).ToListAsync());
        Assert.Equal(("drill-bot", "playbook.drill", "ordered", "Succeeded"), (audit.Actor, audit.Action, audit.Target, audit.Outcome));
        var recovery = Assert.Single(await Records.ListAsync(since).ToListAsync());
        Assert.True(recovery.IsDrill && recovery.Succeeded && recovery.Compliant && recovery.RunId == report.RunId && recovery.Rto == report.Rto);
        var compliance = await Records.GetComplianceReportAsync(since);
        Assert.True(Assert.Single(compliance.Entries).Compliant);
    }

    [Fact]
    public async Task A_step_past_its_timeout_is_cancelled_retried_and_then_fails_the_run()
    {
        var attempts = 0;
        var playbook = Playbook.Create("slow")
            .Step("hangs", "waits forever", async (_, ct) =>
            {
                Interlocked.Increment(ref attempts);
                await Task.Delay(Timeout.Infinite, ct);
                return "never";
            }, d => { d.Timeout = TimeSpan.FromMilliseconds(200); d.Retries = 1; d.Backoff = TimeSpan.FromMilliseconds(10); })
            .Step("after", "never reached", Logs("after"))
            .Build();

        var report = await Runner.RunAsync(playbook, new PlaybookRunOptions());

        Assert.Equal(PlaybookOutcome.Failed, report.Outcome);
        Assert.Equal(2, attempts);
        Assert.Equal(PlaybookStepOutcome.TimedOut, report.Steps[0].Outcome);
        Assert.Equal(2, report.Steps[0].Attempts);
        Assert.Contains("timeout", report.Steps[0].Output, StringComparison.Ordinal);
        Assert.Equal(PlaybookStepOutcome.NotRun, report.Steps[1].Outcome);
        Assert.Empty(_log);
        Assert.Null(report.Rto);
    }

    [Fact]
    public async Task A_failing_step_is_retried_with_growing_backoff_until_it_succeeds()
    {
        var times = new List<DateTimeOffset>();
        var playbook = Playbook.Create("flaky")
            .Step("flaky", "fails twice", (_, _) =>
            {
                times.Add(DateTimeOffset.UtcNow);
                return times.Count < 3 ? throw new IOException($"transient {times.Count}") : Task.FromResult("third time");
            }, d => { d.Retries = 3; d.Backoff = TimeSpan.FromMilliseconds(100); })
            .Build();

        var report = await Runner.RunAsync(playbook, new PlaybookRunOptions());

        Assert.Equal(PlaybookOutcome.Succeeded, report.Outcome);
        Assert.Equal(3, report.Steps[0].Attempts);
        Assert.Equal("third time", report.Steps[0].Output);
        Assert.True(times[1] - times[0] >= TimeSpan.FromMilliseconds(95), $"first wait {(times[1] - times[0]).TotalMilliseconds} ms");
        Assert.True(times[2] - times[1] >= TimeSpan.FromMilliseconds(195), $"second wait {(times[2] - times[1]).TotalMilliseconds} ms");
    }

    [Fact]
    public async Task When_a_later_step_fails_the_completed_steps_are_compensated_newest_first()
    {
        var playbook = Playbook.Create("compensating")
            .Step("a", "a", Logs("a"), d => d.Compensation = Undo("a"))
            .Step("b", "b", Logs("b"))
            .Step("c", "c", Logs("c"), d => d.Compensation = Playbook.Step("undo-c", "fails", (_, _) => throw new InvalidOperationException("cannot undo c")))
            .Step("d", "fails for good", (_, _) => throw new PlaybookStepFailedException("the standby is gone"), d => d.Retries = 5)
            .Step("e", "never", Logs("e"))
            .Build();

        var report = await Runner.RunAsync(playbook, new PlaybookRunOptions());

        Assert.Equal(PlaybookOutcome.Failed, report.Outcome);
        Assert.Equal(["a", "b", "c", "undo-a"], _log);
        Assert.Equal(
            [PlaybookStepOutcome.Compensated, PlaybookStepOutcome.Succeeded, PlaybookStepOutcome.CompensationFailed, PlaybookStepOutcome.Failed, PlaybookStepOutcome.NotRun],
            report.Steps.Select(s => s.Outcome));
        Assert.Equal(1, report.Steps[3].Attempts); // a PlaybookStepFailedException is not retried
        Assert.Equal("the standby is gone", report.Steps[3].Output);
        Assert.Contains("cannot undo c", report.Steps[2].CompensationOutput, StringComparison.Ordinal);
        Assert.Contains("d Failed: the standby is gone", Assert.Single(await Records.ListAuditAsync(DateTimeOffset.UtcNow.AddMinutes(-5)).ToListAsync()).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dry_run_explains_every_step_checks_preconditions_and_changes_nothing()
    {
        var playbook = Playbook.Create("explained").WithObjectives(TimeSpan.FromMinutes(30), TimeSpan.Zero)
            .Step("stop", "stop the old thing", Logs("stop"), d => d.Compensation = Undo("stop"))
            .Step("gate", "switch traffic", Logs("gate"), d => d.RequiresApproval = true)
            .Step("checked", "needs a standby", Logs("checked"), d => d.Precondition = (_, _) => Task.FromResult<string?>(null))
            .Build();

        var report = await Runner.RunAsync(playbook, new PlaybookRunOptions { Mode = PlaybookMode.DryRun });

        Assert.Equal(PlaybookOutcome.Succeeded, report.Outcome);
        Assert.Empty(_log);
        Assert.Empty(Gate.Pending);
        Assert.All(report.Steps, s => Assert.Equal(PlaybookStepOutcome.WouldRun, s.Outcome));
        Assert.Equal(["would: stop the old thing", "would after a person approves: switch traffic", "would: needs a standby"], report.Steps.Select(s => s.Output));
        Assert.Null(report.Rto);
        Assert.Empty(await Records.ListAsync(DateTimeOffset.UtcNow.AddMinutes(-5)).ToListAsync());
        Assert.Equal("playbook.dry-run", Assert.Single(await Records.ListAuditAsync(DateTimeOffset.UtcNow.AddMinutes(-5)).ToListAsync()).Action);

        var blocked = Playbook.Create("blocked").Step("needs", "needs a standby", Logs("needs"), d => d.Precondition = (_, _) => Task.FromResult<string?>("no standby is eligible")).Build();
        var dry = await Runner.RunAsync(blocked, new PlaybookRunOptions { Mode = PlaybookMode.DryRun });
        Assert.Equal(PlaybookOutcome.Failed, dry.Outcome);
        Assert.Equal("precondition not met: no standby is eligible", dry.Steps[0].Output);
        Assert.Empty(_log);
    }

    [Fact]
    public async Task An_approval_gate_waits_for_a_person_and_a_rejection_stops_and_compensates()
    {
        var playbook = Playbook.Create("gated")
            .Step("prepare", "prepare", Logs("prepare"), d => d.Compensation = Undo("prepare"))
            .Step("switch", "switch the pool", Logs("switch"), d => d.RequiresApproval = true)
            .Build();

        var run = Runner.RunAsync(playbook, new PlaybookRunOptions());
        await PostgresPair.WaitAsync(() => Task.FromResult(Gate.Pending.Count == 1), "the approval request");
        await Task.Delay(200);
        Assert.False(run.IsCompleted);
        Assert.Equal(["prepare"], _log);
        var request = Assert.Single(Gate.Pending);
        Assert.Equal("playbook:gated/switch", request.Subject);
        Assert.True(Gate.Approve(request.Id, "alice"));
        var approved = await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(PlaybookOutcome.Succeeded, approved.Outcome);
        Assert.Equal(["prepare", "switch"], _log);

        _log.Clear();
        var second = Runner.RunAsync(playbook, new PlaybookRunOptions());
        await PostgresPair.WaitAsync(() => Task.FromResult(Gate.Pending.Count == 1), "the second approval request");
        Assert.True(Gate.Reject(Gate.Pending[0].Id, "bob", "not during the ward round"));
        var rejected = await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(PlaybookOutcome.Rejected, rejected.Outcome);
        Assert.Equal("rejected by bob: not during the ward round", rejected.Steps[1].Output);
        Assert.Equal(["prepare", "undo-prepare"], _log);
        Assert.Equal(PlaybookStepOutcome.Compensated, rejected.Steps[0].Outcome);
    }

    [Fact]
    public async Task Cancelling_a_run_stops_the_current_step_runs_no_further_step_and_compensates_cleanly()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var playbook = Playbook.Create("cancelled")
            .Step("first", "first", Logs("first"), d => d.Compensation = Undo("first"))
            .Step("long", "runs long", async (_, ct) =>
            {
                started.SetResult();
                await Task.Delay(Timeout.Infinite, ct);
                return "never";
            }, d => d.Retries = 3)
            .Step("last", "never", Logs("last"))
            .Build();
        using var cancel = new CancellationTokenSource();

        var run = Runner.RunAsync(playbook, new PlaybookRunOptions(), cancel.Token);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cancel.CancelAsync();
        var report = await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(PlaybookOutcome.Cancelled, report.Outcome);
        Assert.Equal([PlaybookStepOutcome.Compensated, PlaybookStepOutcome.Cancelled, PlaybookStepOutcome.NotRun], report.Steps.Select(s => s.Outcome));
        Assert.Equal(1, report.Steps[1].Attempts);
        Assert.Equal(["first", "undo-first"], _log);
        Assert.Single(await Records.ListRunsAsync(DateTimeOffset.UtcNow.AddMinutes(-5)).ToListAsync());
    }

    [Fact]
    public async Task A_playbook_written_in_configuration_runs_its_command_hooks_and_bad_configuration_fails_at_start_up()
    {
        var marker = Path.Combine(_host.Root, "hook-ran");
        using var host = new TestHost(o => o.Playbooks["restart-app"] = new PlaybookOptions
        {
            Rto = TimeSpan.FromMinutes(30),
            Steps =
            [
                new PlaybookStepOptions
                {
                    Name = "restart",
                    Hook = new HookOptions { Command = new CommandHookOptions { FileName = "/bin/sh", Arguments = ["-c", $"echo \"$HM_ACTION $HM_TARGET drill=$HM_DRILL\" > '{marker}'; echo restarted"] } },
                },
            ],
        });
        var report = await host.Services.GetRequiredService<IPlaybookRunner>().RunAsync("restart-app", new PlaybookRunOptions { Mode = PlaybookMode.Drill });
        Assert.Equal(PlaybookOutcome.Succeeded, report.Outcome);
        Assert.Equal("restart restart-app drill=1", (await File.ReadAllTextAsync(marker)).Trim());
        Assert.Contains("restarted", report.Steps[0].Output, StringComparison.Ordinal);

        var bad = new TestHost(o =>
        {
            o.Playbooks["broken"] = new PlaybookOptions { Tier = "platinum", Steps = [new PlaybookStepOptions { Name = "x", Type = PlaybookStepType.Hook }] };
            o.Monitor.Defaults.FailureWindow = TimeSpan.FromSeconds(1);
            o.Failover.Components["database"] = new Failover.FailoverComponentOptions { Tier = "gold" };
        });
        try
        {
            var error = Assert.Throws<OptionsValidationException>(() => bad.Services.GetRequiredService<IOptions<BackupDROptions>>().Value);
            Assert.Contains("BackupDR:Playbooks:broken:Tier 'platinum'", error.Message, StringComparison.Ordinal);
            Assert.Contains("BackupDR:Playbooks:broken:Steps:x: a Hook step needs Hook.", error.Message, StringComparison.Ordinal);
            Assert.Contains("BackupDR:Monitor:Defaults: FailureWindow", error.Message, StringComparison.Ordinal);
            Assert.Contains("BackupDR:Failover:Components:database:Tier 'gold'", error.Message, StringComparison.Ordinal);
            Assert.Contains("BackupDR:Failover:Components:database has no Hook and no registered strategy of that name (registered: none)", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            bad.Dispose();
        }
    }

    [Fact]
    public async Task The_built_in_playbooks_exist_with_the_plan_objectives_and_say_what_is_not_configured()
    {
        var playbooks = Runner.Playbooks.ToDictionary(p => p.Name);
        Assert.Equal(["stop-writes", "promote-replica", "update-connections", "verify-integrity"], playbooks["database-failure"].Steps.Select(s => s.Step.Name));
        Assert.Equal(["restore-database", "deploy-application", "update-dns", "verify-services"], playbooks["region-outage"].Steps.Select(s => s.Step.Name));
        Assert.Equal(["identify-failure", "restart-instances", "verify-health", "monitor"], playbooks["application-failure"].Steps.Select(s => s.Step.Name));
        Assert.Equal("critical", playbooks["database-failure"].Tier);
        Assert.Equal("high", playbooks["region-outage"].Tier);
        Assert.Equal(TimeSpan.FromMinutes(30), playbooks["application-failure"].Rto);

        var dry = await Runner.RunAsync("region-outage", new PlaybookRunOptions { Mode = PlaybookMode.DryRun });
        Assert.Equal("would: fail: no hook at BackupDR:Playbooks:region-outage:Hooks:deploy-application", dry.Steps[1].Output);
        var live = await Runner.RunAsync("region-outage", new PlaybookRunOptions());
        Assert.Equal(PlaybookOutcome.Failed, live.Outcome);
        Assert.Contains("no step is registered as 'restore-database'", live.Steps[0].Output, StringComparison.Ordinal);
    }
}
