using HealthMate.Backup;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Storage.Local;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers HealthMate.Backup.</summary>
public static class BackupDRServiceCollectionExtensions
{
    /// <summary>
    /// Adds backup and disaster recovery: the backup, restore and verify runners, the catalog, the keyring, and local-disk
    /// storage as the default provider. Options are validated when the host starts, listing every problem.
    /// Calling it again only adds the new configuration.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the options, or <see langword="null"/>.</param>
    /// <returns>The builder, for provider registrations.</returns>
    public static IBackupDRBuilder AddBackupDR(this IServiceCollection services, Action<BackupDROptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        AddCore(services);
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return new BackupDRBuilder(services);
    }

    /// <summary>Adds backup and disaster recovery with options bound from a configuration section (usually <c>BackupDR</c>).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">The section to bind, such as <c>configuration.GetSection("BackupDR")</c>.</param>
    /// <param name="configure">Further configuration applied after binding, or <see langword="null"/>.</param>
    /// <returns>The builder, for provider registrations.</returns>
    public static IBackupDRBuilder AddBackupDR(this IServiceCollection services, IConfiguration section, Action<BackupDROptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        AddCore(services);
        services.AddOptions<BackupDROptions>().Bind(section);
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return new BackupDRBuilder(services);
    }

    /// <summary>Stores backups in a local folder (the default provider).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Configures the folder and flushing, or <see langword="null"/> for <c>./backups</c>.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddLocalStorage(this IBackupDRBuilder builder, Action<LocalStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Configure<BackupDROptions>(options =>
        {
            options.Storage.Provider = "local";
            configure?.Invoke(options.Storage.Local);
        });
        return builder;
    }

    /// <summary>
    /// Makes the provider named <paramref name="name"/> a replicating store over providers registered before it:
    /// writes commit to <paramref name="primary"/> and are copied (SHA-256 checked) to every replica, reads fall back
    /// to a replica when the primary fails. It becomes the active provider.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="name">The replicating provider's name, such as <c>replicated</c>.</param>
    /// <param name="primary">The primary provider's name.</param>
    /// <param name="replicas">The replicas' names (at least one).</param>
    /// <param name="configure">Synchronous (default) or asynchronous copies, queue size.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddReplication(this IBackupDRBuilder builder, string name, string primary, IReadOnlyList<string> replicas, Action<HealthMate.Backup.Storage.Replication.ReplicationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(primary);
        ArgumentNullException.ThrowIfNull(replicas);
        if (replicas.Count == 0 || replicas.Contains(primary, StringComparer.Ordinal) || replicas.Contains(name, StringComparer.Ordinal) || primary == name)
        {
            throw new ArgumentException("Replication needs at least one replica, and distinct names for itself, the primary and each replica.", nameof(replicas));
        }

        var options = new HealthMate.Backup.Storage.Replication.ReplicationOptions();
        configure?.Invoke(options);
        builder.Services.AddKeyedSingleton<IStorageProvider>(name, (sp, _) => new HealthMate.Backup.Storage.Replication.ReplicatingStorageProvider(
            sp.GetRequiredKeyedService<IStorageProvider>(primary),
            [.. replicas.Select(r => sp.GetRequiredKeyedService<IStorageProvider>(r))],
            options));
        builder.Services.Configure<BackupDROptions>(o => o.Storage.Provider = name);
        return builder;
    }

    /// <summary>
    /// Runs the backup jobs on their cron schedules as a hosted service (<c>BackupDR:Schedules</c>): the built-in
    /// <c>cleanup</c> (retention), <c>backup-health</c>, <c>verify</c>, <c>file-backup</c>, <c>dr-status</c> (readiness)
    /// and <c>recovery-objectives</c> (compliance) jobs, and any added with
    /// <see cref="AddScheduledJob{TJob}"/>. Replicas of the host share each job through a leader lease (by default kept
    /// in the backup storage), so each scheduled time runs once.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddBackupSchedules(this IBackupDRBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.TryAddSingleton<HealthMate.Backup.Scheduling.JobScheduler>();
        services.TryAddSingleton<HealthMate.Backup.Scheduling.IJobScheduler>(sp => sp.GetRequiredService<HealthMate.Backup.Scheduling.JobScheduler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, HealthMate.Backup.Scheduling.JobScheduler>(sp => sp.GetRequiredService<HealthMate.Backup.Scheduling.JobScheduler>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<HealthMate.Backup.Scheduling.IScheduledJob, HealthMate.Backup.Scheduling.CleanupJob>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<HealthMate.Backup.Scheduling.IScheduledJob, HealthMate.Backup.Scheduling.BackupHealthJob>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<HealthMate.Backup.Scheduling.IScheduledJob, HealthMate.Backup.Scheduling.VerifyJob>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<HealthMate.Backup.Scheduling.IScheduledJob, HealthMate.Backup.Scheduling.DrStatusJob>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<HealthMate.Backup.Scheduling.IScheduledJob, HealthMate.Backup.Scheduling.RecoveryObjectivesJob>());
        if (!OperatingSystem.IsWindows())
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton<HealthMate.Backup.Scheduling.IScheduledJob, HealthMate.Backup.Scheduling.FileBackupJob>());
        }

        return builder;
    }

    /// <summary>Adds a job to the scheduler; its schedule is <c>BackupDR:Schedules:Jobs:{name}</c>.</summary>
    /// <typeparam name="TJob">The job.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddScheduledJob<TJob>(this IBackupDRBuilder builder)
        where TJob : class, HealthMate.Backup.Scheduling.IScheduledJob
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<HealthMate.Backup.Scheduling.IScheduledJob, TJob>());
        return builder;
    }

    /// <summary>
    /// Runs the health monitor as a hosted service (<c>BackupDR:Monitor</c>): every registered <see cref="HealthMate.Backup.Health.IHealthProbe"/>
    /// on its interval with its timeout; a component is down after N failures in a row within a window. Components with a
    /// failover strategy (<c>AddPostgreSqlFailover()</c>, <c>BackupDR:Failover:Components:{name}:Hook</c>) are then failed
    /// over automatically, under a lease, unless <c>Automatic</c> is off or <c>RequireApproval</c> is on.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddHealthMonitor(this IBackupDRBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.TryAddSingleton<HealthMate.Backup.Health.HealthMonitor>();
        services.TryAddSingleton<HealthMate.Backup.Health.IHealthMonitor>(sp => sp.GetRequiredService<HealthMate.Backup.Health.HealthMonitor>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, HealthMate.Backup.Health.HealthMonitor>(sp => sp.GetRequiredService<HealthMate.Backup.Health.HealthMonitor>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, HealthMate.Backup.Failover.FailoverCoordinator>(sp => sp.GetRequiredService<HealthMate.Backup.Failover.FailoverCoordinator>()));
        return builder;
    }

    /// <summary>Adds a health probe (one component for the monitor, the readiness score and the health checks).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="factory">Creates the probe.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddHealthProbe(this IBackupDRBuilder builder, Func<IServiceProvider, HealthMate.Backup.Health.IHealthProbe> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.AddSingleton(factory);
        return builder;
    }

    /// <summary>Adds the storage probe <c>storage</c>: writes, reads and deletes a small object in the active storage.</summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddStorageProbe(this IBackupDRBuilder builder) =>
        builder.AddHealthProbe(sp => new HealthMate.Backup.Health.StorageProbe(sp.GetRequiredService<IStorageProvider>(), sp.GetRequiredService<IOptions<BackupDROptions>>().Value.Storage.Prefix));

    /// <summary>Adds an HTTP endpoint probe (a service's <c>/health</c>).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Sets the name, URL, expected status and timeout.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddHttpProbe(this IBackupDRBuilder builder, Action<HealthMate.Backup.Health.HttpProbeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new HealthMate.Backup.Health.HttpProbeOptions();
        configure(options);
        var probe = new HealthMate.Backup.Health.HttpEndpointProbe(options);
        return builder.AddHealthProbe(_ => probe);
    }

    /// <summary>Adds a free-disk-space probe.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Sets the name, path and thresholds.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddDiskSpaceProbe(this IBackupDRBuilder builder, Action<HealthMate.Backup.Health.DiskSpaceProbeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new HealthMate.Backup.Health.DiskSpaceProbeOptions();
        configure(options);
        var probe = new HealthMate.Backup.Health.DiskSpaceProbe(options);
        return builder.AddHealthProbe(_ => probe);
    }

    /// <summary>Adds a failover strategy (one component).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="factory">Creates the strategy.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddFailoverStrategy(this IBackupDRBuilder builder, Func<IServiceProvider, HealthMate.Backup.Failover.IFailoverStrategy> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.AddSingleton(factory);
        return builder;
    }

    /// <summary>Adds a playbook written in code (<see cref="HealthMate.Backup.Playbooks.Playbook.Create"/>); it replaces a built-in or configured one of the same name.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="playbook">The playbook.</param>
    /// <returns>The builder.</returns>
    public static IBackupDRBuilder AddPlaybook(this IBackupDRBuilder builder, HealthMate.Backup.Playbooks.PlaybookDefinition playbook)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(playbook);
        builder.Services.AddSingleton(playbook);
        return builder;
    }

    /// <summary>Wraps the active provider: retries innermost, then the concurrency cap, then logging.</summary>
    private static IStorageProvider Decorate(IStorageProvider provider, HealthMate.Backup.Storage.Decorators.StorageResilienceOptions resilience, IServiceProvider services)
    {
        var loggers = services.GetRequiredService<ILoggerFactory>();
        if (resilience.MaxAttempts > 1)
        {
            provider = new HealthMate.Backup.Storage.Decorators.RetryingStorageProvider(provider, resilience, services.GetRequiredService<TimeProvider>(), loggers.CreateLogger("HealthMate.Backup.Storage"));
        }

        if (resilience.MaxConcurrentOperations > 0)
        {
            provider = new HealthMate.Backup.Storage.Decorators.ThrottlingStorageProvider(provider, resilience.MaxConcurrentOperations);
        }

        if (resilience.LogOperations)
        {
            provider = new HealthMate.Backup.Storage.Decorators.LoggingStorageProvider(provider, loggers.CreateLogger("HealthMate.Backup.Storage"));
        }

        return provider;
    }

    private static void AddCore(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(BackupDRMarker)))
        {
            return;
        }

        services.AddSingleton<BackupDRMarker>();
        services.AddOptions<BackupDROptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BackupDROptions>, BackupDROptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BackupDROptions>, StorageProviderRegisteredValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BackupDROptions>, FailoverComponentsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ILoggerFactory, NullLoggerFactory>();
        services.TryAdd(ServiceDescriptor.Singleton(typeof(ILogger<>), typeof(Logger<>)));

        services.TryAddSingleton(sp => KeyMaterialLoader.LoadKeyRing(sp.GetRequiredService<IOptions<BackupDROptions>>().Value.Encryption));
        services.TryAddKeyedSingleton<IStorageProvider>("local", (sp, _) => new LocalDiskStorageProvider(sp.GetRequiredService<IOptions<BackupDROptions>>().Value.Storage.Local));
        services.TryAddSingleton(sp =>
        {
            var storage = sp.GetRequiredService<IOptions<BackupDROptions>>().Value.Storage;
            var provider = sp.GetKeyedService<IStorageProvider>(storage.Provider.ToLowerInvariant())
                ?? throw new InvalidOperationException($"Storage provider '{storage.Provider}' (BackupDR:Storage:Provider) is not registered. Add its package and call its Add...Storage() on the AddBackupDR() builder.");
            return Decorate(provider, storage.Resilience, sp);
        });
        services.TryAddSingleton(sp => new StorageLayout(sp.GetRequiredService<IOptions<BackupDROptions>>().Value.Storage.Prefix));
        services.TryAddSingleton<IBackupCatalog, BackupCatalog>();
        services.TryAddSingleton<BackupEnvironment>();
        services.TryAddSingleton<RestoreRunner>();
        services.TryAddSingleton<BackupRunner>();
        services.TryAddSingleton<IBackupRunner>(sp => sp.GetRequiredService<BackupRunner>());
        services.TryAddSingleton<KeyedObjectStore>();
        services.TryAddSingleton<HealthMate.Backup.Verification.IVerificationRecords, HealthMate.Backup.Verification.VerificationRecords>();
        services.TryAddSingleton<IRestoreRunner>(sp => sp.GetRequiredService<RestoreRunner>());
        services.TryAddSingleton<IVerifyRunner, VerifyRunner>();
        services.TryAddSingleton<HealthMate.Backup.Scheduling.JobRecords>();
        services.TryAddSingleton<HealthMate.Backup.Scheduling.IJobRecords>(sp => sp.GetRequiredService<HealthMate.Backup.Scheduling.JobRecords>());
        services.TryAddSingleton<HealthMate.Backup.Retention.IBackupRetention, HealthMate.Backup.Retention.BackupRetention>();
        services.TryAddSingleton<HealthMate.Backup.Health.IBackupHealth, HealthMate.Backup.Health.BackupHealth>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<HealthMate.Backup.Health.IHealthProbe, HealthMate.Backup.Health.BackupHealthProbe>());
        services.TryAddSingleton<HealthMate.Backup.Recovery.RecoveryRecords>();
        services.TryAddSingleton<HealthMate.Backup.Recovery.IRecoveryRecords>(sp => sp.GetRequiredService<HealthMate.Backup.Recovery.RecoveryRecords>());
        services.TryAddSingleton<HealthMate.Backup.Failover.IApprovalGate, HealthMate.Backup.Failover.ApprovalGate>();
        services.TryAddSingleton<HealthMate.Backup.Failover.IEndpointRegistry, HealthMate.Backup.Failover.EndpointRegistry>();
        services.TryAddSingleton<HealthMate.Backup.Failover.IFailoverTopologyStore, HealthMate.Backup.Failover.StorageFailoverTopologyStore>();
        services.TryAddSingleton<HealthMate.Backup.Failover.FailoverCoordinator>();
        services.TryAddSingleton<HealthMate.Backup.Failover.IFailoverCoordinator>(sp => sp.GetRequiredService<HealthMate.Backup.Failover.FailoverCoordinator>());
        services.TryAddSingleton<HealthMate.Backup.Playbooks.IPlaybookRunner, HealthMate.Backup.Playbooks.PlaybookRunner>();
        services.TryAddSingleton<HealthMate.Backup.Recovery.IReadiness, HealthMate.Backup.Recovery.Readiness>();
        if (!OperatingSystem.IsWindows())
        {
            services.TryAddSingleton<HealthMate.Backup.FileTree.IFileTreeRestoreRunner, HealthMate.Backup.FileTree.FileTreeRestoreRunner>();
        }
    }

    /// <summary>Marks that the core services were added, so a second call adds nothing twice.</summary>
    private sealed class BackupDRMarker;
}
