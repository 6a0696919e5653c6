using System.Collections.Concurrent;
using HealthMate.Backup.Scheduling;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Scheduling;

/// <summary>A job that records each run and can be made to block or to wait for cancellation.</summary>
internal sealed class RecordingJob(string name) : IScheduledJob
{
    private int _running;

    public string Name => name;

    internal ConcurrentQueue<(DateTimeOffset ScheduledAt, long Token, string Host)> Runs { get; } = new();

    internal int MaxConcurrent { get; private set; }

    internal TaskCompletionSource? Gate { get; set; }

    internal bool WaitForCancellation { get; set; }

    internal string HostName { get; set; } = "host";

    internal Action<ScheduledJobContext>? OnRun { get; set; }

    public async Task<string?> RunAsync(ScheduledJobContext context, CancellationToken cancellationToken)
    {
        var now = Interlocked.Increment(ref _running);
        MaxConcurrent = Math.Max(MaxConcurrent, now);
        try
        {
            Runs.Enqueue((context.ScheduledAt, context.FencingToken, HostName));
            OnRun?.Invoke(context);
            if (Gate is { } gate)
            {
                await gate.Task.WaitAsync(cancellationToken);
            }

            if (WaitForCancellation)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            await context.EnsureLeaseAsync(cancellationToken);
            return "recorded";
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }
}

internal static class SchedulerSupport
{
    /// <summary>A host whose only scheduled job is <paramref name="job"/> (the built-in ones are switched off).</summary>
    internal static TestHost Host(RecordingJob job, JobSchedule schedule, TimeProvider time, JobLeaseKind lease, string? root = null, byte[]? key = null, Action<IServiceCollection>? more = null) =>
        new(o =>
        {
            o.Schedules.Lease = lease;
            o.Schedules.LeaseDuration = TimeSpan.FromSeconds(5);
            foreach (var builtIn in JobSchedule.Defaults.Keys)
            {
                o.Schedules.Jobs[builtIn] = new JobSchedule { Enabled = false };
            }

            o.Schedules.Jobs[job.Name] = schedule;
        }, root, key, keepRoot: root is not null, services: services =>
        {
            services.AddSingleton(time);
            services.AddBackupDR().AddBackupSchedules();
            services.AddSingleton<IScheduledJob>(job);
            more?.Invoke(services);
        });

    internal static JobScheduler Scheduler(this TestHost host) => host.Services.GetRequiredService<JobScheduler>();

    internal static async Task WaitUntilAsync(Func<bool> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(5);
        }
    }
}
