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
    public static IBackupDRBuilder AddS3Storage(this IBackupDRBuilder builder, Action<S3StorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<S3StorageOptions>().Configure(configure);
        return Register(builder);
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
        builder.Services.AddOptions<S3StorageOptions>().Bind(section);
        return Register(builder);
    }

    private static IBackupDRBuilder Register(IBackupDRBuilder builder)
    {
        builder.Services.AddOptions<S3StorageOptions>().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<S3StorageOptions>, S3OptionsValidator>();
        builder.Services.AddKeyedSingleton<IStorageProvider>("s3", (sp, _) => new S3StorageProvider(sp.GetRequiredService<IOptions<S3StorageOptions>>().Value));
        builder.Services.Configure<BackupDROptions>(options => options.Storage.Provider = "s3");
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
