using HealthMate.Backup.Retention;
using HealthMate.Backup.Scheduling;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup.Tests.Scheduling;

/// <summary>Bad schedules, policies and targets fail at start-up, every problem listed.</summary>
public sealed class OperationsOptionsTests
{
    [Fact]
    public void BadSchedulesPoliciesAndTargetsAreAllReported()
    {
        var options = new BackupDROptions();
        options.Encryption.Enabled = false;
        options.Schedules.Jobs["cleanup"] = new JobSchedule { Cron = "0 4 * *" };
        options.Schedules.Jobs["custom"] = new JobSchedule { TimeZone = "Mars/Olympus", Jitter = TimeSpan.FromHours(2) };
        options.Retention.Kinds["files"] = new RetentionPolicy();
        options.Retention.Plans["nightly"] = new RetentionPolicy { KeepDaily = 0 };
        options.Health.Targets.Add(new HealthMate.Backup.Health.BackupHealthTarget { Kind = "files", Tier = "platinum" });

        var result = new BackupDROptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        var failures = string.Join("\n", result.Failures!);
        Assert.Contains("BackupDR:Schedules:Jobs:cleanup:Cron '0 4 * *' is not a cron expression", failures);
        Assert.Contains("BackupDR:Schedules:Jobs:custom:Cron is required", failures);
        Assert.Contains("BackupDR:Schedules:Jobs:custom:TimeZone 'Mars/Olympus'", failures);
        Assert.Contains("BackupDR:Schedules:Jobs:custom:Jitter", failures);
        Assert.Contains("BackupDR:Retention:Kinds:files has no keep rule", failures);
        Assert.Contains("BackupDR:Retention:Plans:nightly KeepDaily must be from 1 to 100000", failures);
        Assert.Contains("BackupDR:Health:Targets:0:Tier 'platinum' is not one of the tiers", failures);
    }

    [Fact]
    public void ConfiguredJobsKeepTheirDefaultScheduleUnlessTheyNameAnother()
    {
        var options = new SchedulingOptions();
        options.Jobs["cleanup"] = new JobSchedule { TimeZone = "Europe/Berlin" };

        Assert.Equal("0 4 * * 0", options.Resolve("cleanup")!.Cron);
        Assert.Equal("Europe/Berlin", options.Resolve("cleanup")!.TimeZone);
        Assert.Equal("0 2 * * *", options.Resolve("database-backup")!.Cron);
        Assert.Null(options.Resolve("unknown"));
    }
}
