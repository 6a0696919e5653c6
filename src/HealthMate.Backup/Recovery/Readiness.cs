using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using HealthMate.Backup.Pipeline;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Recovery;

/// <summary>The <c>BackupDR:Readiness</c> section: what the readiness score asks of each factor and how it weighs them.</summary>
public sealed class ReadinessOptions
{
    /// <summary>Gets or sets how recent a passing test restore must be.</summary>
    /// <value>The default value is 7 days.</value>
    public TimeSpan TestRestoreWithin { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Gets or sets how recent a drill must be.</summary>
    /// <value>The default value is 90 days.</value>
    public TimeSpan DrillWithin { get; set; } = TimeSpan.FromDays(90);

    /// <summary>Gets or sets the score above which the system counts as ready.</summary>
    /// <value>The default value is 0.8.</value>
    public double ReadyAbove { get; set; } = 0.8;

    /// <summary>Gets or sets each factor's weight: <c>backups</c>, <c>test-restore</c>, <c>standby</c>, <c>probes</c>, <c>drill</c>.</summary>
    public Dictionary<string, double> Weights { get; set; } = new(StringComparer.Ordinal)
    {
        [ReadinessFactors.Backups] = 0.3,
        [ReadinessFactors.TestRestore] = 0.15,
        [ReadinessFactors.Standby] = 0.2,
        [ReadinessFactors.Probes] = 0.2,
        [ReadinessFactors.Drill] = 0.15,
    };

    internal IEnumerable<string> Validate()
    {
        if (TestRestoreWithin <= TimeSpan.Zero || DrillWithin <= TimeSpan.Zero || ReadyAbove is < 0 or > 1)
        {
            yield return "Readiness: TestRestoreWithin and DrillWithin must be positive, ReadyAbove within 0..1.";
        }

        foreach (var (name, weight) in Weights)
        {
            if (!ReadinessFactors.All.Contains(name, StringComparer.Ordinal) || weight < 0 || double.IsNaN(weight))
            {
                yield return $"Readiness:Weights:{name}: factors are {string.Join(", ", ReadinessFactors.All)}, weights not negative.";
            }
        }
    }
}

/// <summary>The readiness factors' names.</summary>
public static class ReadinessFactors
{
    /// <summary>Recent successful backups (the backup health report).</summary>
    public const string Backups = "backups";

    /// <summary>A recent passing test restore.</summary>
    public const string TestRestore = "test-restore";

    /// <summary>Every failover strategy has an eligible standby (lag within the RPO).</summary>
    public const string Standby = "standby";

    /// <summary>The monitored components answer.</summary>
    public const string Probes = "probes";

    /// <summary>The newest drill passed within its objectives.</summary>
    public const string Drill = "drill";

    internal static readonly string[] All = [Backups, TestRestore, Standby, Probes, Drill];
}

/// <summary>One factor of the readiness score.</summary>
/// <param name="Name">The factor.</param>
/// <param name="Weight">Its weight (0 when it does not apply here).</param>
/// <param name="Score">Its score, 0 to 1.</param>
/// <param name="Reason">Why it scores so; what lowers it.</param>
public sealed record ReadinessFactor(string Name, double Weight, double Score, string Reason);

/// <summary>How ready the system is to recover, 0 to 1, with the breakdown.</summary>
/// <param name="At">When it was evaluated.</param>
/// <param name="Score">The weighted score of the factors that apply.</param>
/// <param name="Ready">Whether the score is above the threshold.</param>
/// <param name="Factors">Each factor.</param>
public sealed record ReadinessReport(DateTimeOffset At, double Score, bool Ready, IReadOnlyList<ReadinessFactor> Factors);

/// <summary>Evaluates the disaster-recovery readiness score.</summary>
public interface IReadiness
{
    /// <summary>Evaluates every factor now.</summary>
    /// <param name="cancellationToken">Cancels the evaluation.</param>
    /// <returns>The score and its breakdown.</returns>
    Task<ReadinessReport> EvaluateAsync(CancellationToken cancellationToken = default);
}

/// <summary>Combines backups, test restores, standby eligibility, probes and drills into one score; the newest score is
/// the gauge <c>healthmate.backup.readiness.score</c>.</summary>
internal sealed class Readiness(BackupEnvironment environment, IBackupHealth backupHealth, IRecoveryRecords records, IServiceProvider services) : IReadiness
{
    /// <summary>How long a strategy's eligibility check may take.</summary>
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(5);
    private static ReadinessReport? s_last;

    static Readiness() =>
        Telemetry.BackupTelemetry.Meter.CreateObservableGauge("healthmate.backup.readiness.score",
            () => s_last is { } last ? [new System.Diagnostics.Metrics.Measurement<double>(last.Score)] : Array.Empty<System.Diagnostics.Metrics.Measurement<double>>(),
            "1", "The newest disaster-recovery readiness score, 0 to 1.");

    public async Task<ReadinessReport> EvaluateAsync(CancellationToken cancellationToken = default)
    {
        var options = environment.Options.Readiness;
        var now = environment.TimeProvider.GetUtcNow();
        var health = await backupHealth.GetReportAsync(cancellationToken).ConfigureAwait(false);
        var factors = new List<ReadinessFactor>
        {
            Backups(health, options),
            TestRestore(health, options, now),
            await StandbyAsync(options, cancellationToken).ConfigureAwait(false),
            await ProbesAsync(options, cancellationToken).ConfigureAwait(false),
            await DrillAsync(options, now, cancellationToken).ConfigureAwait(false),
        };
        var weight = factors.Sum(f => f.Weight);
        var score = weight == 0 ? 0 : Math.Round(factors.Sum(f => f.Weight * f.Score) / weight, 4);
        var report = new ReadinessReport(now, score, score > options.ReadyAbove, factors);
        s_last = report;
        return report;
    }

    private static double Weight(ReadinessOptions options, string factor) => options.Weights.GetValueOrDefault(factor);

    private static ReadinessFactor Backups(BackupHealthReport health, ReadinessOptions options)
    {
        if (health.Groups.Count == 0)
        {
            return new(ReadinessFactors.Backups, Weight(options, ReadinessFactors.Backups), 0, "no backups");
        }

        var score = health.Groups.Average(g => g.Status switch { ProbeStatus.Healthy => 1.0, ProbeStatus.Degraded => 0.5, _ => 0.0 });
        var problems = health.Groups.Where(g => g.Status != ProbeStatus.Healthy).Select(g => $"{g.Kind}{(g.Plan is null ? string.Empty : "/" + g.Plan)}: {string.Join("; ", g.Problems)}").ToList();
        return new(ReadinessFactors.Backups, Weight(options, ReadinessFactors.Backups), score,
            problems.Count == 0 ? $"{health.Groups.Count} backup group(s) healthy" : string.Join(" | ", problems));
    }

    private static ReadinessFactor TestRestore(BackupHealthReport health, ReadinessOptions options, DateTimeOffset now)
    {
        var newest = health.Groups.Max(g => g.LastTestRestoreAt);
        return newest is { } at && now - at <= options.TestRestoreWithin
            ? new(ReadinessFactors.TestRestore, Weight(options, ReadinessFactors.TestRestore), 1, $"newest passing test restore {BackupHealth.Format(now - at)} ago")
            : new(ReadinessFactors.TestRestore, Weight(options, ReadinessFactors.TestRestore), 0,
                newest is null ? "no passing test restore recorded" : $"newest passing test restore is {BackupHealth.Format(now - newest.Value)} old, over {BackupHealth.Format(options.TestRestoreWithin)}");
    }

    private async Task<ReadinessFactor> StandbyAsync(ReadinessOptions options, CancellationToken cancellationToken)
    {
        var coordinator = services.GetService<IFailoverCoordinator>();
        if (coordinator is null || coordinator.Components.Count == 0)
        {
            return new(ReadinessFactors.Standby, 0, 0, "no failover strategy registered (not counted)");
        }

        var answers = new List<(bool Ok, string Line)>();
        foreach (var component in coordinator.Components)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(CheckTimeout);
            try
            {
                var check = await coordinator.CheckAsync(component, deadline.Token).ConfigureAwait(false);
                answers.Add((check.CanFailOver, $"{component}: {check.Reason}"));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                answers.Add((false, $"{component}: the check did not answer within {CheckTimeout.TotalSeconds:0} s"));
            }
        }

        return new(ReadinessFactors.Standby, Weight(options, ReadinessFactors.Standby), answers.Average(a => a.Ok ? 1.0 : 0.0), string.Join(" | ", answers.Select(a => a.Line)));
    }

    private async Task<ReadinessFactor> ProbesAsync(ReadinessOptions options, CancellationToken cancellationToken)
    {
        var probes = services.GetServices<IHealthProbe>().Where(p => p.Name != BackupHealthProbe.ProbeName).GroupBy(p => p.Name, StringComparer.Ordinal).Select(g => g.Last()).ToList();
        if (probes.Count == 0)
        {
            return new(ReadinessFactors.Probes, 0, 0, "no probes registered (not counted)");
        }

        var monitor = services.GetService<IHealthMonitor>();
        var scores = new List<(double Score, string Line)>();
        foreach (var probe in probes)
        {
            var settings = environment.Options.Monitor.Resolve(probe.Name);
            var fresh = environment.TimeProvider.GetUtcNow() - (2 * (settings.Interval + settings.Timeout));
            if (monitor?.GetStatus(probe.Name) is { State: not ComponentState.Unknown, History.Count: > 0 } status && status.History[^1].At >= fresh)
            {
                var score = status.State switch { ComponentState.Up => 1.0, ComponentState.Suspect => 0.5, _ => 0.0 };
                scores.Add((score, $"{probe.Name}: {status.State}{(status.Last is null ? string.Empty : ", " + status.Last.Description)}"));
                continue;
            }

            var result = await ProbeRunner.RunAsync(probe, settings.Timeout, environment.TimeProvider, null, cancellationToken).ConfigureAwait(false);

            scores.Add((result.Status switch { ProbeStatus.Healthy => 1.0, ProbeStatus.Degraded => 0.5, _ => 0.0 }, $"{probe.Name}: {result.Status}, {result.Description}"));
        }

        return new(ReadinessFactors.Probes, Weight(options, ReadinessFactors.Probes), scores.Average(s => s.Score), string.Join(" | ", scores.Select(s => s.Line)));
    }

    private async Task<ReadinessFactor> DrillAsync(ReadinessOptions options, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var drill = await records.ListAsync(now - options.DrillWithin, cancellationToken).Where(r => r.IsDrill).LastOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        var weight = Weight(options, ReadinessFactors.Drill);
        if (drill is null)
        {
            return new(ReadinessFactors.Drill, weight, 0, $"no drill within {BackupHealth.Format(options.DrillWithin)}");
        }

        var what = $"drill {drill.Name} {BackupHealth.Format(now - drill.DetectedAt)} ago";
        return drill.Compliant ? new(ReadinessFactors.Drill, weight, 1, $"{what} met its objectives (RTO {drill.Rto?.TotalSeconds:0.#} s)")
            : drill.Succeeded ? new(ReadinessFactors.Drill, weight, 0.5, $"{what} succeeded but missed its objectives (RTO {drill.Rto?.TotalSeconds:0.#} s of {drill.RtoObjective?.TotalSeconds:0} s, RPO {drill.Rpo?.TotalSeconds:0.#} s of {drill.RpoObjective?.TotalSeconds:0} s)")
            : new(ReadinessFactors.Drill, weight, 0, $"{what} failed: {drill.Description}");
    }
}
