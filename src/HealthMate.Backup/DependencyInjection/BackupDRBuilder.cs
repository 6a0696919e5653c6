namespace Microsoft.Extensions.DependencyInjection;

internal sealed class BackupDRBuilder(IServiceCollection services) : IBackupDRBuilder
{
    public IServiceCollection Services { get; } = services;
}
