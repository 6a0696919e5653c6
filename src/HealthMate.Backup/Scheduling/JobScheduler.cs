using System.Collections.Concurrent;
using Cronos;
using HealthMate.Backup.Leases;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup.Scheduling;

/// <summary>Runs scheduled jobs on demand, outside their schedule, under the same lease and records.</summary>
public interface IJobScheduler
{
    /// <summary>Runs a registered job now (as if scheduled for the current time), under its lease.</summary>
    /// <param name="jobName">The job's name.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The run's record, or <see langword="null"/> if another host holds the job's lease.</returns>
    /// <exception cref="ArgumentException">No job has that name.</exception>
    Task<JobRun?> RunNowAsync(string jobName, CancellationToken cancellationToken = default);
}

/// <summary>
/// The hosted service behind <c>AddBackupSchedules()</c>: one loop per job that waits (on the host's
/// <see cref="TimeProvider"/>) for the job's next cron time in its time zone, takes the job's lease, checks the
/// job's records so a time another host already ran is not run again, and runs the job with its timeout while
/// renewing the lease. Runs never overlap: times that pass while the job runs are skipped.
/// </summary>
internal sealed class JobScheduler : BackgroundService, IJobScheduler
{
    private readonly IReadOnlyDictionary<string, IScheduledJob> _jobs;
    private readonly SchedulingOptions _options;
    private readonly JobRecords _records;
    private readonly ILeaseProvider? _leases;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _nextRuns = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _running = new(StringComparer.Ordinal);

    public JobScheduler(IEnumerable<IScheduledJob> jobs, IOptions<BackupDROptions> options, JobRecords records, BackupEnvironment environment, IServiceProvider services)
    {
        _jobs = jobs.GroupBy(j => j.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        _options = options.Value.Schedules;
        _records = records;
        _time = environment.TimeProvider;
        _logger = environment.LoggerFactory.CreateLogger<JobScheduler>();
        _leases = _options.Lease switch
        {
            JobLeaseKind.Storage => LeaseProviders.Storage(environment),
            JobLeaseKind.Registered => LeaseProviders.Registered(services, "Schedules:Lease"),
            _ => null,
        };
    }

    /// <summary>The time each job waits for next (for tests and status).</summary>
    internal IReadOnlyDictionary<string, DateTimeOffset> NextRuns => _nextRuns;

    public async Task<JobRun?> RunNowAsync(string jobName, CancellationToken cancellationToken = default)
    {
        if (!_jobs.TryGetValue(jobName, out var job))
        {
            throw new ArgumentException($"No scheduled job is named '{jobName}'. Registered: {string.Join(", ", _jobs.Keys.Order(StringComparer.Ordinal))}.", nameof(jobName));
        }

        var schedule = _options.Resolve(jobName) ?? new JobSchedule();
        return await RunOccurrenceAsync(job, schedule, null, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            return;
        }

        var loops = new List<Task>();
        foreach (var job in _jobs.Values)
        {
            var schedule = _options.Resolve(job.Name);
            if (schedule is { Enabled: true, Cron: not null })
            {
                loops.Add(RunLoopAsync(job, schedule, stoppingToken));
            }
        }

        await Task.WhenAll(loops).ConfigureAwait(false);
    }

    internal static CronExpression ParseCron(string cron) =>
        CronExpression.Parse(cron, cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);

    internal static TimeZoneInfo FindZone(string id) => TimeZoneInfo.FindSystemTimeZoneById(id);

    private async Task RunLoopAsync(IScheduledJob job, JobSchedule schedule, CancellationToken stoppingToken)
    {
        var cron = ParseCron(schedule.Cron!);
        var zone = FindZone(schedule.TimeZone ?? _options.TimeZone);
        try
        {
            await RunMissedAsync(job, schedule, cron, zone, stoppingToken).ConfigureAwait(false);
            var from = _time.GetUtcNow();
            while (!stoppingToken.IsCancellationRequested)
            {
                var next = cron.GetNextOccurrence(from, zone);
                if (next is null)
                {
                    return;
                }

                var jitter = schedule.Jitter > TimeSpan.Zero ? TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * schedule.Jitter.Ticks)) : TimeSpan.Zero;
                var delay = next.Value - _time.GetUtcNow() + jitter;
                var wait = delay > TimeSpan.Zero ? Task.Delay(delay, _time, stoppingToken) : Task.CompletedTask;

                // Published once the timer exists: whoever sees the next time (a test moving a fake clock) moves the clock the timer runs on.
                _nextRuns[job.Name] = next.Value;
                await wait.ConfigureAwait(false);

                await RunOccurrenceAsync(job, schedule, t => cron.GetNextOccurrence(t, zone), next.Value, stoppingToken).ConfigureAwait(false);

                // No overlap: the times that passed while the job ran are skipped, not run back to back.
                var now = _time.GetUtcNow();
                var skipped = cron.GetOccurrences(next.Value, now, zone, fromInclusive: false, toInclusive: true).Take(10_000).Count();
                if (skipped > 0)
                {
                    Log.JobOccurrencesSkipped(_logger, job.Name, skipped);
                }

                from = now > next.Value ? now : next.Value;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RunMissedAsync(IScheduledJob job, JobSchedule schedule, CronExpression cron, TimeZoneInfo zone, CancellationToken stoppingToken)
    {
        JobRun? last;
        try
        {
            last = await _records.GetLastAsync(job.Name, stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.JobRecordsUnreadable(_logger, ex, job.Name);
            return;
        }

        if (last is null)
        {
            return; // never ran anywhere: nothing was missed
        }

        var now = _time.GetUtcNow();
        var missed = LatestOccurrence(cron, zone, last.ScheduledAt, now);
        if (missed is null)
        {
            return;
        }

        if (schedule.MissedRuns == MissedRunPolicy.Skip)
        {
            Log.JobMissedRunSkipped(_logger, job.Name, missed.Value);
            return;
        }

        Log.JobMissedRunStarting(_logger, job.Name, missed.Value);
        await RunOccurrenceAsync(job, schedule, t => cron.GetNextOccurrence(t, zone), missed.Value, stoppingToken).ConfigureAwait(false);
    }

    /// <summary>The latest time in (<paramref name="after"/>, <paramref name="upTo"/>], looked for in windows that
    /// double back from <paramref name="upTo"/>, so a per-second schedule after a month down stays cheap.</summary>
    internal static DateTimeOffset? LatestOccurrence(CronExpression cron, TimeZoneInfo zone, DateTimeOffset after, DateTimeOffset upTo)
    {
        if (cron.GetNextOccurrence(after, zone) is not { } first || first > upTo)
        {
            return null;
        }

        for (var window = TimeSpan.FromMinutes(1); ; window += window)
        {
            var from = upTo - window > first ? upTo - window : first;
            if (cron.GetOccurrences(from, upTo, zone, fromInclusive: true, toInclusive: true).Select(o => (DateTimeOffset?)o).LastOrDefault() is { } latest)
            {
                return latest;
            }
        }
    }

    /// <summary>Runs one scheduled time under the job's lease, unless another host has already run it.</summary>
    private async Task<JobRun?> RunOccurrenceAsync(IScheduledJob job, JobSchedule schedule, Func<DateTimeOffset, DateTimeOffset?>? nextAfter, DateTimeOffset scheduledAt, CancellationToken stoppingToken)
    {
        var gate = _running.GetOrAdd(job.Name, _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(0, stoppingToken).ConfigureAwait(false))
        {
            Log.JobOccurrencesSkipped(_logger, job.Name, 1);
            return null; // RunNow beside a scheduled run: never two at once in one host
        }

        try
        {
            if (_leases is null)
            {
                return await RunAsync(job, schedule, scheduledAt, null, stoppingToken).ConfigureAwait(false);
            }

            var duration = _options.LeaseDuration;
            var retry = TimeSpan.FromTicks(Math.Clamp(duration.Ticks / 4, TimeSpan.FromMilliseconds(250).Ticks, TimeSpan.FromSeconds(15).Ticks));
            while (true)
            {
                var lease = await TryAcquireAsync(job.Name, duration, stoppingToken).ConfigureAwait(false);
                if (lease is not null)
                {
                    await using (lease.ConfigureAwait(false))
                    {
                        var last = await _records.GetLastAsync(job.Name, stoppingToken).ConfigureAwait(false);
                        if (last is not null && last.ScheduledAt >= scheduledAt)
                        {
                            Log.JobAlreadyRan(_logger, job.Name, scheduledAt, last.Host ?? "another host");
                            return null;
                        }

                        return await RunAsync(job, schedule, scheduledAt, lease, stoppingToken).ConfigureAwait(false);
                    }
                }

                if (nextAfter is null)
                {
                    return null; // an on-demand run does not wait for another host's run
                }

                // Another host holds the lease: wait until it records this time, or its lease expires (it died).
                await Task.Delay(retry, _time, stoppingToken).ConfigureAwait(false);
                if (await TryGetLastAsync(job.Name, stoppingToken).ConfigureAwait(false) is { } done && done.ScheduledAt >= scheduledAt)
                {
                    return null;
                }

                if (nextAfter(scheduledAt) is { } following && following <= _time.GetUtcNow())
                {
                    Log.JobOccurrencesSkipped(_logger, job.Name, 1);
                    return null; // the next time is due: that run takes over
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<ILease?> TryAcquireAsync(string jobName, TimeSpan duration, CancellationToken cancellationToken)
    {
        try
        {
            return await _leases!.TryAcquireAsync("job." + jobName, duration, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.JobLeaseUnavailable(_logger, ex, jobName);
            return null;
        }
    }

    private async Task<JobRun?> TryGetLastAsync(string jobName, CancellationToken cancellationToken)
    {
        try
        {
            return await _records.GetLastAsync(jobName, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.JobRecordsUnreadable(_logger, ex, jobName);
            return null;
        }
    }

    private async Task<JobRun?> RunAsync(IScheduledJob job, JobSchedule schedule, DateTimeOffset scheduledAt, ILease? lease, CancellationToken stoppingToken)
    {
        var startedAt = _time.GetUtcNow();
        using var timeout = new CancellationTokenSource(schedule.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timeout.Token, lease?.Lost ?? CancellationToken.None);
        using var stopRenewal = new CancellationTokenSource();
        var renewal = lease is null ? Task.CompletedTask : RenewAsync(lease, stopRenewal.Token);
        Log.JobStarted(_logger, job.Name, scheduledAt, lease?.FencingToken ?? 0);
        var outcome = JobOutcome.Succeeded;
        string? summary = null;
        Exception? error = null;
        try
        {
            summary = await job.RunAsync(new ScheduledJobContext(job.Name, scheduledAt, lease), linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Boundary: whatever the job threw is its run's outcome, recorded and logged; the schedule goes on.
            error = ex;
            outcome = ex switch
            {
                LeaseLostException => JobOutcome.LeaseLost,
                OperationCanceledException when lease is not null && lease.Lost.IsCancellationRequested && !stoppingToken.IsCancellationRequested => JobOutcome.LeaseLost,
                OperationCanceledException when timeout.IsCancellationRequested && !stoppingToken.IsCancellationRequested => JobOutcome.TimedOut,
                OperationCanceledException when stoppingToken.IsCancellationRequested => JobOutcome.Cancelled,
                _ => JobOutcome.Failed,
            };
        }
        finally
        {
            await stopRenewal.CancelAsync().ConfigureAwait(false);
            await renewal.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        var run = new JobRun
        {
            RunId = Catalog.BackupId.New(_time),
            Job = job.Name,
            ScheduledAt = scheduledAt,
            StartedAt = startedAt,
            CompletedAt = _time.GetUtcNow(),
            Outcome = outcome,
            Summary = summary,
            Failure = error is null ? null : outcome == JobOutcome.TimedOut ? $"timed out after {schedule.Timeout}" : error.Message,
            FencingToken = lease?.FencingToken ?? 0,
            Host = Environment.MachineName,
        };
        BackupTelemetry.RecordJob(job.Name, outcome, run.CompletedAt - run.StartedAt);
        if (outcome == JobOutcome.Succeeded)
        {
            Log.JobSucceeded(_logger, job.Name, scheduledAt, (long)(run.CompletedAt - run.StartedAt).TotalMilliseconds, summary ?? string.Empty);
        }
        else
        {
            Log.JobFailed(_logger, error, job.Name, scheduledAt, outcome);
        }

        await RecordAsync(run, lease, stoppingToken).ConfigureAwait(false);
        return run;
    }

    /// <summary>Records a run, but only while holding the lease (a fenced holder must not claim the time) and not
    /// when the host stopped it (another host, or this one on restart, runs that time instead).</summary>
    private async Task RecordAsync(JobRun run, ILease? lease, CancellationToken stoppingToken)
    {
        if (run.Outcome is JobOutcome.Cancelled or JobOutcome.LeaseLost)
        {
            return;
        }

        try
        {
            if (lease is not null)
            {
                await lease.EnsureHeldAsync(stoppingToken).ConfigureAwait(false);
            }

            await _records.AddAsync(run, stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.JobRecordsUnwritable(_logger, ex, run.Job);
        }
    }

    private async Task RenewAsync(ILease lease, CancellationToken stop)
    {
        var interval = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(100).Ticks, _options.LeaseDuration.Ticks / 3));
        while (!stop.IsCancellationRequested)
        {
            await Task.Delay(interval, _time, stop).ConfigureAwait(false);
            if (!await lease.RenewAsync(stop).ConfigureAwait(false))
            {
                Log.JobLeaseLost(_logger, lease.Name, lease.FencingToken);
                return;
            }
        }
    }
}
