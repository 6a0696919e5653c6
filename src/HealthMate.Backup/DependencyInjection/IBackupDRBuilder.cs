namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Returned by <c>AddBackupDR</c>; packages hang their registrations on it (<c>AddLocalStorage</c>, <c>AddPostgreSql</c>, <c>AddS3Storage</c>).</summary>
public interface IBackupDRBuilder
{
    /// <summary>Gets the service collection.</summary>
    IServiceCollection Services { get; }
}
