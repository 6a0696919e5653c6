namespace HealthMate.Backup.Tests.Support;

/// <summary>One round of the <see cref="AckChecker"/>'s sampler: which servers took a new client's write.</summary>
/// <param name="At">When the round started.</param>
/// <param name="Accepted">The servers that committed and acknowledged the probe write (synchronously replicated when the
/// cluster is synchronous).</param>
/// <param name="CommittedLocally">The servers that committed it only locally: a synchronous primary whose wait for a
/// standby the probe's command timeout cancelled (PostgreSQL then commits, and warns). Not counted as accepting.</param>
internal sealed record WriteRound(DateTimeOffset At, IReadOnlyList<ClusterNode> Accepted, IReadOnlyList<ClusterNode> CommittedLocally);
