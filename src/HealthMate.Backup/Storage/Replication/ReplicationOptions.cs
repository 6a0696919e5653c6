namespace HealthMate.Backup.Storage.Replication;

/// <summary>When copies are made.</summary>
public enum ReplicationMode
{
    /// <summary>A commit returns only after every replica holds a verified copy, or a copy failed (then the object is
    /// committed on the primary and listed in <see cref="ReplicatingStorageProvider.FailedCopies"/> until repaired). The default.</summary>
    Synchronous,

    /// <summary>A commit returns once the primary holds the object; copies follow from a bounded queue (see
    /// <see cref="ReplicatingStorageProvider.PendingCopies"/> and the metric <c>healthmate.backup.replication.pending</c>).</summary>
    Asynchronous,
}

/// <summary>How a <see cref="ReplicatingStorageProvider"/> copies objects.</summary>
public sealed class ReplicationOptions
{
    /// <summary>Gets or sets when copies are made. Defaults to <see cref="ReplicationMode.Synchronous"/>.</summary>
    public ReplicationMode Mode { get; set; } = ReplicationMode.Synchronous;

    /// <summary>Gets or sets how many copies may wait in asynchronous mode before a commit waits for room. Defaults to 1024.</summary>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>Gets or sets how many recent reads per store decide which replica a failed read falls back to first. Defaults to 20.</summary>
    public int HealthWindow { get; set; } = 20;
}

/// <summary>What a replica check or repair found.</summary>
/// <param name="Checked">Objects checked (per replica).</param>
/// <param name="Missing">Copies that were missing, as <c>store: key</c>.</param>
/// <param name="Mismatched">Copies whose size or SHA-256 differed from the primary's.</param>
/// <param name="Repaired">Copies made again (by a repair).</param>
public sealed record ReplicaReport(int Checked, IReadOnlyList<string> Missing, IReadOnlyList<string> Mismatched, int Repaired)
{
    /// <summary>Gets whether every replica holds an identical copy of every object.</summary>
    public bool IsConsistent => Missing.Count == 0 && Mismatched.Count == 0;
}
