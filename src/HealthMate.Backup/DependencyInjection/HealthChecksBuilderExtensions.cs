using HealthMate.Backup.Health;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Bridges HealthMate.Backup probes and ASP.NET Core health checks.</summary>
public static class BackupDRHealthChecksBuilderExtensions
{
    /// <summary>Registers every HealthMate.Backup probe (storage, PostgreSQL, HTTP, disk, backups, ...) as a health
    /// check of the same name, so <c>MapHealthChecks</c> reports them.</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="tags">Tags for the checks (to filter endpoints), or none.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddBackupDRProbes(this IHealthChecksBuilder builder, params string[] tags)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<IConfigureOptions<HealthCheckServiceOptions>>(sp => new ProbeHealthCheckRegistrations(sp.GetServices<IHealthProbe>(), tags));
        return builder;
    }

    /// <summary>Watches an existing <see cref="IHealthCheck"/> with the health monitor (and readiness), as a probe of the given name.</summary>
    /// <param name="builder">The HealthMate.Backup builder.</param>
    /// <param name="name">The probe's name.</param>
    /// <param name="factory">Creates the check.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddHealthCheckProbe(this IBackupDRBuilder builder, string name, Func<IServiceProvider, IHealthCheck> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return builder.AddHealthProbe(sp => new HealthCheckProbe(name, factory(sp)));
    }
}
