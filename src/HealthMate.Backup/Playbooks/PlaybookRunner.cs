using System.Globalization;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Recovery;
using HealthMate.Backup.Telemetry;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Playbooks;

/// <summary>How to run a playbook.</summary>
public sealed record PlaybookRunOptions
{
    /// <summary>Gets the mode: live, dry run, or drill.</summary>
    public PlaybookMode Mode { get; init; }

    /// <summary>Gets who starts the run, for the audit trail.</summary>
    public string Actor { get; init; } = "system";

    /// <summary>Gets why.</summary>
    public string Reason { get; init; } = string.Empty;

    /// <summary>Gets when the outage started (the RTO clock's start), if known before the run; defaults to the run's start.</summary>
    public DateTimeOffset? OutageStartedAt { get; init; }
}

/// <summary>Runs disaster-recovery playbooks: the built-in ones (<c>database-failure</c>, <c>region-outage</c>,
/// <c>application-failure</c>), those in <c>BackupDR:Playbooks</c>, and those registered with <c>AddPlaybook</c>.</summary>
public interface IPlaybookRunner
{
    /// <summary>Gets every playbook by name.</summary>
    IReadOnlyList<PlaybookDefinition> Playbooks { get; }

    /// <summary>Runs a playbook by name.</summary>
    /// <param name="playbook">The name.</param>
    /// <param name="options">Mode, actor, reason.</param>
    /// <param name="cancellationToken">Cancels the run: the current step is cancelled, completed steps are compensated.</param>
    /// <returns>The run's report (also stored, with an audit record).</returns>
    Task<PlaybookRunReport> RunAsync(string playbook, PlaybookRunOptions options, CancellationToken cancellationToken = default);

    /// <summary>Runs a playbook.</summary>
    /// <param name="playbook">The playbook.</param>
    /// <param name="options">Mode, actor, reason.</param>
    /// <param name="cancellationToken">Cancels the run: the current step is cancelled, completed steps are compensated.</param>
    /// <returns>The run's report (also stored, with an audit record).</returns>
    Task<PlaybookRunReport> RunAsync(PlaybookDefinition playbook, PlaybookRunOptions options, CancellationToken cancellationToken = default);
}

/// <summary>Step data keys the engine reads.</summary>
public static class PlaybookStepData
{
    /// <summary>A step that measured the committed data it could not recover reports it under this key, in seconds;
    /// the run's achieved RPO is the largest such value.</summary>
    public const string DataLossSeconds = "data_loss_seconds";
}

/// <summary>The playbook engine.</summary>
internal sealed class PlaybookRunner : IPlaybookRunner
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, PlaybookDefinition> _playbooks;
    private readonly RecoveryRecords _records;
    private readonly IApprovalGate _approvals;
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public PlaybookRunner(IEnumerable<PlaybookDefinition> registered, BackupEnvironment environment, RecoveryRecords records, IApprovalGate approvals, IServiceProvider services)
    {
        _playbooks = BuiltInPlaybooks.Create(environment.Options.Playbooks)
            .Concat(PlaybookConfiguration.Create(environment.Options.Playbooks))
            .Concat(registered)
            .GroupBy(p => p.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        _records = records;
        _approvals = approvals;
        _services = services;
        _time = environment.TimeProvider;
        _logger = environment.LoggerFactory.CreateLogger<PlaybookRunner>();
    }

    public IReadOnlyList<PlaybookDefinition> Playbooks => [.. _playbooks.Values.OrderBy(p => p.Name, StringComparer.Ordinal)];

    public Task<PlaybookRunReport> RunAsync(string playbook, PlaybookRunOptions options, CancellationToken cancellationToken = default) =>
        _playbooks.TryGetValue(playbook ?? throw new ArgumentNullException(nameof(playbook)), out var definition)
            ? RunAsync(definition, options, cancellationToken)
            : throw new ArgumentException($"No playbook is named '{playbook}'. Known: {string.Join(", ", _playbooks.Keys.Order(StringComparer.Ordinal))}.", nameof(playbook));

    public async Task<PlaybookRunReport> RunAsync(PlaybookDefinition playbook, PlaybookRunOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(playbook);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Actor);
        var objective = playbook.Tier is null ? null : _records.Objective(playbook.Tier)
            ?? throw new ArgumentException($"Playbook '{playbook.Name}' names tier '{playbook.Tier}', which BackupDR:Objectives:Tiers does not define.", nameof(playbook));
        var rtoObjective = objective?.Rto ?? playbook.Rto;
        var rpoObjective = objective?.Rpo ?? playbook.Rpo;
        var runId = _records.NewId();
        var startedAt = _time.GetUtcNow();
        var outageStartedAt = options.OutageStartedAt ?? startedAt;
        var context = new PlaybookStepContext(playbook.Name, runId, options.Mode == PlaybookMode.Drill, _services, outageStartedAt);
        var mode = options.Mode.ToString();
        var steps = playbook.Steps.Select(s => new PlaybookStepReport { Name = s.Step.Name, Description = s.Step.Describe() }).ToArray();
        var outcome = PlaybookOutcome.Succeeded;
        var completed = new List<int>();
        TimeSpan? dataLoss = null;
        for (var i = 0; i < playbook.Steps.Count && outcome == PlaybookOutcome.Succeeded; i++)
        {
            var definition = playbook.Steps[i];
            if (cancellationToken.IsCancellationRequested)
            {
                outcome = PlaybookOutcome.Cancelled;
                break;
            }

            steps[i] = await RunStepAsync(definition, steps[i], context, options.Mode, cancellationToken).ConfigureAwait(false);
            Log.PlaybookStep(_logger, playbook.Name, runId, mode, steps[i].Name, steps[i].Outcome.ToString(), steps[i].Attempts, steps[i].Output);
            switch (steps[i].Outcome)
            {
                case PlaybookStepOutcome.Succeeded:
                    completed.Add(i);
                    if (steps[i].Data.TryGetValue(PlaybookStepData.DataLossSeconds, out var seconds) && double.TryParse(seconds, CultureInfo.InvariantCulture, out var loss))
                    {
                        dataLoss = TimeSpan.FromSeconds(Math.Max(loss, dataLoss?.TotalSeconds ?? 0));
                    }

                    break;
                case PlaybookStepOutcome.WouldRun:
                    break;
                case PlaybookStepOutcome.Cancelled:
                    outcome = PlaybookOutcome.Cancelled;
                    break;
                case PlaybookStepOutcome.Rejected:
                    outcome = PlaybookOutcome.Rejected;
                    break;
                default:
                    outcome = PlaybookOutcome.Failed;
                    break;
            }
        }

        if (outcome != PlaybookOutcome.Succeeded)
        {
            foreach (var i in Enumerable.Reverse(completed))
            {
                steps[i] = await CompensateAsync(playbook.Steps[i], steps[i], context).ConfigureAwait(false);
                Log.PlaybookStep(_logger, playbook.Name, runId, mode, steps[i].Name, steps[i].Outcome.ToString(), steps[i].Attempts, steps[i].CompensationOutput ?? string.Empty);
            }
        }

        var endedAt = _time.GetUtcNow();
        var measured = options.Mode != PlaybookMode.DryRun && outcome == PlaybookOutcome.Succeeded;
        var report = new PlaybookRunReport
        {
            RunId = runId,
            Playbook = playbook.Name,
            Mode = options.Mode,
            Actor = options.Actor,
            Reason = options.Reason,
            StartedAt = startedAt,
            EndedAt = endedAt,
            Outcome = outcome,
            Steps = steps,
            Tier = playbook.Tier,
            RtoObjective = rtoObjective,
            RpoObjective = rpoObjective,
            Rto = measured ? endedAt - outageStartedAt : null,
            Rpo = measured ? dataLoss : null,
        };
        Log.PlaybookFinished(_logger, playbook.Name, runId, mode, outcome.ToString(), (long)report.Duration.TotalMilliseconds);
        await StoreAsync(report, outageStartedAt).ConfigureAwait(false);
        return report;
    }

    private async Task<PlaybookStepReport> RunStepAsync(PlaybookStepDefinition definition, PlaybookStepReport report, PlaybookStepContext context, PlaybookMode mode, CancellationToken cancellationToken)
    {
        var startedAt = _time.GetUtcNow();
        report = report with { StartedAt = startedAt };
        try
        {
            if (definition.Precondition is { } precondition)
            {
                using var deadline = Deadline(definition.Timeout, cancellationToken);
                var unmet = await precondition(context, deadline.Token).ConfigureAwait(false);
                if (unmet is not null)
                {
                    return report with { Outcome = PlaybookStepOutcome.PreconditionFailed, Output = $"precondition not met: {unmet}", EndedAt = _time.GetUtcNow() };
                }
            }

            if (mode == PlaybookMode.DryRun)
            {
                var gate = definition.RequiresApproval ? " after a person approves" : string.Empty;
                return report with { Outcome = PlaybookStepOutcome.WouldRun, Output = $"would{gate}: {report.Description}", EndedAt = _time.GetUtcNow() };
            }

            if (definition.RequiresApproval)
            {
                var answer = await _approvals.RequestAsync($"playbook:{context.Playbook}/{definition.Step.Name}", report.Description, definition.ApprovalTimeout, cancellationToken).ConfigureAwait(false);
                if (!answer.Approved)
                {
                    return report with { Outcome = PlaybookStepOutcome.Rejected, Output = $"rejected by {answer.By}{(answer.Reason is null ? string.Empty : ": " + answer.Reason)}", EndedAt = _time.GetUtcNow() };
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return report with { Outcome = PlaybookStepOutcome.Cancelled, Output = "cancelled", EndedAt = _time.GetUtcNow() };
        }
        catch (OperationCanceledException)
        {
            return report with { Outcome = PlaybookStepOutcome.PreconditionFailed, Output = $"precondition did not answer within {definition.Timeout}", EndedAt = _time.GetUtcNow() };
        }

        var backoff = definition.Backoff;
        for (var attempt = 1; ; attempt++)
        {
            context.SetAttempt(attempt);
            PlaybookStepOutcome failure;
            string output;
            using (var deadline = Deadline(definition.Timeout, cancellationToken))
            {
                try
                {
                    var result = await definition.Step.ExecuteAsync(context, deadline.Token).ConfigureAwait(false);
                    return report with
                    {
                        Outcome = PlaybookStepOutcome.Succeeded,
                        Attempts = attempt,
                        Output = result.Output,
                        EndedAt = _time.GetUtcNow(),
                        Data = result.Data?.ToDictionary(p => p.Key, p => Convert.ToString(p.Value, CultureInfo.InvariantCulture) ?? string.Empty, StringComparer.Ordinal) ?? [],
                    };
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return report with { Outcome = PlaybookStepOutcome.Cancelled, Attempts = attempt, Output = "cancelled", EndedAt = _time.GetUtcNow() };
                }
                catch (OperationCanceledException ex) when (deadline.IsCancellationRequested)
                {
                    failure = PlaybookStepOutcome.TimedOut;
                    var detail = ex.Message == new OperationCanceledException().Message ? string.Empty : ": " + ex.Message;
                    output = $"attempt {attempt} ran past its {definition.Timeout.TotalSeconds:0.###} s timeout{detail}";
                }
                catch (PlaybookStepFailedException ex)
                {
                    return report with { Outcome = PlaybookStepOutcome.Failed, Attempts = attempt, Output = ex.Message, EndedAt = _time.GetUtcNow() };
                }
                catch (Exception ex)
                {
                    failure = PlaybookStepOutcome.Failed;
                    output = $"attempt {attempt} failed: {ex.GetType().Name}: {ex.Message}";
                }
            }

            if (attempt > definition.Retries)
            {
                return report with { Outcome = failure, Attempts = attempt, Output = output, EndedAt = _time.GetUtcNow() };
            }

            try
            {
                await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return report with { Outcome = PlaybookStepOutcome.Cancelled, Attempts = attempt, Output = $"cancelled while waiting to retry; {output}", EndedAt = _time.GetUtcNow() };
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>Runs a completed step's compensation, with the step's timeout, even when the run was cancelled.</summary>
    private async Task<PlaybookStepReport> CompensateAsync(PlaybookStepDefinition definition, PlaybookStepReport report, PlaybookStepContext context)
    {
        if (definition.Compensation is not { } compensation)
        {
            return report;
        }

        using var deadline = new CancellationTokenSource(definition.Timeout, _time);
        try
        {
            var result = await compensation.ExecuteAsync(context, deadline.Token).ConfigureAwait(false);
            return report with { Outcome = PlaybookStepOutcome.Compensated, CompensationOutput = result.Output };
        }
        catch (Exception ex)
        {
            return report with { Outcome = PlaybookStepOutcome.CompensationFailed, CompensationOutput = deadline.IsCancellationRequested ? $"compensation ran past {definition.Timeout}" : $"compensation failed: {ex.GetType().Name}: {ex.Message}" };
        }
    }

    private CancellationTokenSource Deadline(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        return deadline;
    }

    /// <summary>Stores the report, the audit entry and, for live runs and drills, the measured recovery; a storage
    /// failure is logged, never hides the run's outcome.</summary>
    private async Task StoreAsync(PlaybookRunReport report, DateTimeOffset outageStartedAt)
    {
        try
        {
            await _records.AddRunAsync(report, CancellationToken.None).ConfigureAwait(false);
            var action = report.Mode switch { PlaybookMode.DryRun => "playbook.dry-run", PlaybookMode.Drill => "playbook.drill", _ => "playbook.run" };
            var failed = report.Steps.FirstOrDefault(s => s.Outcome is PlaybookStepOutcome.Failed or PlaybookStepOutcome.TimedOut or PlaybookStepOutcome.PreconditionFailed or PlaybookStepOutcome.Rejected or PlaybookStepOutcome.Cancelled);
            var undone = report.Steps.Where(s => s.Outcome == PlaybookStepOutcome.CompensationFailed).Select(s => s.Name).ToList();
            await _records.AuditAsync(new AuditRecord(_records.NewId(), report.EndedAt, report.Actor, action, report.Playbook, report.Outcome.ToString(),
                $"run {report.RunId}: {report.Steps.Count} steps in {report.Duration.TotalSeconds:0.###} s{(failed is null ? string.Empty : $"; {failed.Name} {failed.Outcome}: {failed.Output}")}{(undone.Count == 0 ? string.Empty : $"; compensation failed for {string.Join(", ", undone)}")}"), CancellationToken.None).ConfigureAwait(false);
            if (report.Mode != PlaybookMode.DryRun)
            {
                await _records.AddAsync(new RecoveryRecord
                {
                    Id = _records.NewId(),
                    Kind = RecoveryKind.Playbook,
                    Name = report.Playbook,
                    IsDrill = report.Mode == PlaybookMode.Drill,
                    Tier = report.Tier,
                    OutageStartedAt = outageStartedAt,
                    DetectedAt = report.StartedAt,
                    RestoredAt = report.Outcome == PlaybookOutcome.Succeeded ? report.EndedAt : null,
                    Succeeded = report.Outcome == PlaybookOutcome.Succeeded,
                    Rto = report.Rto,
                    Rpo = report.Rpo,
                    RtoObjective = report.RtoObjective,
                    RpoObjective = report.RpoObjective,
                    RunId = report.RunId,
                    Description = $"{report.Outcome}: {report.Reason}",
                }, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is Storage.StorageException or IOException or UnauthorizedAccessException)
        {
            Log.PlaybookRecordFailed(_logger, report.Playbook, report.RunId, ex);
        }
    }
}
