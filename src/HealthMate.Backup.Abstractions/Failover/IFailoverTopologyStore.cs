namespace HealthMate.Backup.Failover;

/// <summary>
/// Which server is a component's primary now, as its last failover decided: kept in the store so that every host,
/// and a host that restarts, agrees on it, and never adopts an older primary that comes back.
/// </summary>
/// <param name="Component">The component (<c>database</c>).</param>
/// <param name="Primary">The primary's address (<c>host:port</c>); never holds credentials.</param>
/// <param name="Timeline">The primary's timeline (PostgreSQL's timeline id; each promotion raises it), or 0 when the
/// component has none.</param>
/// <param name="FencingToken">The failover lease's fencing token under which the record was written.</param>
/// <param name="At">When it was written.</param>
/// <param name="Reason">Why (the failover's reason).</param>
public sealed record FailoverTopology(string Component, string Primary, long Timeline, long FencingToken, DateTimeOffset At, string Reason);

/// <summary>
/// Keeps each component's <see cref="FailoverTopology"/>. Records are authenticated and written once; of several, the
/// one with the highest fencing token wins, so a replaced decider (a smaller token) can never overwrite a newer one.
/// </summary>
public interface IFailoverTopologyStore
{
    /// <summary>Reads a component's newest topology record.</summary>
    /// <param name="component">The component.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The record, or <see langword="null"/> when no failover was ever recorded.</returns>
    /// <exception cref="BackupFormatException">The newest record fails authentication (it was not written by a holder
    /// of the key): nothing may be adopted from it.</exception>
    Task<FailoverTopology?> ReadAsync(string component, CancellationToken cancellationToken = default);

    /// <summary>Writes a record under its fencing token.</summary>
    /// <param name="topology">The record.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> if it is now the newest; <see langword="false"/> if a record with the same or a
    /// higher fencing token exists (a newer decider wrote it).</returns>
    Task<bool> WriteAsync(FailoverTopology topology, CancellationToken cancellationToken = default);
}
