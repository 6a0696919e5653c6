namespace HealthMate.Backup.Tests.Support;

/// <summary>A write the client was told had committed: the id, when the commit returned, and the server that served it.</summary>
/// <param name="Id">The id inserted.</param>
/// <param name="At">When the commit returned.</param>
/// <param name="Node">The server the connection was on (its client link mapped back to the server).</param>
/// <param name="Unreplicated">Whether the commit came with PostgreSQL's warning that the wait for synchronous
/// replication was cancelled (the client's command timeout sent a cancel request): committed on that server, possibly
/// on no standby, yet reported as a success to any client that ignores notices.</param>
internal sealed record Acknowledgement(long Id, DateTimeOffset At, ClusterNode Node, bool Unreplicated);
