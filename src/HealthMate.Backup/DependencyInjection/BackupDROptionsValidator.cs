using HealthMate.Backup.Compression;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Pipeline;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup;

/// <summary>
/// Validates <see cref="BackupDROptions"/> and lists every problem at once, at start-up: it also loads each key from
/// its source (environment variable, file) so a missing key fails the host's start, not the 2 a.m. backup.
/// Messages name settings and key ids, never key material.
/// </summary>
public sealed class BackupDROptionsValidator : IValidateOptions<BackupDROptions>
{
    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, BackupDROptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        ValidateEncryption(options.Encryption, errors);
        ValidateCompression(options.Compression, errors);
        if (options.Pipeline.Parallelism is < 1 or > PipelineOptions.MaxParallelism)
        {
            errors.Add($"BackupDR:Pipeline:Parallelism is {options.Pipeline.Parallelism}; it must be from 1 to {PipelineOptions.MaxParallelism}.");
        }

        var resilience = options.Storage.Resilience;
        if (resilience.MaxAttempts is < 1 or > 20 || resilience.BaseDelay < TimeSpan.Zero || resilience.MaxDelay < resilience.BaseDelay || resilience.MaxConcurrentOperations < 0)
        {
            errors.Add("BackupDR:Storage:Resilience needs MaxAttempts 1..20, BaseDelay >= 0, MaxDelay >= BaseDelay, MaxConcurrentOperations >= 0.");
        }

        if (string.IsNullOrWhiteSpace(options.Storage.Provider))
        {
            errors.Add("BackupDR:Storage:Provider must not be empty.");
        }

        var localPath = options.Storage.Local.Path;
        if (string.IsNullOrWhiteSpace(localPath) ? string.Equals(options.Storage.Provider, "local", StringComparison.OrdinalIgnoreCase) : !System.IO.Path.IsPathFullyQualified(localPath))
        {
            errors.Add($"BackupDR:Storage:Local:Path must be an absolute path (it is '{localPath}'): a relative one depends on the working directory, which under archive_command is the database's own data directory.");
        }

        var prefix = options.Storage.Prefix.Trim('/');
        if (prefix.Length > 0 && Storage.StorageKey.GetError(prefix) is { } prefixError)
        {
            errors.Add($"BackupDR:Storage:Prefix '{options.Storage.Prefix}' is not valid: {prefixError}.");
        }

        if (options.Retention.Days is < 1 or > 36_500)
        {
            errors.Add($"BackupDR:Retention:Days is {options.Retention.Days}; it must be from 1 to 36500.");
        }

        if (options.Files.MaxFileSizeMb is < 1 or > 1_048_576)
        {
            errors.Add($"BackupDR:Files:MaxFileSizeMb is {options.Files.MaxFileSizeMb}; it must be from 1 to 1048576.");
        }

        for (var i = 0; i < options.Files.Paths.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(options.Files.Paths[i]))
            {
                errors.Add($"BackupDR:Files:Paths:{i} is empty.");
            }
        }

        for (var i = 0; i < options.Files.ExcludePatterns.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(options.Files.ExcludePatterns[i]))
            {
                errors.Add($"BackupDR:Files:ExcludePatterns:{i} is empty.");
            }
        }

        if (options.Files.IncrementalsPerFull is < 0 or > 1_000)
        {
            errors.Add($"BackupDR:Files:IncrementalsPerFull is {options.Files.IncrementalsPerFull}; it must be from 0 to 1000.");
        }

        ValidateRetention(options.Retention, errors);
        ValidateSchedules(options.Schedules, errors);
        ValidateHealth(options, errors);
        ValidateRecovery(options, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateRetention(RetentionOptions retention, List<string> errors)
    {
        foreach (var (section, policies) in new[] { ("Kinds", retention.Kinds), ("Plans", retention.Plans) })
        {
            foreach (var (key, policy) in policies)
            {
                if (!Catalog.StorageLayout.IsValidKind(key))
                {
                    errors.Add($"BackupDR:Retention:{section}:{key} does not name a valid {(section == "Kinds" ? "kind" : "plan")} (lower-case letters, digits and '-').");
                }

                errors.AddRange((policy ?? new Retention.RetentionPolicy()).Validate().Select(p => $"BackupDR:Retention:{section}:{key} {p}."));
            }
        }

        if (retention.IncompleteUploadGrace < TimeSpan.FromHours(1) || retention.IncompleteUploadGrace > TimeSpan.FromDays(30))
        {
            errors.Add($"BackupDR:Retention:IncompleteUploadGrace is {retention.IncompleteUploadGrace}; it must be from 1 hour to 30 days (and longer than the longest backup).");
        }

        if (retention.JobRecordDays is < 1 or > 36_500)
        {
            errors.Add($"BackupDR:Retention:JobRecordDays is {retention.JobRecordDays}; it must be from 1 to 36500.");
        }
    }

    private static void ValidateSchedules(Scheduling.SchedulingOptions schedules, List<string> errors)
    {
        if (schedules.LeaseDuration < TimeSpan.FromSeconds(5) || schedules.LeaseDuration > TimeSpan.FromHours(1))
        {
            errors.Add($"BackupDR:Schedules:LeaseDuration is {schedules.LeaseDuration}; it must be from 5 seconds to 1 hour.");
        }

        if (!Enum.IsDefined(schedules.Lease))
        {
            errors.Add($"BackupDR:Schedules:Lease '{schedules.Lease}' is not Storage, Registered or None.");
        }

        if (!TimeZoneInfo.TryFindSystemTimeZoneById(schedules.TimeZone, out _))
        {
            errors.Add($"BackupDR:Schedules:TimeZone '{schedules.TimeZone}' is not a time zone known to this system.");
        }

        foreach (var (name, job) in schedules.Jobs)
        {
            var at = $"BackupDR:Schedules:Jobs:{name}";
            if (!Catalog.StorageLayout.IsValidKind(name))
            {
                errors.Add($"{at}: job names are 1 to 32 lower-case letters, digits and '-'.");
            }

            var effective = schedules.Resolve(name);
            if (effective?.Cron is null)
            {
                errors.Add($"{at}:Cron is required (the job has no default schedule).");
            }
            else
            {
                try
                {
                    Scheduling.JobScheduler.ParseCron(effective.Cron);
                }
                catch (Cronos.CronFormatException ex)
                {
                    errors.Add($"{at}:Cron '{effective.Cron}' is not a cron expression: {ex.Message}");
                }
            }

            if (job.TimeZone is not null && !TimeZoneInfo.TryFindSystemTimeZoneById(job.TimeZone, out _))
            {
                errors.Add($"{at}:TimeZone '{job.TimeZone}' is not a time zone known to this system.");
            }

            if (job.Jitter < TimeSpan.Zero || job.Jitter > TimeSpan.FromHours(1))
            {
                errors.Add($"{at}:Jitter is {job.Jitter}; it must be from zero to 1 hour.");
            }

            if (job.Timeout < TimeSpan.FromSeconds(1) || job.Timeout > TimeSpan.FromDays(7))
            {
                errors.Add($"{at}:Timeout is {job.Timeout}; it must be from 1 second to 7 days.");
            }

            if (!Enum.IsDefined(job.MissedRuns))
            {
                errors.Add($"{at}:MissedRuns '{job.MissedRuns}' is not RunOnce or Skip.");
            }
        }
    }

    private static void ValidateRecovery(BackupDROptions options, List<string> errors)
    {
        var tiers = options.Objectives.Tiers;
        errors.AddRange(options.Monitor.Validate()
            .Concat(options.Failover.Validate(tiers))
            .Concat(Playbooks.PlaybookConfiguration.Validate(options.Playbooks, tiers))
            .Concat(options.Readiness.Validate())
            .Select(problem => "BackupDR:" + problem));
    }

    private static void ValidateHealth(BackupDROptions options, List<string> errors)
    {
        foreach (var (tier, objective) in options.Objectives.Tiers)
        {
            if (objective is null || objective.Rto <= TimeSpan.Zero || objective.Rpo <= TimeSpan.Zero)
            {
                errors.Add($"BackupDR:Objectives:Tiers:{tier} needs a positive Rto and Rpo.");
            }
        }

        for (var i = 0; i < options.Health.Targets.Count; i++)
        {
            var target = options.Health.Targets[i];
            var at = $"BackupDR:Health:Targets:{i}";
            if (!Catalog.StorageLayout.IsValidKind(target.Kind))
            {
                errors.Add($"{at}:Kind '{target.Kind}' is not a backup kind.");
            }

            if (target.Plan is not null && !Catalog.StorageLayout.IsValidKind(target.Plan))
            {
                errors.Add($"{at}:Plan '{target.Plan}' is not a plan name.");
            }

            if (target.Tier is not null && !options.Objectives.Tiers.ContainsKey(target.Tier))
            {
                errors.Add($"{at}:Tier '{target.Tier}' is not one of the tiers ({string.Join(", ", options.Objectives.Tiers.Keys)}).");
            }

            if (target.ExpectedEvery is { } every && every <= TimeSpan.Zero || target.Grace < TimeSpan.Zero || target.VerifiedWithin is { } v && v <= TimeSpan.Zero)
            {
                errors.Add($"{at}: ExpectedEvery and VerifiedWithin must be positive, Grace not negative.");
            }
        }

        if (options.Health.Window <= TimeSpan.Zero)
        {
            errors.Add("BackupDR:Health:Window must be positive.");
        }
    }

    private static void ValidateEncryption(EncryptionOptions encryption, List<string> errors)
    {
        if (encryption.Keys.Count == 0)
        {
            errors.Add("BackupDR:Encryption:Keys is empty: configure at least one key (manifests are always authenticated, and data is encrypted unless Encryption:Enabled is false).");
        }

        if (string.IsNullOrEmpty(encryption.ActiveKeyId))
        {
            errors.Add("BackupDR:Encryption:ActiveKeyId is not set.");
        }
        else if (!encryption.Keys.Any(k => string.Equals(k.Id, encryption.ActiveKeyId, StringComparison.Ordinal)))
        {
            errors.Add($"BackupDR:Encryption:ActiveKeyId '{encryption.ActiveKeyId}' is not the id of any configured key.");
        }

        if (encryption.SegmentSize is < StreamingAeadConstants.MinSegmentSize or > StreamingAeadConstants.MaxSegmentSize)
        {
            errors.Add($"BackupDR:Encryption:SegmentSize is {encryption.SegmentSize}; it must be from {StreamingAeadConstants.MinSegmentSize} to {StreamingAeadConstants.MaxSegmentSize}.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < encryption.Keys.Count; i++)
        {
            var key = encryption.Keys[i];
            if (!BackupKeyRing.IsValidKeyId(key.Id))
            {
                errors.Add($"BackupDR:Encryption:Keys:{i}:Id is not valid: a key id is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'.");
                continue;
            }

            if (!seen.Add(key.Id))
            {
                errors.Add($"BackupDR:Encryption:Keys:{i}: key id '{key.Id}' appears more than once.");
                continue;
            }

            try
            {
                // Passphrase keys are only checked for shape here; stretching happens once, when the keyring is built.
                if (key.Passphrase is not null && KeyMaterialLoader.CountSources(key) == 1)
                {
                    if (key.Passphrase.Length < 12)
                    {
                        errors.Add($"BackupDR:Encryption:Keys:{i}: the passphrase of key '{key.Id}' is shorter than 12 characters.");
                    }

                    if (key.PassphraseIterations < KeyMaterialLoader.MinPassphraseIterations)
                    {
                        errors.Add($"BackupDR:Encryption:Keys:{i}: PassphraseIterations of key '{key.Id}' is {key.PassphraseIterations}; use at least {KeyMaterialLoader.MinPassphraseIterations}.");
                    }

                    continue;
                }

                var material = KeyMaterialLoader.Load(key);
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(material);
            }
            catch (InvalidOperationException ex)
            {
                errors.Add($"BackupDR:Encryption:Keys:{i}: {ex.Message}");
            }
        }
    }

    private static void ValidateCompression(CompressionOptions compression, List<string> errors)
    {
        if (!Enum.IsDefined(compression.Algorithm))
        {
            errors.Add($"BackupDR:Compression:Algorithm '{compression.Algorithm}' is not one of Zstd, Gzip, Brotli, None.");
        }
        else if (CompressorFactory.ValidateLevel(compression.Algorithm, compression.Level) is { } levelError)
        {
            errors.Add($"BackupDR:Compression:Level: {levelError}");
        }

        if (compression.BlockSize is < CompressionOptions.MinBlockSize or > CompressionOptions.MaxBlockSize)
        {
            errors.Add($"BackupDR:Compression:BlockSize is {compression.BlockSize}; it must be from {CompressionOptions.MinBlockSize} to {CompressionOptions.MaxBlockSize}.");
        }
    }
}
