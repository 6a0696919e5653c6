using System.Diagnostics.Metrics;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Scheduling;
using HealthMate.Backup.Telemetry;
using HealthMate.Backup.Verification;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup.Health;

/// <summary>Makes the backup health report from storage alone (catalog, verification records, job records, archives).</summary>
public interface IBackupHealth
{
    /// <summary>Makes a fresh report.</summary>
    /// <param name="cancellationToken">Cancels the report.</param>
    /// <returns>The report.</returns>
    Task<BackupHealthReport> GetReportAsync(CancellationToken cancellationToken = default);

    /// <summary>Gets the last report made, or <see langword="null"/> before the first.</summary>
    BackupHealthReport? LastReport { get; }
}

/// <summary>The backup health report; its newest result also feeds the <c>healthmate.backup.health.*</c> gauges.</summary>
internal sealed class BackupHealth : IBackupHealth
{
    private const int RecentBackupsChecked = 10;
    private readonly BackupEnvironment _environment;
    private readonly IVerificationRecords _verifications;
    private readonly IJobRecords _jobs;
    private readonly IReadOnlyList<IRecoveryPointSource> _recoveryPoints;
    private readonly BackupHealthOptions _options;
    private readonly RecoveryObjectivesOptions _objectives;
    private readonly ILogger _logger;
    private volatile BackupHealthReport? _last;

    public BackupHealth(BackupEnvironment environment, IVerificationRecords verifications, IJobRecords jobs, IEnumerable<IRecoveryPointSource> recoveryPoints, IOptions<BackupDROptions> options)
    {
        _environment = environment;
        _verifications = verifications;
        _jobs = jobs;
        _recoveryPoints = [.. recoveryPoints];
        _options = options.Value.Health;
        _objectives = options.Value.Objectives;
        _logger = environment.LoggerFactory.CreateLogger<BackupHealth>();
        BackupHealthGauges.Register(this);
    }

    public BackupHealthReport? LastReport => _last;

    public async Task<BackupHealthReport> GetReportAsync(CancellationToken cancellationToken = default)
    {
        var now = _environment.TimeProvider.GetUtcNow();
        var entries = await _environment.Catalog.ListEntriesAsync(null, cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
        var backups = entries.Where(e => e.Manifest is not null).Select(e => e.Manifest!).ToList();
        var invalid = entries.Where(e => !e.IsValid).ToList();

        var groups = new List<BackupGroupHealth>();
        var seen = new HashSet<(string, string?)>();
        foreach (var target in _options.Targets)
        {
            seen.Add((target.Kind, target.Plan));
            groups.Add(await AssessAsync(target.Kind, target.Plan, target, backups, now, cancellationToken).ConfigureAwait(false));
        }

        foreach (var group in backups.GroupBy(b => (b.Kind, b.Plan)).Where(g => !seen.Contains(g.Key)).OrderBy(g => g.Key.Kind, StringComparer.Ordinal))
        {
            groups.Add(await AssessAsync(group.Key.Kind, group.Key.Plan, null, backups, now, cancellationToken).ConfigureAwait(false));
        }

        // A backup whose manifest cannot be trusted is a finding, never an absence (its plan is unknown: the kind's first group).
        foreach (var kind in invalid.GroupBy(e => e.Kind))
        {
            var problems = kind.Select(e => $"backup {e.Kind}/{e.BackupId} is there but its manifest is not authentic ({e.Problem}): it was tampered with, damaged, or written with another key, and is not listed").ToList();
            var index = groups.FindIndex(g => g.Kind == kind.Key);
            if (index < 0)
            {
                groups.Add(new BackupGroupHealth { Kind = kind.Key, Status = ProbeStatus.Unhealthy, Problems = problems });
            }
            else
            {
                groups[index] = groups[index] with { Status = ProbeStatus.Unhealthy, Problems = [.. groups[index].Problems, .. problems] };
            }
        }

        var report = new BackupHealthReport(now, groups.Count == 0 ? ProbeStatus.Healthy : groups.Max(g => g.Status), groups);
        foreach (var group in groups.Where(g => g.Status != ProbeStatus.Healthy))
        {
            Log.BackupHealthProblem(_logger, group.Kind, group.Plan ?? "-", group.Status.ToString(), string.Join("; ", group.Problems));
        }

        _last = report;
        return report;
    }

    private async Task<BackupGroupHealth> AssessAsync(string kind, string? plan, BackupHealthTarget? target, List<BackupManifest> all, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var problems = new List<(ProbeStatus Severity, string Text)>();
        var newestFirst = all.Where(b => b.Kind == kind && b.Plan == plan).OrderByDescending(b => b.CompletedAt).ToList();
        var newest = newestFirst.FirstOrDefault();
        var windowStart = now - _options.Window;
        var inWindow = newestFirst.Where(b => b.CompletedAt >= windowStart).ToList();
        var label = plan is null ? kind : $"{kind}/{plan}";

        if (newest is null)
        {
            problems.Add((ProbeStatus.Unhealthy, $"no backup of {label} exists"));
        }
        else if (target?.ExpectedEvery is { } every && now - newest.CompletedAt > every + target.Grace)
        {
            problems.Add((ProbeStatus.Unhealthy, $"backup missing: the newest {label} backup is {Format(now - newest.CompletedAt)} old, one is expected every {Format(every)}"));
        }

        // Success rate from the job's records.
        double? successRate = null;
        var failed = 0;
        if (target?.Job is { } job)
        {
            var runs = 0;
            await foreach (var run in _jobs.ListAsync(job, windowStart, cancellationToken).ConfigureAwait(false))
            {
                runs++;
                failed += run.Outcome == JobOutcome.Succeeded ? 0 : 1;
            }

            if (runs > 0)
            {
                successRate = (runs - failed) / (double)runs;
                if (failed > 0)
                {
                    problems.Add((ProbeStatus.Degraded, $"{failed} of {runs} runs of job {job} failed in the last {Format(_options.Window)}"));
                }
            }
        }

        // Sizes: the newest against the median of the others in the window.
        long? median = null;
        double? trend = null;
        var earlier = inWindow.Skip(1).Select(b => b.Data.StoredSize).Order().ToList();
        if (newest is not null && earlier.Count > 0)
        {
            median = earlier[earlier.Count / 2];
            trend = median > 0 ? Math.Round(newest.Data.StoredSize / (double)median.Value, 3) : null;
            if (trend < 0.5)
            {
                problems.Add((ProbeStatus.Degraded, $"the newest backup is {trend:P0} of the usual size: check the source is complete"));
            }
        }

        // Verification of the recent backups.
        VerificationRecord? lastVerified = null, lastTestRestore = null;
        foreach (var backup in newestFirst.Take(RecentBackupsChecked))
        {
            await foreach (var record in _verifications.ListAsync(backup.Kind, backup.BackupId, cancellationToken).ConfigureAwait(false))
            {
                if (lastVerified is null || record.CompletedAt > lastVerified.CompletedAt)
                {
                    lastVerified = record;
                }

                if (record.Method == "test-restore" && (lastTestRestore is null || record.CompletedAt > lastTestRestore.CompletedAt))
                {
                    lastTestRestore = record;
                }
            }
        }

        if (lastVerified is { Succeeded: false })
        {
            problems.Add((ProbeStatus.Degraded, $"the newest verification ({lastVerified.Method} of {lastVerified.BackupId}) failed: {lastVerified.Failure}"));
        }

        if (target?.VerifiedWithin is { } verifiedWithin && (lastVerified is not { Succeeded: true } || now - lastVerified.CompletedAt > verifiedWithin))
        {
            problems.Add((ProbeStatus.Degraded, $"no passing verification in the last {Format(verifiedWithin)}"));
        }

        // Recovery point and RPO.
        var recoveryPoint = newest?.CompletedAt;
        foreach (var source in _recoveryPoints.Where(s => s.Kind == kind))
        {
            if (await source.GetLatestAsync(cancellationToken).ConfigureAwait(false) is { } archived && (recoveryPoint is null || archived > recoveryPoint))
            {
                recoveryPoint = archived;
            }
        }

        TimeSpan? rpo = null;
        bool? compliant = null;
        if (target?.Tier is { } tier)
        {
            rpo = _objectives.Tiers[tier].Rpo;
            compliant = recoveryPoint is { } point && now - point <= rpo;
            if (compliant == false)
            {
                problems.Add((ProbeStatus.Unhealthy, recoveryPoint is null
                    ? $"RPO breach: nothing to restore, the {tier} tier allows losing {Format(rpo.Value)}"
                    : $"RPO breach: restoring now would lose {Format(now - recoveryPoint.Value)} of data, the {tier} tier allows {Format(rpo.Value)}"));
            }
        }

        return new BackupGroupHealth
        {
            Kind = kind,
            Plan = plan,
            Tier = target?.Tier,
            Status = problems.Count == 0 ? ProbeStatus.Healthy : problems.Max(p => p.Severity),
            Problems = [.. problems.Select(p => p.Text)],
            LastSuccessId = newest?.BackupId,
            LastSuccessAt = newest?.CompletedAt,
            LastSuccessAge = newest is null ? null : now - newest.CompletedAt,
            BackupsInWindow = inWindow.Count,
            SuccessRate = successRate,
            FailedRuns = failed,
            LastStoredSize = newest?.Data.StoredSize,
            MedianStoredSize = median,
            SizeTrend = trend,
            LastVerifiedAt = lastVerified?.CompletedAt,
            LastVerificationPassed = lastVerified?.Succeeded,
            LastTestRestoreAt = lastTestRestore?.CompletedAt,
            LastTestRestoreSeconds = lastTestRestore?.DurationSeconds,
            RecoveryPointAt = recoveryPoint,
            RecoveryPointAge = recoveryPoint is null ? null : now - recoveryPoint.Value,
            Rpo = rpo,
            RpoCompliant = compliant,
        };
    }

    internal static string Format(TimeSpan span) =>
        span.TotalDays >= 2 ? $"{span.TotalDays:0.#} days" : span.TotalHours >= 2 ? $"{span.TotalHours:0.#} hours" : span.TotalMinutes >= 2 ? $"{span.TotalMinutes:0.#} minutes" : $"{span.TotalSeconds:0} seconds";
}

/// <summary>The backup health report as a probe named <c>backups</c>: its status is the worst group's.</summary>
internal sealed class BackupHealthProbe(IBackupHealth health, TimeProvider timeProvider) : IHealthProbe
{
    public string Name => ProbeName;

    /// <summary>The probe's name, <c>backups</c>.</summary>
    public const string ProbeName = "backups";

    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken = default)
    {
        var started = timeProvider.GetTimestamp();
        try
        {
            var report = await health.GetReportAsync(cancellationToken).ConfigureAwait(false);
            var problems = report.Groups.SelectMany(g => g.Problems).ToList();
            var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["groups"] = report.Groups.Count };
            foreach (var group in report.Groups)
            {
                var name = group.Plan is null ? group.Kind : $"{group.Kind}/{group.Plan}";
                data[$"{name}.status"] = group.Status.ToString();
                if (group.RecoveryPointAge is { } age)
                {
                    data[$"{name}.recovery_point_age_seconds"] = Math.Round(age.TotalSeconds);
                }
            }

            return new ProbeResult(report.Status, problems.Count == 0 ? $"{report.Groups.Count} backup group(s) healthy" : string.Join("; ", problems), timeProvider.GetElapsedTime(started), data);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Boundary: a probe reports failure as unhealthy instead of throwing.
            return new ProbeResult(ProbeStatus.Unhealthy, $"backup health could not be read: {ex.Message}", timeProvider.GetElapsedTime(started), new Dictionary<string, object>(), ex);
        }
    }
}

/// <summary>Gauges over the newest health report: recovery point age, RPO compliance, newest backup age, per group.</summary>
internal static class BackupHealthGauges
{
    private static volatile IBackupHealth? s_health;

    static BackupHealthGauges()
    {
        BackupTelemetry.Meter.CreateObservableGauge("healthmate.backup.health.recovery_point_age", () => Observe(g => g.RecoveryPointAge?.TotalSeconds), "s", "Age of the newest recovery point per backup group (the data a restore now would lose).");
        BackupTelemetry.Meter.CreateObservableGauge("healthmate.backup.health.last_success_age", () => Observe(g => g.LastSuccessAge?.TotalSeconds), "s", "Age of the newest backup per backup group.");
        BackupTelemetry.Meter.CreateObservableGauge("healthmate.backup.health.rpo_compliant", () => Observe(g => g.RpoCompliant is { } c ? (c ? 1 : 0) : null), "{bool}", "1 when the group's recovery point meets its tier's RPO.");
        BackupTelemetry.Meter.CreateObservableGauge("healthmate.backup.health.success_rate", () => Observe(g => g.SuccessRate), "1", "Share of the group's job runs that succeeded in the window.");
    }

    internal static void Register(IBackupHealth health) => s_health = health;

    private static IEnumerable<Measurement<double>> Observe(Func<BackupGroupHealth, double?> value)
    {
        var report = s_health?.LastReport;
        if (report is null)
        {
            yield break;
        }

        foreach (var group in report.Groups)
        {
            if (value(group) is { } v)
            {
                yield return new Measurement<double>(v, new KeyValuePair<string, object?>("kind", group.Kind), new KeyValuePair<string, object?>("plan", group.Plan ?? string.Empty));
            }
        }
    }
}
