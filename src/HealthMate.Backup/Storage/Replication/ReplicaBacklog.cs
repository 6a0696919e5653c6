namespace HealthMate.Backup.Storage.Replication;

/// <summary>
/// The copies one replica still owes, in the order their objects were committed. While a replica owes any, later
/// objects are not copied to it past them, so a manifest never reaches a replica before the data it names (a backup's
/// data and its manifest are committed, and copied, in that order). Each later copy first retries what is owed.
/// </summary>
internal sealed class ReplicaBacklog
{
    private readonly List<Owed> _owed = [];
    private readonly Lock _lock = new();

    /// <summary>Gets the gate that keeps one copier at a time working through this replica's backlog.</summary>
    internal SemaphoreSlim Gate { get; } = new(1, 1);

    internal bool IsEmpty
    {
        get
        {
            lock (_lock)
            {
                return _owed.Count == 0;
            }
        }
    }

    internal Owed[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _owed];
        }
    }

    /// <summary>Adds a copy owed (or updates the reason of one already owed); returns whether it was new.</summary>
    internal bool Add(string key, bool overwrite, string reason)
    {
        lock (_lock)
        {
            var index = _owed.FindIndex(o => o.Key == key);
            if (index >= 0)
            {
                _owed[index] = _owed[index] with { Reason = reason };
                return false;
            }

            _owed.Add(new Owed(key, overwrite, reason));
            return true;
        }
    }

    /// <summary>Removes the copies owed whose key passes <paramref name="match"/>; returns how many.</summary>
    internal int Remove(Func<string, bool> match)
    {
        lock (_lock)
        {
            return _owed.RemoveAll(o => match(o.Key));
        }
    }

    /// <summary>A copy owed: the key, whether it replaces an existing copy, and why it is not made yet.</summary>
    internal sealed record Owed(string Key, bool Overwrite, string Reason);
}
