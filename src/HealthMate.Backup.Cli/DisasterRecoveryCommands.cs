using System.Globalization;
using HealthMate.Backup.Playbooks;
using HealthMate.Backup.Recovery;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Cli;

/// <summary>The <c>readiness</c> and <c>drill</c> commands.</summary>
internal static class DisasterRecoveryCommands
{
    internal static async Task<int> ReadinessAsync(IServiceProvider services, TextWriter output, CancellationToken cancellationToken)
    {
        var report = await services.GetRequiredService<IReadiness>().EvaluateAsync(cancellationToken).ConfigureAwait(false);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"readiness {report.Score:0.00} ({(report.Ready ? "ready" : "NOT ready")})")).ConfigureAwait(false);
        foreach (var factor in report.Factors)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  {factor.Name,-13} {factor.Score,4:0.##} x {factor.Weight,4:0.##}  {factor.Reason}")).ConfigureAwait(false);
        }

        return report.Ready ? Commands.Success : Commands.Failure;
    }

    internal static async Task<int> DrillAsync(IServiceProvider services, string playbook, bool dryRun, string actor, TextWriter output, CancellationToken cancellationToken)
    {
        var runner = services.GetRequiredService<IPlaybookRunner>();
        if (runner.Playbooks.All(p => p.Name != playbook))
        {
            await output.WriteLineAsync($"no playbook is named '{playbook}'; known: {string.Join(", ", runner.Playbooks.Select(p => p.Name))}").ConfigureAwait(false);
            return Commands.Usage;
        }

        var report = await runner.RunAsync(playbook, new PlaybookRunOptions
        {
            Mode = dryRun ? PlaybookMode.DryRun : PlaybookMode.Drill,
            Actor = actor,
            Reason = dryRun ? "dry run from the command line" : "drill from the command line",
        }, cancellationToken).ConfigureAwait(false);
        await output.WriteLineAsync($"{report.Playbook} ({report.Mode}) run {report.RunId}").ConfigureAwait(false);
        foreach (var step in report.Steps)
        {
            var took = step.StartedAt is { } start && step.EndedAt is { } end ? $"{(end - start).TotalSeconds,7:0.000} s" : "        -";
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  {step.Name,-20} {step.Outcome,-18} {took}  {step.Output}")).ConfigureAwait(false);
            if (step.CompensationOutput is { } undo)
            {
                await output.WriteLineAsync($"  {string.Empty,-20} compensation: {undo}").ConfigureAwait(false);
            }
        }

        var rpoObjective = report.RpoObjective is { } rpoLimit ? string.Create(CultureInfo.InvariantCulture, $"RPO {rpoLimit.TotalMinutes:0.#} min") : "no RPO";
        var objectives = report.RtoObjective is null ? "no objectives" : string.Create(CultureInfo.InvariantCulture, $"objectives RTO {report.RtoObjective.Value.TotalMinutes:0.#} min, {rpoObjective}");
        var achieved = report.Rto is null ? string.Empty : string.Create(CultureInfo.InvariantCulture, $"; achieved RTO {report.Rto.Value.TotalSeconds:0.###} s, RPO {(report.Rpo is { } rpo ? $"{rpo.TotalSeconds:0.###} s" : "not measured")}");
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{report.Outcome} in {report.Duration.TotalSeconds:0.###} s; {objectives}{achieved}")).ConfigureAwait(false);
        return report.Outcome == PlaybookOutcome.Succeeded ? Commands.Success : Commands.Failure;
    }
}
