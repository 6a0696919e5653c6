namespace HealthMate.Backup.Tests.Support;

/// <summary>A server of a <see cref="PostgresCluster"/>, named after the role it starts in (a failover may promote a
/// standby; the name stays).</summary>
internal enum ClusterNode
{
    /// <summary>The server started as the primary.</summary>
    Primary,

    /// <summary>The first standby (<c>application_name</c> <c>standby1</c>).</summary>
    Standby1,

    /// <summary>The second standby (<c>application_name</c> <c>standby2</c>).</summary>
    Standby2,
}
