using System.Runtime.CompilerServices;
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
    private readonly SealedRecords<JobRun> _records = new(environment, new EnvelopeKind("healthmate-backup-job-run", "run", KeyDerivation.JobRecordMacKeyInfo), JobRunJsonContext.Default.JobRun);

    internal string JobsPrefix => environment.Layout.Prefix + JobsFolder;

    private const string JobsFolder = "jobs/";

    public async Task<JobRun?> GetLastAsync(string job, CancellationToken cancellationToken = default)
    {
        ValidateName(job);
        var key = $"{JobsFolder}{job}/last.json";
        return Checked(await _records.ReadAsync(key, cancellationToken).ConfigureAwait(false), environment.Layout.Prefix + key, job);
    }

    public async IAsyncEnumerable<JobRun> ListAsync(string job, DateTimeOffset since, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ValidateName(job);
        var folder = $"{JobsFolder}{job}/runs/";
        await foreach (var run in _records.ListAsync(folder, since, cancellationToken).ConfigureAwait(false))
        {
            yield return Checked(run, $"{environment.Layout.Prefix}{folder}{run.RunId}.json", job)!;
        }
    }

    /// <summary>Stores a run: its own record (never replaced), then the job's newest-run pointer.</summary>
    internal async Task AddAsync(JobRun run, CancellationToken cancellationToken)
    {
        await _records.AddAsync($"{JobsFolder}{run.Job}/runs/{run.RunId}.json", run, cancellationToken).ConfigureAwait(false);
        var writer = await environment.Storage.OpenWriteAsync($"{JobsPrefix}{run.Job}/last.json", new StorageWriteOptions { Overwrite = true }, cancellationToken).ConfigureAwait(false);
        await using (writer.ConfigureAwait(false))
        {
            await writer.WriteAsync(_records.Seal(run), cancellationToken).ConfigureAwait(false);
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

    /// <summary>An authentic record stored under another job's name is refused (a moved or copied record).</summary>
    private static JobRun? Checked(JobRun? run, string key, string job) =>
        run is null || run.Job == job ? run : throw new ManifestAuthenticationException(key, $"it records job '{run.Job}' but is stored under '{job}'");
}
