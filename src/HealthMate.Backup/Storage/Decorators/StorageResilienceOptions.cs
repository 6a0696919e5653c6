namespace HealthMate.Backup.Storage.Decorators;

/// <summary>
/// Decorators applied around the active storage provider, whichever it is (as restic wraps its backends): retries of
/// transient failures, a cap on concurrent operations, and operation logging. Section <c>BackupDR:Storage:Resilience</c>.
/// </summary>
public sealed class StorageResilienceOptions
{
    /// <summary>Gets or sets how many times an idempotent operation (read, list, stat, delete, put-if-absent) is tried
    /// on a transient failure, the first try included; 1 turns retrying off. Writes are retried inside a provider per
    /// part, never as a whole object. Defaults to 4.</summary>
    public int MaxAttempts { get; set; } = 4;

    /// <summary>Gets or sets the first retry's delay; each next one doubles, with jitter, up to <see cref="MaxDelay"/>. Defaults to 200 ms.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Gets or sets the longest delay between tries. Defaults to 10 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how many operations (an open writer counts as one until disposed) may run at once; 0 for no limit. Defaults to 0.</summary>
    public int MaxConcurrentOperations { get; set; }

    /// <summary>Gets or sets whether each operation is logged (debug level: operation, key, bytes, time, outcome). Defaults to false.</summary>
    public bool LogOperations { get; set; }
}
