using HealthMate.Backup.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup;

/// <summary>Fails start-up when <c>BackupDR:Storage:Provider</c> names a provider no package registered.</summary>
internal sealed class StorageProviderRegisteredValidator(IServiceProviderIsKeyedService services) : IValidateOptions<BackupDROptions>
{
    public ValidateOptionsResult Validate(string? name, BackupDROptions options)
    {
        var provider = options.Storage.Provider;
        if (string.IsNullOrWhiteSpace(provider) || services.IsKeyedService(typeof(IStorageProvider), provider.ToLowerInvariant()))
        {
            return ValidateOptionsResult.Success;
        }

        return ValidateOptionsResult.Fail($"BackupDR:Storage:Provider '{provider}' is not registered. Add its package and call its Add...Storage() on the AddBackupDR() builder.");
    }
}
