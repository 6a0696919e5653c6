namespace HealthMate.Backup.Scheduling;

/// <summary>A job the scheduler runs on its cron schedule (register with <c>AddScheduledJob</c>).</summary>
public interface IScheduledJob
{
    /// <summary>Gets the job's name (1 to 32 lower-case letters, digits and '-'): the key of its schedule, lease and records.</summary>
    string Name { get; }

    /// <summary>Runs the job once.</summary>
    /// <param name="context">The run: its scheduled time, lease and commit check.</param>
    /// <param name="cancellationToken">Cancelled on timeout, lease loss or host shutdown.</param>
    /// <returns>What the run did, for its record (a short line such as <c>backup 2026... committed</c>), or null.</returns>
    Task<string?> RunAsync(ScheduledJobContext context, CancellationToken cancellationToken);
}

/// <summary>One run of a scheduled job.</summary>
public sealed class ScheduledJobContext
{
    internal ScheduledJobContext(string jobName, DateTimeOffset scheduledAt, Leases.ILease? lease)
    {
        JobName = jobName;
        ScheduledAt = scheduledAt;
        Lease = lease;
    }

    /// <summary>Gets the job's name.</summary>
    public string JobName { get; }

    /// <summary>Gets the scheduled time this run is for (the same on every host).</summary>
    public DateTimeOffset ScheduledAt { get; }

    /// <summary>Gets the lease the run holds, or <see langword="null"/> when jobs run without one.</summary>
    public Leases.ILease? Lease { get; }

    /// <summary>Gets the fencing token of the run's lease, or 0 without a lease.</summary>
    public long FencingToken => Lease?.FencingToken ?? 0;

    /// <summary>Checks the run still holds its lease; pass it as <see cref="BackupRequest.BeforeCommit"/> so a run that
    /// lost its lease stops before committing.</summary>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>A task that completes when the lease is confirmed.</returns>
    /// <exception cref="Leases.LeaseLostException">The lease was lost.</exception>
    public ValueTask EnsureLeaseAsync(CancellationToken cancellationToken) =>
        Lease is null ? ValueTask.CompletedTask : new ValueTask(Lease.EnsureHeldAsync(cancellationToken));
}
