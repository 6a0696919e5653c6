using System.Globalization;
using HealthMate.Backup.PostgreSql;
using Npgsql;

namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// A throwaway PostgreSQL 15 primary with two streaming standbys (scripts/postgres.sh start + standby), for partition
/// tests: every path between the parties goes through its own <see cref="TcpLink"/>, so a test can cut or silence any
/// of them. Three parties are modelled: the failover coordinator (<see cref="CoordinatorLink"/>), the application's
/// clients (<see cref="ClientLink"/>) and replication, standby to primary (<see cref="ReplicationLink"/>). The
/// direct, link-free connections (<see cref="Direct"/>) are the test's own view, for assertions.
/// </summary>
/// <remarks>
/// <para>The standbys stream through their replication links: once up, each standby's <c>primary_conninfo</c> is the
/// one pg_basebackup wrote with the link's port and <c>application_name</c> <c>standby1</c> or <c>standby2</c>
/// (otherwise both would be <c>walreceiver</c>).</para>
/// <para>Timeouts are shortened so that a silent partition (<see cref="LinkMode.BlackHole"/>) is noticed in seconds,
/// as a cut one is at once: on the standbys <c>wal_receiver_timeout = 4s</c> (the WAL receiver ends a connection over
/// which the primary sent nothing, not even its keepalive, for that long; the default 60 s would outlast a test) and
/// <c>wal_retrieve_retry_interval = 500ms</c> (how soon it tries again, default 5 s, so a healed link streams again
/// within a second); on the primary <c>wal_sender_timeout = 4s</c> (the WAL sender ends a connection whose standby
/// stopped replying, so the primary's <c>pg_stat_replication</c>, and with it a synchronous commit's quorum, reflects
/// the partition too). Both ends ping at half their timeout, so a healthy idle link never trips them.</para>
/// <para>A failover strategy that re-points a standby at a promoted one uses the address the coordinator knows, its
/// coordinator link: replication after a failover runs through that link, not a replication link.</para>
/// </remarks>
internal sealed class PostgresCluster : IAsyncDisposable
{
    private const string Prefix = "hm-pg-tests-cluster-";
    private static readonly ClusterNode[] AllNodes = [ClusterNode.Primary, ClusterNode.Standby1, ClusterNode.Standby2];
    private static readonly ClusterNode[] StandbyNodes = [ClusterNode.Standby1, ClusterNode.Standby2];

    private readonly Dictionary<ClusterNode, string> _directories;
    private readonly Dictionary<ClusterNode, PostgreSqlConnectionOptions> _direct = [];
    private readonly Dictionary<ClusterNode, TcpLink> _coordinatorLinks = [];
    private readonly Dictionary<ClusterNode, TcpLink> _clientLinks = [];
    private readonly Dictionary<ClusterNode, TcpLink> _replicationLinks = [];

    private PostgresCluster(Dictionary<ClusterNode, string> directories, bool synchronous)
    {
        _directories = directories;
        Synchronous = synchronous;
    }

    /// <summary>Gets the three servers.</summary>
    internal static IReadOnlyList<ClusterNode> Nodes => AllNodes;

    /// <summary>Gets whether the primary commits synchronously (<c>synchronous_standby_names = 'ANY 1 (*)'</c>: a
    /// commit waits until either standby has flushed it).</summary>
    internal bool Synchronous { get; }

    /// <summary>Gets the folder of the PostgreSQL server programs.</summary>
    internal string Bin { get; private set; } = string.Empty;

    /// <summary>Gets every link: coordinator, client and replication.</summary>
    internal IReadOnlyList<TcpLink> Links => [.. _coordinatorLinks.Values, .. _clientLinks.Values, .. _replicationLinks.Values];

    /// <summary>Starts the primary and its two standbys and the links, and waits until both standbys stream through
    /// their replication links (and, when synchronous, count for the primary's quorum).</summary>
    /// <param name="synchronous">Whether the primary commits synchronously to either standby.</param>
    /// <returns>The running cluster; dispose it to stop and delete the three servers.</returns>
    internal static async Task<PostgresCluster> StartAsync(bool synchronous = false)
    {
        await ServiceScripts.ReapAbandonedAsync(Prefix, d => Script("stop", d));
        var cluster = new PostgresCluster(AllNodes.ToDictionary(n => n, n => Claimed(ApplicationName(n))), synchronous);
        try
        {
            foreach (var directory in cluster._directories.Values)
            {
                await ServiceScripts.ClaimAsync(directory);
            }

            var primary = cluster._directories[ClusterNode.Primary];
            await Script("start", primary);
            foreach (var standby in StandbyNodes)
            {
                // One at a time: two concurrent base backups' checkpoints can remove a WAL segment the other still streams.
                await Script("standby", primary, cluster._directories[standby]);
            }

            await cluster.ConnectAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The link-free connection to a server: the test's own view.</summary>
    internal PostgreSqlConnectionOptions Direct(ClusterNode node) => _direct[node].With();

    /// <summary>A server as the failover coordinator reaches it: through its coordinator link.</summary>
    internal PostgreSqlConnectionOptions Coordinator(ClusterNode node) => _direct[node].With(port: _coordinatorLinks[node].Port);

    /// <summary>Failover options for the coordinator: the primary and both standbys through the coordinator links.</summary>
    internal PostgreSqlFailoverOptions FailoverOptions(Action<PostgreSqlFailoverOptions>? configure = null)
    {
        var options = new PostgreSqlFailoverOptions { Primary = Coordinator(ClusterNode.Primary), Standbys = [.. StandbyNodes.Select(Coordinator)] };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>The coordinator's link to a server.</summary>
    internal TcpLink CoordinatorLink(ClusterNode node) => _coordinatorLinks[node];

    /// <summary>The clients' link to a server.</summary>
    internal TcpLink ClientLink(ClusterNode node) => _clientLinks[node];

    /// <summary>A standby's replication link to the primary.</summary>
    internal TcpLink ReplicationLink(ClusterNode standby) =>
        _replicationLinks.TryGetValue(standby, out var link) ? link : throw new ArgumentOutOfRangeException(nameof(standby), standby, "Only a standby has a replication link.");

    /// <summary>Every link that reaches a server: its coordinator and client links, and the replication links it is
    /// an end of (both for the primary, its own for a standby).</summary>
    internal IReadOnlyList<TcpLink> LinksOf(ClusterNode node) =>
    [
        _coordinatorLinks[node], _clientLinks[node],
        .. node == ClusterNode.Primary ? [.. _replicationLinks.Values] : new[] { _replicationLinks[node] },
    ];

    /// <summary>The server a client link's port leads to, or null when the port is no client link's.</summary>
    internal ClusterNode? NodeOfClientPort(int port) =>
        _clientLinks.Where(l => l.Value.Port == port).Select(l => (ClusterNode?)l.Key).FirstOrDefault();

    /// <summary>
    /// The application's connection string through the client links: every server as a host (the primary first),
    /// Npgsql's <c>Target Session Attributes</c>, <c>Host Recheck Seconds=1</c> so a promoted standby is found within a
    /// second, short timeouts so a silenced server costs seconds, not minutes, and no pooling, so each open chooses a
    /// server afresh. A command timeout cancels the query on the server (Npgsql sends a cancel request).
    /// </summary>
    internal string ClientConnectionString(TargetSessionAttributes attributes, string database = "postgres", int timeoutSeconds = 2, int commandTimeoutSeconds = 2) =>
        ClientConnectionString(AllNodes, attributes, database, timeoutSeconds, commandTimeoutSeconds);

    /// <summary>A connection string through the client links of <paramref name="nodes"/> (one node: only that server).</summary>
    internal string ClientConnectionString(IEnumerable<ClusterNode> nodes, TargetSessionAttributes attributes, string database = "postgres", int timeoutSeconds = 2, int commandTimeoutSeconds = 2)
    {
        var primary = _direct[ClusterNode.Primary];
        return new NpgsqlConnectionStringBuilder
        {
            Host = string.Join(',', nodes.Select(n => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{_clientLinks[n].Port}"))),
            Username = primary.Username,
            Password = primary.Password,
            Database = database,
            SslMode = SslMode.Disable,
            TargetSessionAttributes = attributes switch
            {
                TargetSessionAttributes.Any => "any",
                TargetSessionAttributes.ReadWrite => "read-write",
                TargetSessionAttributes.ReadOnly => "read-only",
                TargetSessionAttributes.Primary => "primary",
                TargetSessionAttributes.Standby => "standby",
                TargetSessionAttributes.PreferPrimary => "prefer-primary",
                TargetSessionAttributes.PreferStandby => "prefer-standby",
                _ => throw new ArgumentOutOfRangeException(nameof(attributes), attributes, "Not an Npgsql target session attribute."),
            },
            HostRecheckSeconds = 1,
            Timeout = timeoutSeconds,
            CommandTimeout = commandTimeoutSeconds,
            Pooling = false,
            ApplicationName = "partition-client",
        }.ConnectionString;
    }

    /// <summary>Cuts or silences the given links (<see cref="LinkMode.Cut"/> or <see cref="LinkMode.BlackHole"/>).</summary>
    internal static void Partition(LinkMode mode, params TcpLink[] links)
    {
        Action<TcpLink> apply = mode switch
        {
            LinkMode.Cut => l => l.Cut(),
            LinkMode.BlackHole => l => l.BlackHole(),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "A partition cuts (Cut) or silences (BlackHole) links."),
        };
        foreach (var link in links)
        {
            apply(link);
        }
    }

    /// <summary>Cuts or silences every link that reaches a server (<see cref="LinksOf"/>): coordinator, clients and
    /// replication all lose it. The test's direct connections still reach it.</summary>
    internal void Isolate(ClusterNode node, LinkMode mode = LinkMode.BlackHole) => Partition(mode, [.. LinksOf(node)]);

    /// <summary>Heals every link (silenced connections are reset, see <see cref="TcpLink.Heal"/>).</summary>
    internal void Heal()
    {
        foreach (var link in Links)
        {
            link.Heal();
        }
    }

    /// <summary>Kills a server without a shutdown checkpoint (<c>pg_ctl stop -m immediate</c>): a crash.</summary>
    internal Task CrashAsync(ClusterNode node) => AsPostgresAsync(Path.Combine(Bin, "pg_ctl"), "-D", DataDirectory(node), "-m", "immediate", "-w", "stop");

    /// <summary>Kills the server started as the primary (<see cref="CrashAsync"/>).</summary>
    internal Task CrashPrimaryAsync() => CrashAsync(ClusterNode.Primary);

    /// <summary>A server's data folder.</summary>
    internal string DataDirectory(ClusterNode node) => Path.Combine(_directories[node], "data");

    /// <summary>Whether a server is in recovery (a standby), asked directly.</summary>
    internal Task<bool> IsInRecoveryAsync(ClusterNode node) => ScalarAsync<bool>(node, "SELECT pg_is_in_recovery()");

    /// <summary>Whether a standby's WAL receiver streams, through its replication link, asked directly.</summary>
    internal async Task<bool> IsStreamingAsync(ClusterNode standby) =>
        await ScalarAsync<long>(standby, $"SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming' AND sender_port = {ReplicationLink(standby).Port}") > 0;

    /// <summary>Waits until both standbys stream through their replication links and the primary lists both as
    /// streaming (and, when synchronous, in its quorum): the topology as started.</summary>
    internal Task WaitStreamingAsync(int seconds = 30) => PostgresPair.WaitAsync(
        async () =>
        {
            foreach (var standby in StandbyNodes)
            {
                if (!await IsStreamingAsync(standby))
                {
                    return false;
                }
            }

            var quorum = Synchronous ? " AND sync_state = 'quorum'" : string.Empty;
            return await ScalarAsync<long>(ClusterNode.Primary, $"SELECT count(DISTINCT application_name) FROM pg_stat_replication WHERE state = 'streaming' AND application_name IN ('standby1', 'standby2'){quorum}") == 2;
        },
        "both standbys to stream through their replication links",
        seconds);

    /// <summary>Runs a statement on a server, directly.</summary>
    internal async Task ExecuteAsync(ClusterNode node, string sql, string database = "postgres")
    {
        await using var connection = _direct[node].OpenConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Runs a query on a server, directly, and returns its first value.</summary>
    internal async Task<T> ScalarAsync<T>(ClusterNode node, string sql, string database = "postgres")
    {
        await using var connection = _direct[node].OpenConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Closes every link, then stops and deletes the three servers.</summary>
    public async ValueTask DisposeAsync()
    {
        // The links first: their connections reset, no server waits on a silenced peer while it shuts down.
        foreach (var link in Links)
        {
            await link.DisposeAsync();
        }

        await Task.WhenAll(_directories.Values.Select(d => Script("stop", d)));
    }

    /// <summary>The <c>application_name</c> a standby streams under, and the role part of its folder's name.</summary>
    internal static string ApplicationName(ClusterNode node) => node.ToString().ToLowerInvariant();

    /// <summary>Reads the servers' addresses, opens the links, routes replication through them and waits for it.</summary>
    private async Task ConnectAsync()
    {
        foreach (var node in AllNodes)
        {
            var connection = PostgresFixture.ConnectionFrom(PostgresFixture.ReadEnvFile(_directories[node]));
            connection.ConnectTimeoutSeconds = 2;
            _direct[node] = connection;
            _coordinatorLinks[node] = TcpLink.Start(connection.Port, $"coordinator→{ApplicationName(node)}");
            _clientLinks[node] = TcpLink.Start(connection.Port, $"client→{ApplicationName(node)}");
        }

        Bin = PostgresFixture.ReadEnvFile(_directories[ClusterNode.Primary])["HM_PG_BIN"];
        await ReloadAsync(ClusterNode.Primary, "ALTER SYSTEM SET wal_sender_timeout = '4s'");
        foreach (var standby in StandbyNodes)
        {
            var link = _replicationLinks[standby] = TcpLink.Start(_direct[ClusterNode.Primary].Port, $"{ApplicationName(standby)}→primary(replication)");
            var written = await ScalarAsync<string>(standby, "SHOW primary_conninfo");
            var pairs = ConnInfo.Parse(ConnInfo.WithHost(written, "127.0.0.1", link.Port)).Where(p => p.Key != "application_name").ToList();
            pairs.Add(new("application_name", ApplicationName(standby)));
            await ReloadAsync(
                standby,
                $"ALTER SYSTEM SET primary_conninfo = {ConnInfo.SqlLiteral(ConnInfo.Format(pairs))}",
                "ALTER SYSTEM SET wal_receiver_timeout = '4s'",
                "ALTER SYSTEM SET wal_retrieve_retry_interval = '500ms'");
        }

        if (Synchronous)
        {
            await ReloadAsync(ClusterNode.Primary, "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (*)'");
        }

        await WaitStreamingAsync();
    }

    /// <summary>Runs ALTER SYSTEM statements (each on its own: none may run in a transaction), then reloads.</summary>
    private async Task ReloadAsync(ClusterNode node, params string[] statements)
    {
        foreach (var statement in statements)
        {
            await ExecuteAsync(node, statement);
        }

        await ExecuteAsync(node, "SELECT pg_reload_conf()");
    }

    private static string Claimed(string role)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"{Prefix}{role}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        return directory;
    }

    private static Task Script(string command, params string[] directories) =>
        ServiceScripts.RunAsync("postgres.sh", "the partition tests need a real PostgreSQL primary and two standbys", [command, .. directories]);

    /// <summary>Runs a server tool as the postgres user (pg_ctl refuses root).</summary>
    private static Task AsPostgresAsync(string tool, params string[] arguments) =>
        Environment.UserName == "root" ? StockTool.RunAsync("runuser", ["-u", "postgres", "--", tool, .. arguments]) : StockTool.RunAsync(tool, arguments);
}
