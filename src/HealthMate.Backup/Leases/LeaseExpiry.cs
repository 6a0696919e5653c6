namespace HealthMate.Backup.Leases;

/// <summary>A held lease's end on the holder's monotonic clock: <see cref="Token"/> is cancelled when the lease's time
/// is up unless extended, or at once when the lease is found lost. Shared by every lease provider.</summary>
/// <remarks>
/// The end is counted from a timestamp the holder takes just before it sends the grant or renewal
/// (<see cref="TimeProvider.GetTimestamp"/>), and measured with <see cref="TimeProvider.GetElapsedTime(long)"/> and a
/// timer created from the same <see cref="TimeProvider"/>; never from <see cref="TimeProvider.GetUtcNow"/>, so a step
/// of the wall clock (NTP, an operator, a VM's clock catching up) neither extends nor shortens it. Only
/// <see cref="ExpiresAt"/> reads the wall clock, for display.
/// </remarks>
internal sealed class LeaseExpiry : IDisposable
{
    private readonly CancellationTokenSource _lost;
    private readonly TimeProvider _time;
    private long _end;

    /// <summary>Initializes a new instance of the <see cref="LeaseExpiry"/> class.</summary>
    /// <param name="sentAt">The holder's timestamp taken just before it sent the grant.</param>
    /// <param name="validFor">How long after <paramref name="sentAt"/> the holder may consider the lease its own.</param>
    /// <param name="time">The clock.</param>
    internal LeaseExpiry(long sentAt, TimeSpan validFor, TimeProvider time)
    {
        _time = time;
        _end = sentAt + ToTimestampTicks(validFor, time);
        _lost = new CancellationTokenSource(Clamp(Remaining), time);
    }

    /// <summary>Gets when the lease ends unless renewed, as a wall-clock time for display: now plus what is left.</summary>
    internal DateTimeOffset ExpiresAt => _time.GetUtcNow() + Clamp(Remaining);

    internal CancellationToken Token => _lost.Token;

    /// <summary>Gets whether the lease was lost or its time is up.</summary>
    internal bool HasLapsed => _lost.IsCancellationRequested || Remaining <= TimeSpan.Zero;

    /// <summary>Gets the holder's monotonic timestamp now; take it just before sending a renewal.</summary>
    internal long Timestamp() => _time.GetTimestamp();

    /// <summary>Moves the end to <paramref name="validFor"/> after <paramref name="sentAt"/>; never earlier than it is.</summary>
    /// <param name="sentAt">The timestamp taken just before the renewal was sent.</param>
    /// <param name="validFor">How long after <paramref name="sentAt"/> the lease stays the holder's.</param>
    internal void Extend(long sentAt, TimeSpan validFor)
    {
        var end = sentAt + ToTimestampTicks(validFor, _time);
        if (end <= _end || _lost.IsCancellationRequested)
        {
            return;
        }

        _end = end;
        _lost.CancelAfter(Clamp(Remaining));
    }

    internal void MarkLost()
    {
        try
        {
            _lost.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose() => _lost.Dispose();

    private TimeSpan Remaining => _time.GetElapsedTime(_time.GetTimestamp(), _end);

    private static TimeSpan Clamp(TimeSpan remaining) => remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;

    private static long ToTimestampTicks(TimeSpan span, TimeProvider time) =>
        (long)(span.Ticks * ((double)time.TimestampFrequency / TimeSpan.TicksPerSecond));
}
