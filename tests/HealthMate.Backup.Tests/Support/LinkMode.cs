namespace HealthMate.Backup.Tests.Support;

/// <summary>What a <see cref="TcpLink"/> does with the bytes and connections that cross it.</summary>
internal enum LinkMode
{
    /// <summary>Forwards bytes both ways: a healthy link.</summary>
    Pass,

    /// <summary>Resets every open connection and every new one at once: a crash-like loss of the link (the peer's
    /// host is down or a firewall rejects), which both ends notice immediately.</summary>
    Cut,

    /// <summary>Accepts new connections but never forwards or answers; open connections stop forwarding both ways
    /// without closing: a silent partition, which each end notices only through its own timeouts.</summary>
    BlackHole,

    /// <summary>Forwards bytes both ways, each chunk after an added latency.</summary>
    Delay,
}
