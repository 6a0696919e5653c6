namespace HealthMate.Backup.Leases;

/// <summary>
/// Grants named leader leases so that, of N replicas of a host app, one runs a job at a time. A lease has an expiry,
/// is renewed by its holder while it works, and carries a fencing token that grows with every grant of the same name.
/// A holder that dies stops renewing and its lease expires by itself: nothing ever needs a manual "break-lock".
/// </summary>
public interface ILeaseProvider
{
    /// <summary>Tries once to take the lease; never waits for a holder to let go. A lease whose holder stopped renewing
    /// becomes free only once it has expired by the measure of the provider (for the storage lease: once this provider
    /// has itself seen the holder's last record unchanged for its duration plus a margin), so call again later.</summary>
    /// <param name="name">The lease's name (1 to 64 lower-case letters, digits, '-' and '.').</param>
    /// <param name="duration">How long the lease lasts without renewal (at least one second).</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>The held lease, or <see langword="null"/> when another holder has it (or may still have it).</returns>
    Task<ILease?> TryAcquireAsync(string name, TimeSpan duration, CancellationToken cancellationToken = default);
}

/// <summary>A held leader lease. Dispose it to release it (another holder can then take it at once).</summary>
public interface ILease : IAsyncDisposable
{
    /// <summary>Gets the lease's name.</summary>
    string Name { get; }

    /// <summary>Gets the fencing token: larger than the token of every earlier grant of this name, so a store or a
    /// peer can refuse work from a holder that has since been replaced.</summary>
    long FencingToken { get; }

    /// <summary>Gets when the lease expires unless renewed, for display: the holder's wall clock now plus the time left
    /// on its monotonic clock (a margin before any other holder may take it over). Providers do not compare it with
    /// another clock; a wall-clock step moves this value, not the expiry.</summary>
    DateTimeOffset ExpiresAt { get; }

    /// <summary>Gets a token cancelled when the lease is lost: a renewal failed or found another holder, or it expired
    /// by the holder's monotonic clock.</summary>
    CancellationToken Lost { get; }

    /// <summary>Extends the lease by its duration.</summary>
    /// <param name="cancellationToken">Cancels the renewal.</param>
    /// <returns><see langword="true"/> if the lease is still held; <see langword="false"/> if it was lost (and <see cref="Lost"/> is cancelled).</returns>
    Task<bool> RenewAsync(CancellationToken cancellationToken = default);

    /// <summary>Checks with the lease's store that this holder still holds the lease and has time left; call it
    /// immediately before committing work.</summary>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>A task that completes when the lease is confirmed.</returns>
    /// <exception cref="LeaseLostException">The lease expired or another holder took it.</exception>
    Task EnsureHeldAsync(CancellationToken cancellationToken = default);
}

/// <summary>A lease holder lost its lease (it expired, or another holder took it) and must not commit.</summary>
public sealed class LeaseLostException : BackupException
{
    /// <summary>Initializes a new instance of the <see cref="LeaseLostException"/> class.</summary>
    /// <param name="name">The lease's name.</param>
    /// <param name="fencingToken">The token the holder had.</param>
    /// <param name="reason">What happened.</param>
    public LeaseLostException(string name, long fencingToken, string reason)
        : base($"Lease '{name}' (fencing token {fencingToken}) is no longer held: {reason}. The work done under it was not committed.")
    {
        Name = name;
        FencingToken = fencingToken;
    }

    /// <summary>Gets the lease's name.</summary>
    public string Name { get; }

    /// <summary>Gets the fencing token the holder had.</summary>
    public long FencingToken { get; }
}
