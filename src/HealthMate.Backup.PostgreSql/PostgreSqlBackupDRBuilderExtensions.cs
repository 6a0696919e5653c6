using HealthMate.Backup.Pipeline;
using HealthMate.Backup.PostgreSql;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the PostgreSQL services with <c>AddBackupDR</c>.</summary>
public static class PostgreSqlBackupDRBuilderExtensions
{
    /// <summary>Registers <see cref="WalArchive"/> (WAL push and fetch through the configured storage, key and pipeline)
    /// <see cref="PostgreSqlGlobals"/>, <see cref="PointInTimeRestore"/> and <see cref="PostgreSqlTestRestore"/>.</summary>
    /// <param name="builder">The builder <c>AddBackupDR</c> returned.</param>
    /// <returns>The same builder.</returns>
    public static IBackupDRBuilder AddPostgreSql(this IBackupDRBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(sp => new WalArchive(sp.GetRequiredService<KeyedObjectStore>()));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<HealthMate.Backup.Retention.IArchiveRetention, WalRetention>(_ => new WalRetention(PhysicalKind)));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<HealthMate.Backup.Health.IRecoveryPointSource, WalRecoveryPoints>(sp => new WalRecoveryPoints(sp.GetRequiredService<BackupEnvironment>(), PhysicalKind)));
        builder.Services.TryAddSingleton(sp => new PostgreSqlGlobals(sp.GetRequiredService<HealthMate.Backup.Catalog.IBackupCatalog>(), sp.GetRequiredService<RestoreRunner>()));
        if (!OperatingSystem.IsWindows())
        {
            builder.Services.TryAddSingleton(CreatePointInTimeRestore);
            builder.Services.TryAddSingleton(CreateTestRestore);
        }

        return builder;
    }

    /// <summary>Uses PostgreSQL advisory locks as the scheduled jobs' leader lease (instead of the storage lease), so
    /// replicas of the host that share a database run each job once.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Configures the connection to the primary.</param>
    /// <returns>The same builder.</returns>
    public static IBackupDRBuilder AddPostgreSqlLease(this IBackupDRBuilder builder, Action<PostgreSqlConnectionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var connection = new PostgreSqlConnectionOptions();
        configure(connection);
        builder.Services.AddSingleton<HealthMate.Backup.Leases.ILeaseProvider>(sp => new PostgreSqlLeaseProvider(connection, null, sp.GetService<TimeProvider>()));
        builder.Services.Configure<HealthMate.Backup.BackupDROptions>(o => o.Schedules.Lease = HealthMate.Backup.Scheduling.JobLeaseKind.Registered);
        return builder;
    }

    /// <summary>Adds the scheduled <c>database-backup</c> job (daily at 02:00 unless <c>BackupDR:Schedules:Jobs:database-backup</c>
    /// says otherwise) as a logical backup. Call <c>AddBackupSchedules()</c> too.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="options">What to dump.</param>
    /// <returns>The same builder.</returns>
    public static IBackupDRBuilder AddPostgreSqlBackupJob(this IBackupDRBuilder builder, LogicalBackupOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { Count: > 0 } problems)
        {
            throw new ArgumentException("The database backup job's options are not valid: " + string.Join("; ", problems), nameof(options));
        }

        builder.Services.AddSingleton<HealthMate.Backup.Scheduling.IScheduledJob>(sp => new DatabaseBackupJob(sp.GetRequiredService<HealthMate.Backup.IBackupRunner>(), () => PostgreSqlBackups.Logical(options)));
        return builder;
    }

    /// <summary>Adds the scheduled <c>database-backup</c> job as a physical base backup (for point-in-time recovery
    /// with the WAL archive). Call <c>AddBackupSchedules()</c> too.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="options">The cluster to back up.</param>
    /// <returns>The same builder.</returns>
    public static IBackupDRBuilder AddPostgreSqlBackupJob(this IBackupDRBuilder builder, PhysicalBackupOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        builder.Services.AddSingleton<HealthMate.Backup.Scheduling.IScheduledJob>(sp => new DatabaseBackupJob(sp.GetRequiredService<HealthMate.Backup.IBackupRunner>(), () => PostgreSqlBackups.Physical(options)));
        return builder;
    }

    /// <summary>The kind of physical base backups, which the WAL archive continues.</summary>
    private const string PhysicalKind = "postgres-base";

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static PostgreSqlTestRestore CreateTestRestore(IServiceProvider services) =>
        new(services.GetRequiredService<HealthMate.Backup.Catalog.IBackupCatalog>(), services.GetRequiredService<HealthMate.Backup.IRestoreRunner>(), services.GetRequiredService<PointInTimeRestore>(), services.GetRequiredService<HealthMate.Backup.Verification.IVerificationRecords>(), services.GetService<TimeProvider>() ?? TimeProvider.System);

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static PointInTimeRestore CreatePointInTimeRestore(IServiceProvider services) =>
        new(services.GetRequiredService<HealthMate.Backup.Catalog.IBackupCatalog>(), services.GetRequiredService<HealthMate.Backup.IRestoreRunner>(), services.GetService<TimeProvider>() ?? TimeProvider.System,
            services.GetService<HealthMate.Backup.Recovery.IRecoveryRecords>(), services.GetServices<HealthMate.Backup.Health.IRecoveryPointSource>(), services.GetService<WalArchive>());

    /// <summary>
    /// Adds a PostgreSQL primary/standby failover strategy and its probe (both named <c>options.Name</c>, default
    /// <c>database</c>). With <c>AddHealthMonitor()</c>, a primary that stops answering is failed over automatically.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Sets the primary, the standbys and the limits.</param>
    /// <returns>The same builder.</returns>
    public static IBackupDRBuilder AddPostgreSqlFailover(this IBackupDRBuilder builder, Action<PostgreSqlFailoverOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new PostgreSqlFailoverOptions();
        configure(options);
        return builder.AddPostgreSqlFailover(options);
    }

    /// <summary>Adds a PostgreSQL primary/standby failover strategy and its probe from options already made (the same
    /// options give the application its <see cref="PostgreSqlFailoverOptions.ClientConnectionString"/>).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="options">The primary, the standbys and the limits; validated here.</param>
    /// <returns>The same builder.</returns>
    public static IBackupDRBuilder AddPostgreSqlFailover(this IBackupDRBuilder builder, PostgreSqlFailoverOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        OptionsCheck.ThrowIfInvalid(options.Validate(), nameof(options));
        var key = options.Name;
        builder.Services.AddKeyedSingleton(key, (sp, _) => new PostgreSqlFailoverStrategy(options, sp.GetService<HealthMate.Backup.Failover.IEndpointRegistry>(), sp.GetService<TimeProvider>(), sp.GetService<HealthMate.Backup.Failover.IFailoverTopologyStore>()));
        builder.Services.AddSingleton<HealthMate.Backup.Failover.IFailoverStrategy>(sp => sp.GetRequiredKeyedService<PostgreSqlFailoverStrategy>(key));
        builder.Services.AddSingleton<HealthMate.Backup.Health.IHealthProbe>(sp => sp.GetRequiredKeyedService<PostgreSqlFailoverStrategy>(key));
        return builder;
    }

    /// <summary>Registers the region-outage playbook's <c>restore-database</c> step: a point-in-time restore to the
    /// newest archived WAL (by default) into an empty data directory, from the storage this host reads.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="configure">Sets the data directory, port, restore command and connection.</param>
    /// <returns>The same builder.</returns>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static IBackupDRBuilder AddPostgreSqlRegionRestore(this IBackupDRBuilder builder, Action<PointInTimeRestoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.AddPostgreSql();
        var options = new PointInTimeRestoreOptions();
        configure(options);
        OptionsCheck.ThrowIfInvalid(options.Validate(), nameof(configure));
        builder.Services.AddKeyedSingleton<HealthMate.Backup.Playbooks.IPlaybookStep>("restore-database", (sp, _) =>
            new PostgreSqlRegionRestoreStep(sp.GetRequiredService<PointInTimeRestore>(), options, sp.GetServices<HealthMate.Backup.Health.IRecoveryPointSource>()));
        return builder;
    }
}
