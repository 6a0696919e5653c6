using HealthMate.Backup.Failover;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup;

/// <summary>Fails start-up when <c>BackupDR:Failover:Components</c> names a component that has neither a registered
/// strategy nor a hook (a typo would otherwise leave the real component with the defaults, unnoticed).</summary>
internal sealed class FailoverComponentsValidator(IServiceProvider services) : IValidateOptions<BackupDROptions>
{
    public ValidateOptionsResult Validate(string? name, BackupDROptions options)
    {
        var unknown = options.Failover.Components.Where(c => c.Value.Hook is null).Select(c => c.Key).ToList();
        if (unknown.Count == 0)
        {
            return ValidateOptionsResult.Success;
        }

        var registered = services.GetServices<IFailoverStrategy>().Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var missing = unknown.Where(c => !registered.Contains(c)).ToList();
        return missing.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(missing.Select(c => $"BackupDR:Failover:Components:{c} has no Hook and no registered strategy of that name (registered: {(registered.Count == 0 ? "none" : string.Join(", ", registered.Order(StringComparer.Ordinal)))}); add its strategy (such as AddPostgreSqlFailover) or a Hook."));
    }
}
