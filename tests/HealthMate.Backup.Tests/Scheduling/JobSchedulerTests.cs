using HealthMate.Backup.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static HealthMate.Backup.Tests.Scheduling.SchedulerSupport;

namespace HealthMate.Backup.Tests.Scheduling;

/// <summary>The scheduler on a fake clock: local times across daylight-saving changes, missed runs, no overlap, timeouts.</summary>
public sealed class JobSchedulerTests
{
    public static TheoryData<string, string[]> DaylightSavingChanges => new()
    {
        // Spring forward on 29 March 2026: 02:30 does not exist that night, so the run is at 03:00 CEST.
        { "2026-03-27T12:00:00Z", ["2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"] },

        // Fall back on 25 October 2026: 02:30 happens twice that night, and the job runs once, at the first.
        { "2026-10-23T12:00:00Z", ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"] },
    };

    [Theory]
    [MemberData(nameof(DaylightSavingChanges))]
    public async Task RunsAtTheScheduledLocalTimeAcrossDaylightSavingChanges(string start, string[] expected)
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture));
        var job = new RecordingJob("nightly");
        using var host = Host(job, new JobSchedule { Cron = "30 2 * * *", TimeZone = "Europe/Berlin" }, time, JobLeaseKind.None);
        var scheduler = host.Scheduler();
        await scheduler.StartAsync(CancellationToken.None);
        try
        {
            var zone = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
            for (var i = 0; i < expected.Length; i++)
            {
                var want = DateTimeOffset.Parse(expected[i], System.Globalization.CultureInfo.InvariantCulture);
                await WaitUntilAsync(() => scheduler.NextRuns.TryGetValue("nightly", out var next) && next > time.GetUtcNow(), "the next run is scheduled");
                Assert.Equal(want, scheduler.NextRuns["nightly"]);

                time.Advance(want - time.GetUtcNow() - TimeSpan.FromSeconds(1));
                await Task.Delay(50);
                Assert.Equal(i, job.Runs.Count); // not a second early

                time.Advance(TimeSpan.FromSeconds(1));
                await WaitUntilAsync(() => job.Runs.Count == i + 1, $"run {i + 1} happens");
                var ran = job.Runs.ToArray()[i].ScheduledAt;
                Assert.Equal(want, ran);
                Assert.Equal(want.Offset, TimeZoneInfo.ConvertTime(ran, zone).Offset);
            }
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
        }
    }

    [Theory]
    [InlineData(MissedRunPolicy.RunOnce)]
    [InlineData(MissedRunPolicy.Skip)]
    public async Task RunsMissedWhileNoHostWasUpOnceOrSkipsThem(MissedRunPolicy policy)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 1, 2, 0, 0, TimeSpan.Zero));
        var job = new RecordingJob("nightly");
        var root = Directory.CreateTempSubdirectory("hmb-sched-").FullName;
        byte[] key;
        using (var first = Host(job, new JobSchedule { Cron = "0 2 * * *", MissedRuns = policy }, time, JobLeaseKind.None, root))
        {
            key = first.Key;
            var run = await first.Scheduler().RunNowAsync("nightly");
            Assert.Equal(JobOutcome.Succeeded, run!.Outcome);
        }

        // The host is down for two days and eight hours: the runs of 2 and 3 June are missed.
        time.Advance(TimeSpan.FromHours(56));
        var again = new RecordingJob("nightly");
        using var host = Host(again, new JobSchedule { Cron = "0 2 * * *", MissedRuns = policy }, time, JobLeaseKind.None, root, key);
        var scheduler = host.Scheduler();
        await scheduler.StartAsync(CancellationToken.None);
        try
        {
            await WaitUntilAsync(() => scheduler.NextRuns.ContainsKey("nightly"), "the next run is scheduled");
            Assert.Equal(new DateTimeOffset(2026, 6, 4, 2, 0, 0, TimeSpan.Zero), scheduler.NextRuns["nightly"]);
            var runs = again.Runs.Select(r => r.ScheduledAt).ToList();
            if (policy == MissedRunPolicy.RunOnce)
            {
                Assert.Equal([new DateTimeOffset(2026, 6, 3, 2, 0, 0, TimeSpan.Zero)], runs); // once, for the latest missed time
            }
            else
            {
                Assert.Empty(runs);
            }
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void TheLatestMissedTimeOfAPerSecondScheduleAfterAMonthDownIsFoundExactly()
    {
        var cron = JobScheduler.ParseCron("*/7 * * * * *");
        var after = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
        var upTo = new DateTimeOffset(2026, 6, 1, 12, 34, 55, 500, TimeSpan.Zero);

        Assert.Equal(new DateTimeOffset(2026, 6, 1, 12, 34, 49, TimeSpan.Zero), JobScheduler.LatestOccurrence(cron, TimeZoneInfo.Utc, after, upTo));
        Assert.Equal(new DateTimeOffset(2026, 5, 1, 0, 0, 7, TimeSpan.Zero), JobScheduler.LatestOccurrence(cron, TimeZoneInfo.Utc, after, after.AddSeconds(8)));
        Assert.Null(JobScheduler.LatestOccurrence(cron, TimeZoneInfo.Utc, after, after.AddSeconds(6)));
    }

    [Fact]
    public async Task RunsNeverOverlapAndTimesPassedDuringARunAreNotReplayed()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 1, 0, 0, 30, TimeSpan.Zero));
        var job = new RecordingJob("minutely") { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        using var host = Host(job, new JobSchedule { Cron = "* * * * *" }, time, JobLeaseKind.None);
        var scheduler = host.Scheduler();
        await scheduler.StartAsync(CancellationToken.None);
        try
        {
            await WaitUntilAsync(() => scheduler.NextRuns.ContainsKey("minutely"), "the first run is scheduled");
            time.Advance(TimeSpan.FromSeconds(30));
            await WaitUntilAsync(() => job.Runs.Count == 1, "the first run starts");

            for (var i = 0; i < 3; i++)
            {
                time.Advance(TimeSpan.FromMinutes(1));
                await Task.Delay(30);
            }

            Assert.Null(await scheduler.RunNowAsync("minutely")); // not beside the scheduled run either
            job.Gate.SetResult();
            await WaitUntilAsync(() => scheduler.NextRuns["minutely"] == new DateTimeOffset(2026, 6, 1, 0, 5, 0, TimeSpan.Zero), "the next run is the next future minute");
            Assert.Single(job.Runs);
            Assert.Equal(1, job.MaxConcurrent);
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ARunPastItsTimeoutIsCancelledAndRecordedAsTimedOut()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero));
        var job = new RecordingJob("slow") { WaitForCancellation = true };
        using var host = Host(job, new JobSchedule { Cron = "0 * * * *", Timeout = TimeSpan.FromMinutes(5) }, time, JobLeaseKind.None);
        var scheduler = host.Scheduler();
        var records = host.Services.GetRequiredService<IJobRecords>();
        await scheduler.StartAsync(CancellationToken.None);
        try
        {
            await WaitUntilAsync(() => scheduler.NextRuns.ContainsKey("slow"), "the run is scheduled");
            time.Advance(TimeSpan.FromHours(1));
            await WaitUntilAsync(() => job.Runs.Count == 1, "the run starts");
            time.Advance(TimeSpan.FromMinutes(5));
            JobRun? last = null;
            await WaitUntilAsync(() => (last = records.GetLastAsync("slow").GetAwaiter().GetResult()) is not null, "the run is recorded");
            Assert.Equal(JobOutcome.TimedOut, last!.Outcome);
            Assert.Equal("timed out after 00:05:00", last.Failure);
            Assert.Equal(new DateTimeOffset(2026, 6, 1, 1, 0, 0, TimeSpan.Zero), last.ScheduledAt);
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
        }
    }
}
