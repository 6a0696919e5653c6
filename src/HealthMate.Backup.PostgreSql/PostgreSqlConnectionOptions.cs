using Npgsql;

namespace HealthMate.Backup.PostgreSql;

/// <summary>
/// Where a PostgreSQL server is and how to reach it, for Npgsql and for the client tools (<c>pg_dump</c>,
/// <c>pg_restore</c>, <c>pg_dumpall</c>). The password reaches the tools through their environment, never their command
/// line, and never appears in a message, a log or a manifest.
/// </summary>
public sealed class PostgreSqlConnectionOptions
{
    /// <summary>Gets or sets the server's host name or address. Defaults to <c>localhost</c>.</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>Gets or sets the server's port. Defaults to 5432.</summary>
    public int Port { get; set; } = 5432;

    /// <summary>Gets or sets the user name. Defaults to <c>postgres</c>.</summary>
    public string Username { get; set; } = "postgres";

    /// <summary>Gets or sets the password, if the server asks for one. A secret: it is never logged or stored.</summary>
    public string? Password { get; set; }

    /// <summary>Gets or sets the SSL mode for the tools and Npgsql (<c>disable</c>, <c>prefer</c>, <c>require</c>,
    /// <c>verify-ca</c>, <c>verify-full</c>). Defaults to <c>prefer</c>.</summary>
    public string SslMode { get; set; } = "prefer";

    /// <summary>Gets or sets how long a connection attempt may take, in seconds. Defaults to 15.</summary>
    public int ConnectTimeoutSeconds { get; set; } = 15;

    /// <summary>Gets or sets the database used for administrative queries (creating a database). Defaults to <c>postgres</c>.</summary>
    public string MaintenanceDatabase { get; set; } = "postgres";

    /// <summary>
    /// Gets or sets the folder holding the client tools. Defaults to the newest <c>/usr/lib/postgresql/*/bin</c>, then
    /// the <c>PATH</c>. The tools must be at least the server's major version.
    /// </summary>
    public string? ToolsDirectory { get; set; }

    private static readonly string[] SslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

    /// <summary>Lists what is wrong with these options (nothing when they are valid).</summary>
    /// <returns>One message per problem.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Host))
        {
            errors.Add("PostgreSQL Host is required.");
        }

        if (Port is < 1 or > 65535)
        {
            errors.Add($"PostgreSQL Port {Port} is outside 1..65535.");
        }

        if (string.IsNullOrWhiteSpace(Username))
        {
            errors.Add("PostgreSQL Username is required.");
        }

        if (!SslModes.Contains(SslMode, StringComparer.Ordinal))
        {
            errors.Add($"PostgreSQL SslMode '{SslMode}' is not one of {string.Join(", ", SslModes)}.");
        }

        if (ConnectTimeoutSeconds is < 1 or > 3600)
        {
            errors.Add($"PostgreSQL ConnectTimeoutSeconds {ConnectTimeoutSeconds} is outside 1..3600.");
        }

        if (string.IsNullOrWhiteSpace(MaintenanceDatabase))
        {
            errors.Add("PostgreSQL MaintenanceDatabase is required.");
        }

        if (ToolsDirectory is not null && !Directory.Exists(ToolsDirectory))
        {
            errors.Add($"PostgreSQL ToolsDirectory '{ToolsDirectory}' does not exist.");
        }

        return errors;
    }

    /// <summary>Returns where the server is, without the password.</summary>
    /// <returns><c>user@host:port</c>.</returns>
    public override string ToString() => $"{Username}@{Host}:{Port}";

    /// <summary>A copy, optionally pointed at another port (a restored cluster) or with another password.</summary>
    internal PostgreSqlConnectionOptions With(int? port = null, string? password = null) => new()
    {
        Host = Host,
        Port = port ?? Port,
        Username = Username,
        Password = password ?? Password,
        SslMode = SslMode,
        ConnectTimeoutSeconds = ConnectTimeoutSeconds,
        MaintenanceDatabase = MaintenanceDatabase,
        ToolsDirectory = ToolsDirectory,
    };

    /// <summary>An unpooled connection; <paramref name="timeoutSeconds"/> overrides <see cref="ConnectTimeoutSeconds"/>
    /// (Npgsql's own connect timeout also bounds the startup exchange, which a cancellation token does not always stop).</summary>
    internal NpgsqlConnection OpenConnection(string database, int? timeoutSeconds = null)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = Host,
            Port = Port,
            Username = Username,
            Password = Password,
            Database = database,
            SslMode = Enum.Parse<SslMode>(SslMode.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true),
            Timeout = timeoutSeconds ?? ConnectTimeoutSeconds,
            Pooling = false,
            ApplicationName = "healthmate-backup",
        };
        return new NpgsqlConnection(builder.ConnectionString);
    }

    /// <summary>The libpq environment for a client tool: where to connect and the password, never on its command line.</summary>
    internal void ApplyTo(IDictionary<string, string?> environment)
    {
        environment["PGHOST"] = Host;
        environment["PGPORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment["PGUSER"] = Username;
        environment["PGSSLMODE"] = SslMode;
        environment["PGCONNECT_TIMEOUT"] = ConnectTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment["PGAPPNAME"] = "healthmate-backup";
        environment.Remove("PGPASSFILE");
        environment.Remove("PGSERVICE");
        if (string.IsNullOrEmpty(Password))
        {
            environment.Remove("PGPASSWORD");
        }
        else
        {
            environment["PGPASSWORD"] = Password;
        }
    }
}
