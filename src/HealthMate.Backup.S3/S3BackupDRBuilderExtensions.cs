using HealthMate.Backup;
using HealthMate.Backup.S3;
using HealthMate.Backup.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the S3 storage provider with <c>AddBackupDR</c>.</summary>
public static class S3BackupDRBuilderExtensions
{
    /// <summary>Stores backups in an S3 bucket (provider name <c>s3</c>, made the active provider). The options are
    /// validated when the host starts, every problem listed; the secret key is never logged.</summary>
    /// <param name="builder">The builder <c>AddBackupDR</c> returned.</param>
    /// <param name="configure">Sets the bucket, endpoint, credentials and upload settings.</param>
    /// <returns>The same builder.</returns>
    public static IBackupDRBuilder AddS3Storage(this IBackupDRBuilder builder, Action<S3StorageOptions> configure) =>
        builder.AddS3Storage("s3", configure);

    /// <summary>Adds an S3 bucket as the storage provider named <paramref name="name"/> and makes it the active one (a
    /// later <c>AddReplication</c> can make it a primary or a replica instead). Several buckets (regions) each get a name.</summary>
    /// <param name="builder">The builder <c>AddBackupDR</c> returned.</param>
    /// <param name="name">The provider's name: lower-case letters, digits and '-'.</param>
    /// <param name="configure">Sets the bucket, endpoint, credentials and upload settings.</param>
    /// <returns>The same builder.</returns>
    public static IBackupDRBuilder AddS3Storage(this IBackupDRBuilder builder, string name, Action<S3StorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<S3StorageOptions>(name).Configure(configure);
        return Register(builder, name);
    }

    /// <summary>Stores backups in an S3 bucket with options bound from a configuration section (such as
    /// <c>BackupDR:Storage:S3</c>).</summary>
    /// <param name="builder">The builder <c>AddBackupDR</c> returned.</param>
    /// <param name="section">The section to bind.</param>
    /// <returns>The same builder.</returns>
    public static IBackupDRBuilder AddS3Storage(this IBackupDRBuilder builder, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        builder.Services.AddOptions<S3StorageOptions>("s3").Bind(section);
        return Register(builder, "s3");
    }

    private static IBackupDRBuilder Register(IBackupDRBuilder builder, string name)
    {
        builder.Services.AddOptions<S3StorageOptions>(name).ValidateOnStart();
        if (!builder.Services.Any(d => d.ServiceType == typeof(IValidateOptions<S3StorageOptions>) && d.ImplementationType == typeof(S3OptionsValidator)))
        {
            builder.Services.AddSingleton<IValidateOptions<S3StorageOptions>, S3OptionsValidator>();
        }

        builder.Services.AddKeyedSingleton<IStorageProvider>(name, (sp, _) => new S3StorageProvider(sp.GetRequiredService<IOptionsMonitor<S3StorageOptions>>().Get(name), sp.GetService<TimeProvider>()));
        builder.Services.Configure<BackupDROptions>(options => options.Storage.Provider = name);
        return builder;
    }

    /// <summary>Reports every problem of the S3 options, by name.</summary>
    private sealed class S3OptionsValidator : IValidateOptions<S3StorageOptions>
    {
        public ValidateOptionsResult Validate(string? name, S3StorageOptions options)
        {
            var errors = options.Validate();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
