using HealthMate.Backup.Pipeline;
using Microsoft.Extensions.Logging;

namespace HealthMate.Backup.Leases;

/// <summary>The lease providers a setting can name: the storage lease, or the one registered in DI.</summary>
internal static class LeaseProviders
{
    /// <summary>A lease kept in the backup storage, its records sealed with the backup keyring.</summary>
    internal static ILeaseProvider Storage(BackupEnvironment environment) =>
        new StorageLeaseProvider(environment.Storage, environment.Options.Storage.Prefix, environment.TimeProvider, null, environment.KeyRing, environment.LoggerFactory.CreateLogger<StorageLeaseProvider>());

    /// <summary>The registered <see cref="ILeaseProvider"/>, or an error naming the setting that asked for it.</summary>
    internal static ILeaseProvider Registered(IServiceProvider services, string setting) =>
        (ILeaseProvider?)services.GetService(typeof(ILeaseProvider))
            ?? throw new InvalidOperationException($"BackupDR:{setting} is Registered but no ILeaseProvider is registered (for PostgreSQL: AddPostgreSqlLease()).");
}
