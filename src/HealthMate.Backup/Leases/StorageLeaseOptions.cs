namespace HealthMate.Backup.Leases;

/// <summary>Options of the storage lease.</summary>
public sealed class StorageLeaseOptions
{
    /// <summary>Gets or sets the safety margin on each side of a lease's duration (from zero to ten minutes): the holder
    /// treats its lease as lost this long before its duration ends, and another host waits this long after the duration
    /// it has itself observed. Both are measured on each host's monotonic clock, so the margin covers how far two hosts'
    /// clocks may disagree on the length of one duration and the moment between a holder's last check and its write; it
    /// does not need to cover wall-clock offsets or steps. A lease must last at least twice this margin.</summary>
    /// <value>The default value is two seconds.</value>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Gets or sets the holder's name written in the lease records, for operators (not a secret).</summary>
    /// <value>The default value is the machine name and process id.</value>
    public string HolderName { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId}";
}
