using HealthMate.Backup.Storage.Local;

namespace HealthMate.Backup.Storage;

/// <summary>Where backups are stored.</summary>
public sealed class StorageOptions
{
    /// <summary>Gets or sets the provider: <c>local</c> (the default; no server needed). Provider packages add others.</summary>
    /// <value>The default value is <c>local</c>.</value>
    public string Provider { get; set; } = "local";

    /// <summary>Gets or sets a key prefix under which everything is stored, such as <c>prod/healthmate</c>.</summary>
    /// <value>The default value is empty.</value>
    public string Prefix { get; set; } = string.Empty;

    /// <summary>Gets or sets the retry, throttle and logging decorators applied around the active provider.</summary>
    public Decorators.StorageResilienceOptions Resilience { get; set; } = new();

    /// <summary>Gets or sets the local-disk provider's options.</summary>
    public LocalStorageOptions Local { get; set; } = new();
}
