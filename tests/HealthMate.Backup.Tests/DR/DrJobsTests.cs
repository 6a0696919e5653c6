using HealthMate.Backup.Playbooks;
using HealthMate.Backup.Scheduling;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.DR;

public sealed class DrJobsTests
{
    [Fact]
    public async Task The_dr_status_and_recovery_objectives_jobs_fail_and_say_why_when_not_ready_or_out_of_objectives()
    {
        using var host = new TestHost(services: s => s.AddBackupDR().AddBackupSchedules());
        var scheduler = host.Services.GetRequiredService<IJobScheduler>();
        Assert.Equal("0 * * * *", JobSchedule.Defaults[JobSchedule.Names.DrStatus].Cron);
        Assert.Equal("0 */6 * * *", JobSchedule.Defaults[JobSchedule.Names.RecoveryObjectives].Cron);

        var status = await scheduler.RunNowAsync(JobSchedule.Names.DrStatus);
        Assert.Equal(JobOutcome.Failed, status!.Outcome);
        Assert.Contains("Not ready for a disaster: readiness 0.", status.Failure, StringComparison.Ordinal);
        Assert.Contains("backups 0: no backups", status.Failure, StringComparison.Ordinal);
        Assert.Contains("drill 0: no drill within 90 days", status.Failure, StringComparison.Ordinal);

        var empty = await scheduler.RunNowAsync(JobSchedule.Names.RecoveryObjectives);
        Assert.Equal(JobOutcome.Succeeded, empty!.Outcome);
        Assert.Equal("no recovery or drill in 90 days", empty.Summary);

        // A drill that took an hour against a 30-minute objective.
        var runner = host.Services.GetRequiredService<IPlaybookRunner>();
        var slow = Playbook.Create("slow-recovery").WithObjectives(TimeSpan.FromMinutes(30), null).Step("work", "work", (_, _) => Task.FromResult("done")).Build();
        var report = await runner.RunAsync(slow, new PlaybookRunOptions { Mode = PlaybookMode.Drill, OutageStartedAt = DateTimeOffset.UtcNow.AddHours(-1) });
        Assert.True(report.Rto > TimeSpan.FromMinutes(59));

        var missed = await scheduler.RunNowAsync(JobSchedule.Names.RecoveryObjectives);
        Assert.Equal(JobOutcome.Failed, missed!.Outcome);
        Assert.Contains("Playbook slow-recovery: 0/1 within objectives (1 drills)", missed.Failure, StringComparison.Ordinal);
    }
}
