using System.Collections.Concurrent;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Telemetry;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Failover;

/// <summary>A decision waiting for a person.</summary>
/// <param name="Id">The request's id.</param>
/// <param name="Subject">What it is about (<c>failover:database</c>, <c>playbook:region-outage/restore-database</c>).</param>
/// <param name="Description">What will happen if approved.</param>
/// <param name="RequestedAt">When it was asked.</param>
/// <param name="ExpiresAt">When it counts as rejected if nobody answered.</param>
public sealed record ApprovalRequest(string Id, string Subject, string Description, DateTimeOffset RequestedAt, DateTimeOffset ExpiresAt);

/// <summary>A person's answer.</summary>
/// <param name="Approved">Whether it was approved.</param>
/// <param name="By">Who answered (<c>timeout</c> when nobody did).</param>
/// <param name="Reason">Why, if given.</param>
public sealed record ApprovalDecision(bool Approved, string By, string? Reason);

/// <summary>
/// Manual approval gates for failovers and playbook steps. Requests wait in this host until someone calls
/// <see cref="Approve"/> or <see cref="Reject"/> (through the host's own UI or API), or they expire (rejected).
/// </summary>
public interface IApprovalGate
{
    /// <summary>Raised when a request starts waiting.</summary>
    event EventHandler<ApprovalRequest>? Requested;

    /// <summary>Gets the requests waiting now.</summary>
    IReadOnlyList<ApprovalRequest> Pending { get; }

    /// <summary>Asks for approval and waits for the answer, the expiry, or cancellation.</summary>
    /// <param name="subject">What it is about.</param>
    /// <param name="description">What will happen if approved.</param>
    /// <param name="timeout">How long to wait before counting it rejected.</param>
    /// <param name="cancellationToken">Cancels the wait (the request is withdrawn).</param>
    /// <returns>The answer.</returns>
    Task<ApprovalDecision> RequestAsync(string subject, string description, TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Approves a waiting request.</summary>
    /// <param name="id">The request's id.</param>
    /// <param name="by">Who approves.</param>
    /// <returns><see langword="false"/> if no such request waits.</returns>
    bool Approve(string id, string by);

    /// <summary>Rejects a waiting request.</summary>
    /// <param name="id">The request's id.</param>
    /// <param name="by">Who rejects.</param>
    /// <param name="reason">Why.</param>
    /// <returns><see langword="false"/> if no such request waits.</returns>
    bool Reject(string id, string by, string? reason = null);
}

/// <summary>The in-process gate.</summary>
internal sealed class ApprovalGate(TimeProvider timeProvider, ILoggerFactory loggerFactory) : IApprovalGate
{
    private readonly ConcurrentDictionary<string, (ApprovalRequest Request, TaskCompletionSource<ApprovalDecision> Answer)> _pending = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggerFactory.CreateLogger<ApprovalGate>();

    public event EventHandler<ApprovalRequest>? Requested;

    public IReadOnlyList<ApprovalRequest> Pending => [.. _pending.Values.Select(p => p.Request).OrderBy(r => r.Id, StringComparer.Ordinal)];

    public async Task<ApprovalDecision> RequestAsync(string subject, string description, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subject);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        var now = timeProvider.GetUtcNow();
        var request = new ApprovalRequest(BackupId.New(timeProvider), subject, description, now, now + timeout);
        var answer = new TaskCompletionSource<ApprovalDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[request.Id] = (request, answer);
        try
        {
            Log.ApprovalRequested(_logger, request.Id, subject, description);
            Requested?.Invoke(this, request);
            try
            {
                return await answer.Task.WaitAsync(timeout, timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return new ApprovalDecision(false, "timeout", $"nobody answered within {timeout}");
            }
        }
        finally
        {
            _pending.TryRemove(request.Id, out _);
        }
    }

    public bool Approve(string id, string by) => Answer(id, new ApprovalDecision(true, by, null));

    public bool Reject(string id, string by, string? reason = null) => Answer(id, new ApprovalDecision(false, by, reason));

    private bool Answer(string id, ApprovalDecision decision)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(decision.By);
        return _pending.TryGetValue(id, out var pending) && pending.Answer.TrySetResult(decision);
    }
}
