using System.Runtime.CompilerServices;
using System.Text.Json;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Pipeline;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Scheduling;

/// <summary>Reads and writes job run records: <c>jobs/{job}/runs/{run-id}.json</c> and <c>jobs/{job}/last.json</c>.</summary>
public interface IJobRecords
{
    /// <summary>Gets a job's newest run, or <see langword="null"/> if it never ran.</summary>
    /// <param name="job">The job's name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The newest run.</returns>
    Task<JobRun?> GetLastAsync(string job, CancellationToken cancellationToken = default);

    /// <summary>Lists a job's runs that started at or after <paramref name="since"/>, oldest first.</summary>
    /// <param name="job">The job's name.</param>
    /// <param name="since">The earliest start.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The runs.</returns>
    IAsyncEnumerable<JobRun> ListAsync(string job, DateTimeOffset since, CancellationToken cancellationToken = default);
}

/// <summary>Job run records as authenticated JSON (their own envelope and HMAC key).</summary>
internal sealed class JobRecords(BackupEnvironment environment) : IJobRecords
{
    private static readonly EnvelopeKind Envelope = new("healthmate-backup-job-run", "run", KeyDerivation.JobRecordMacKeyInfo);

    internal string JobsPrefix => environment.Layout.Prefix + "jobs/";

    public async Task<JobRun?> GetLastAsync(string job, CancellationToken cancellationToken = default)
    {
        ValidateName(job);
        var key = $"{JobsPrefix}{job}/last.json";
        try
        {
            return Read(await environment.Storage.ReadSmallAsync(key, SmallObjects.MaxDocumentSize, cancellationToken).ConfigureAwait(false), key, job);
        }
        catch (StorageObjectNotFoundException)
        {
            return null;
        }
    }

    public async IAsyncEnumerable<JobRun> ListAsync(string job, DateTimeOffset since, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ValidateName(job);
        var prefix = $"{JobsPrefix}{job}/runs/";
        var sinceId = BackupId.TimePrefix(since);
        var keys = new List<string>();
        await foreach (var item in environment.Storage.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            var name = item.Key[prefix.Length..];
            if (name.EndsWith(".json", StringComparison.Ordinal) && BackupId.IsValid(name[..^5]) && string.CompareOrdinal(name, sinceId) >= 0)
            {
                keys.Add(item.Key);
            }
        }

        keys.Sort(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            JobRun run;
            try
            {
                run = Read(await environment.Storage.ReadSmallAsync(key, SmallObjects.MaxDocumentSize, cancellationToken).ConfigureAwait(false), key, job);
            }
            catch (StorageObjectNotFoundException)
            {
                continue;
            }

            yield return run;
        }
    }

    /// <summary>Stores a run: its own record (never replaced), then the job's newest-run pointer.</summary>
    internal async Task AddAsync(JobRun run, CancellationToken cancellationToken)
    {
        var bytes = ManifestSerializer.Seal(JsonSerializer.SerializeToUtf8Bytes(run, JobRunJsonContext.Default.JobRun), environment.KeyRing, Envelope);
        await environment.Storage.PutIfAbsentAsync($"{JobsPrefix}{run.Job}/runs/{run.RunId}.json", bytes, cancellationToken).ConfigureAwait(false);
        var writer = await environment.Storage.OpenWriteAsync($"{JobsPrefix}{run.Job}/last.json", new StorageWriteOptions { Overwrite = true }, cancellationToken).ConfigureAwait(false);
        await using (writer.ConfigureAwait(false))
        {
            await writer.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            await writer.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Removes run records that started before <paramref name="before"/> (never <c>last.json</c>).</summary>
    internal async Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var beforeId = BackupId.TimePrefix(before);
        var old = new List<string>();
        await foreach (var item in environment.Storage.ListAsync(JobsPrefix, cancellationToken).ConfigureAwait(false))
        {
            var slash = item.Key.LastIndexOf('/');
            var name = item.Key[(slash + 1)..];
            if (item.Key.AsSpan(0, slash).EndsWith("/runs") && name.EndsWith(".json", StringComparison.Ordinal) && BackupId.IsValid(name[..^5]) && string.CompareOrdinal(name, beforeId) < 0)
            {
                old.Add(item.Key);
            }
        }

        foreach (var key in old)
        {
            await environment.Storage.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        }

        return old.Count;
    }

    internal static void ValidateName(string job)
    {
        if (!StorageLayout.IsValidKind(job))
        {
            throw new ArgumentException($"Job name '{job}' is not valid: use 1 to 32 lower-case letters, digits and '-', starting with a letter.", nameof(job));
        }
    }

    private JobRun Read(byte[] bytes, string key, string job)
    {
        var body = ManifestSerializer.Open(bytes, environment.KeyRing, key, Envelope);
        JobRun run;
        try
        {
            run = JsonSerializer.Deserialize(body, JobRunJsonContext.Default.JobRun) ?? throw new BackupFormatException($"Job record '{key}' is empty.");
        }
        catch (JsonException ex)
        {
            throw new BackupFormatException($"Job record '{key}' is authentic but cannot be read by this version: {ex.Message}", ex);
        }

        return run.Job == job ? run : throw new ManifestAuthenticationException(key, $"it records job '{run.Job}' but is stored under '{job}'");
    }
}
