using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <summary>A PostgreSQL primary, its streaming standbys, and how to fail over between them.</summary>
public sealed class PostgreSqlFailoverOptions
{
    /// <summary>The value <see cref="PostgreSqlFailoverStrategy"/> sets <c>synchronous_standby_names</c> to when it fences
    /// a primary: no standby has this name, so no commit is acknowledged any more.</summary>
    public const string FencedStandbyName = "healthmate_fenced";

    /// <summary>Gets or sets the component's name (the strategy's and its probe's). Defaults to <c>database</c>.</summary>
    public string Name { get; set; } = "database";

    /// <summary>Gets or sets the server that is primary when the host starts.</summary>
    public PostgreSqlConnectionOptions Primary { get; set; } = new();

    /// <summary>Gets or sets its streaming standbys (at least one).</summary>
    public List<PostgreSqlConnectionOptions> Standbys { get; set; } = [];

    /// <summary>Gets or sets the data-loss budget when the request carries none (the coordinator passes the tier's RPO).</summary>
    /// <value>The default value is 5 minutes (the critical tier's RPO).</value>
    public TimeSpan RpoBudget { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets how long fencing and eligibility checks wait for a server to answer (whole seconds, at least one).</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets how long the probe waits for one server to accept a connection before it asks the next, so a
    /// hung old primary does not hide a promoted standby; keep it below the monitor's probe timeout. Npgsql counts
    /// connect timeouts in whole seconds, so this is rounded up to one.</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan ProbeConnectTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets how long, after fencing a reachable primary, the standby may take to receive its last WAL before it is promoted anyway.</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan CatchUpTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how long the promoted standby may take to accept writes.</summary>
    /// <value>The default value is 60 seconds.</value>
    public TimeSpan PromoteTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Gets or sets whether a standby is promoted only if the primary was seen committing synchronously to it
    /// (no acknowledged commit can then be lost). When the primary uses <c>synchronous_standby_names</c>, this is
    /// enforced anyway: a standby that was not the synchronous one is refused.</summary>
    public bool RequireSynchronous { get; set; }

    /// <summary>Gets or sets whether to promote even when a reachable primary could not be fenced (two primaries may
    /// then take writes). Defaults to <see langword="false"/>.</summary>
    public bool PromoteIfFencingFails { get; set; }

    /// <summary>
    /// Gets or sets how long the chosen standby's WAL receiver must have been without a streaming connection to the
    /// primary before a primary that nobody can reach counts as isolated and is replaced without being fenced. A crash
    /// drops the receiver at once, so this is roughly the crash-to-promotion time; a flapping link that reconnects
    /// within it never promotes. (A silent partition is noticed by the receiver only after the standby's
    /// <c>wal_receiver_timeout</c>, 60 s by default; lower it to fail over sooner.)
    /// </summary>
    /// <value>The default value is 5 seconds.</value>
    public TimeSpan IsolationTime { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets other ways to reach the primary that count as observers when this host cannot reach it: the same
    /// server through another network path (the clients' side, a connection pooler). A witness that reaches a writable
    /// primary forbids an unfenced promotion; one that cannot counts towards the majority that must agree.
    /// </summary>
    public List<PostgreSqlConnectionOptions> Witnesses { get; set; } = [];

    /// <summary>
    /// Gets or sets an infrastructure fence (the STONITH idea): a command or HTTP call that stops the old primary or
    /// cuts it off (stop its VM or container, run <c>pg_ctl stop -m fast</c> on its host, remove it from the network)
    /// and succeeds only when it can no longer take writes. It is called when the old primary cannot be reached, or
    /// answers but cannot be fenced over SQL; its success makes the failover safe without the isolation rule. It is told
    /// <c>action = fence</c> and the decider's fencing token.
    /// </summary>
    public Hooks.HookOptions? FenceHook { get; set; }

    /// <summary>Gets or sets the database the strategy connects to. Defaults to <c>postgres</c>.</summary>
    public string Database { get; set; } = "postgres";

    /// <summary>Lists what is wrong with these options.</summary>
    /// <returns>One message per problem.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Name) || !Leases.LeaseNames.IsValid($"failover.{Name}"))
        {
            errors.Add("Name must be lower-case letters, digits, '-' and '.'.");
        }

        errors.AddRange((Primary?.Validate() ?? ["Primary is required."]).Select(e => "Primary: " + e));
        if (Standbys is not { Count: > 0 })
        {
            errors.Add("At least one standby is required.");
        }
        else
        {
            for (var i = 0; i < Standbys.Count; i++)
            {
                errors.AddRange((Standbys[i]?.Validate() ?? ["missing"]).Select(e => $"Standbys:{i}: " + e));
            }
        }

        if (RpoBudget < TimeSpan.Zero || ConnectTimeout < TimeSpan.FromMilliseconds(100) || ProbeConnectTimeout < TimeSpan.FromMilliseconds(100) || CatchUpTimeout < TimeSpan.Zero || PromoteTimeout < TimeSpan.FromSeconds(1))
        {
            errors.Add("RpoBudget and CatchUpTimeout must not be negative, ConnectTimeout and ProbeConnectTimeout at least 100 ms, PromoteTimeout at least 1 s.");
        }

        if (IsolationTime < TimeSpan.Zero || IsolationTime > TimeSpan.FromMinutes(10))
        {
            errors.Add("IsolationTime must be from zero to ten minutes.");
        }

        for (var i = 0; i < (Witnesses?.Count ?? 0); i++)
        {
            errors.AddRange((Witnesses![i]?.Validate() ?? ["missing"]).Select(e => $"Witnesses:{i}: " + e));
        }

        errors.AddRange(FenceHook?.Validate("FenceHook") ?? []);
        if (string.IsNullOrWhiteSpace(Database))
        {
            errors.Add("Database is required.");
        }

        return errors;
    }

    /// <summary>
    /// A connection string for the application that follows failovers by itself: every server as a host, Npgsql's
    /// <c>Target Session Attributes</c>, and <c>Host Recheck Seconds=1</c> so a promoted standby is found within a
    /// second (Npgsql remembers a host's role for 10 s by default). It holds the password: a secret for the host app.
    /// </summary>
    /// <param name="database">The application's database.</param>
    /// <param name="attributes">Which server to use: <see cref="TargetSessionAttributes.ReadWrite"/> (the default: a
    /// server that is not in recovery and not read-only, so a fenced old primary that is still up is skipped) or
    /// <see cref="TargetSessionAttributes.Primary"/> (not in recovery only).</param>
    /// <returns>The connection string.</returns>
    public string ClientConnectionString(string database, TargetSessionAttributes attributes = TargetSessionAttributes.ReadWrite)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(database);
        var nodes = new[] { Primary }.Concat(Standbys).ToList();
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = string.Join(',', nodes.Select(n => $"{n.Host}:{n.Port}")),
            Username = Primary.Username,
            Password = Primary.Password,
            Database = database,
            SslMode = Enum.Parse<SslMode>(Primary.SslMode.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true),
            Timeout = Math.Max(1, (int)Math.Ceiling(ConnectTimeout.TotalSeconds)),
            TargetSessionAttributes = attributes switch
            {
                TargetSessionAttributes.ReadWrite => "read-write",
                TargetSessionAttributes.Primary => "primary",
                TargetSessionAttributes.PreferPrimary => "prefer-primary",
                _ => throw new ArgumentOutOfRangeException(nameof(attributes), attributes, "Use Primary, ReadWrite or PreferPrimary for writes."),
            },
            HostRecheckSeconds = 1,
        };
        return builder.ConnectionString;
    }
}
