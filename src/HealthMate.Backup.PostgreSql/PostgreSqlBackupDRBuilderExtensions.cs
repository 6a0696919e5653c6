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
        builder.Services.TryAddSingleton(sp => new PostgreSqlGlobals(sp.GetRequiredService<HealthMate.Backup.Catalog.IBackupCatalog>(), sp.GetRequiredService<RestoreRunner>()));
        if (!OperatingSystem.IsWindows())
        {
            builder.Services.TryAddSingleton(CreatePointInTimeRestore);
            builder.Services.TryAddSingleton(CreateTestRestore);
        }

        return builder;
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static PostgreSqlTestRestore CreateTestRestore(IServiceProvider services) =>
        new(services.GetRequiredService<HealthMate.Backup.Catalog.IBackupCatalog>(), services.GetRequiredService<HealthMate.Backup.IRestoreRunner>(), services.GetRequiredService<PointInTimeRestore>(), services.GetRequiredService<HealthMate.Backup.Verification.IVerificationRecords>(), services.GetService<TimeProvider>() ?? TimeProvider.System);

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static PointInTimeRestore CreatePointInTimeRestore(IServiceProvider services) =>
        new(services.GetRequiredService<HealthMate.Backup.Catalog.IBackupCatalog>(), services.GetRequiredService<HealthMate.Backup.IRestoreRunner>(), services.GetService<TimeProvider>() ?? TimeProvider.System);
}
