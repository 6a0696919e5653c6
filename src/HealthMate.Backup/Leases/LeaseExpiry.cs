namespace HealthMate.Backup.Leases;

/// <summary>A held lease's end, by the holder's clock: <see cref="Token"/> is cancelled at <see cref="ExpiresAt"/>
/// unless extended, or at once when the lease is found lost. Shared by every lease provider.</summary>
internal sealed class LeaseExpiry : IDisposable
{
    private readonly CancellationTokenSource _lost;
    private readonly TimeProvider _time;

    internal LeaseExpiry(DateTimeOffset expiresAt, TimeProvider time)
    {
        _time = time;
        ExpiresAt = expiresAt;
        _lost = new CancellationTokenSource(Remaining(expiresAt), time);
    }

    internal DateTimeOffset ExpiresAt { get; private set; }

    internal CancellationToken Token => _lost.Token;

    /// <summary>Gets whether the lease was lost or its time is up.</summary>
    internal bool HasLapsed => _lost.IsCancellationRequested || _time.GetUtcNow() >= ExpiresAt;

    internal DateTimeOffset Now => _time.GetUtcNow();

    internal void Extend(DateTimeOffset expiresAt)
    {
        ExpiresAt = expiresAt;
        _lost.CancelAfter(Remaining(expiresAt));
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

    private TimeSpan Remaining(DateTimeOffset expiresAt)
    {
        var remaining = expiresAt - _time.GetUtcNow();
        return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
    }
}
