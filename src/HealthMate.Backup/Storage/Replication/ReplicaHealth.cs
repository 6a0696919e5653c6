namespace HealthMate.Backup.Storage.Replication;

/// <summary>A store's recent outcomes, which decide the order replicas are read in when the primary fails.</summary>
internal sealed class ReplicaHealth(int window)
{
    private readonly Queue<bool> _outcomes = new();
    private readonly Lock _gate = new();

    internal double SuccessRate
    {
        get
        {
            lock (_gate)
            {
                return _outcomes.Count == 0 ? 1 : _outcomes.Count(o => o) / (double)_outcomes.Count;
            }
        }
    }

    internal void Record(bool success)
    {
        lock (_gate)
        {
            _outcomes.Enqueue(success);
            while (_outcomes.Count > window)
            {
                _outcomes.Dequeue();
            }
        }
    }
}
