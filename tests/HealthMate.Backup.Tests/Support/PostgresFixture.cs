using System.Diagnostics;
using HealthMate.Backup.PostgreSql;
using Npgsql;

namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// A real PostgreSQL 15 for the tests: the one described by HM_PG_* variables if set, else a throwaway cluster
/// started (and removed afterwards) by scripts/postgres.sh, which installs postgresql-15 when missing. There is no
/// fake: if the server cannot be had, every PostgreSQL test fails with the reason.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private string? _ownedDirectory;

    internal PostgreSqlConnectionOptions Connection { get; private set; } = new();

    internal string BinDirectory { get; private set; } = "/usr/lib/postgresql/15/bin";

    public async Task InitializeAsync()
    {
        var settings = ReadEnvironment();
        if (settings is null)
        {
            await ServiceScripts.ReapAbandonedAsync(ClusterPrefix, d => RunScriptAsync("stop", d));
            _ownedDirectory = Path.Combine(Path.GetTempPath(), $"{ClusterPrefix}{Guid.NewGuid():N}");
            Directory.CreateDirectory(_ownedDirectory);
            await ServiceScripts.ClaimAsync(_ownedDirectory);
            await RunScriptAsync("start", _ownedDirectory);
            settings = ReadEnvFile(_ownedDirectory);
        }

        BinDirectory = settings["HM_PG_BIN"];
        Connection = ConnectionFrom(settings);
    }

    /// <summary>The <c>env</c> file scripts/postgres.sh writes into a cluster's folder.</summary>
    internal static Dictionary<string, string> ReadEnvFile(string directory) =>
        File.ReadAllLines(Path.Combine(directory, "env")).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    /// <summary>The connection those settings describe.</summary>
    internal static PostgreSqlConnectionOptions ConnectionFrom(IReadOnlyDictionary<string, string> settings) => new()
    {
        Host = settings["HM_PG_HOST"],
        Port = int.Parse(settings["HM_PG_PORT"], System.Globalization.CultureInfo.InvariantCulture),
        Username = settings["HM_PG_USER"],
        Password = settings["HM_PG_PASSWORD"],
        SslMode = "disable",
        ToolsDirectory = settings["HM_PG_BIN"],
    };

    public async Task DisposeAsync()
    {
        if (_ownedDirectory is not null)
        {
            await RunScriptAsync("stop", _ownedDirectory);
        }
    }

    /// <summary>
    /// Starts a streaming standby of the test cluster (scripts/postgres.sh standby) and returns its connection and a
    /// disposable that stops and removes it.
    /// </summary>
    internal async Task<(PostgreSqlConnectionOptions Connection, IAsyncDisposable Stop)> StartStandbyAsync()
    {
        var primary = Path.Combine(Path.GetTempPath(), $"{ClusterPrefix}primary-env-{Guid.NewGuid():N}");
        Directory.CreateDirectory(primary);
        await File.WriteAllLinesAsync(Path.Combine(primary, "env"),
        [
            $"HM_PG_HOST={Connection.Host}", $"HM_PG_PORT={Connection.Port}", $"HM_PG_USER={Connection.Username}",
            $"HM_PG_PASSWORD={Connection.Password}", $"HM_PG_BIN={BinDirectory}", "HM_PG_DATA=",
        ]);
        var directory = Path.Combine(Path.GetTempPath(), $"{ClusterPrefix}standby-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        await ServiceScripts.ClaimAsync(directory);
        try
        {
            await RunScriptAsync("standby", primary, directory);
        }
        finally
        {
            Directory.Delete(primary, recursive: true);
        }

        return (Connection.With(port: ConnectionFrom(ReadEnvFile(directory)).Port), new Stopper(directory));
    }

    private sealed class Stopper(string directory) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await RunScriptAsync("stop", directory);
    }

    /// <summary>A fresh database name, unique per call.</summary>
    internal static string NewDatabaseName(string prefix) => $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 63)];

    internal async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = Connection.OpenConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    internal async Task<T> ScalarAsync<T>(string database, string sql)
    {
        await using var connection = Connection.OpenConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    internal Task CreateDatabaseAsync(string name) => ExecuteAsync("postgres", $"CREATE DATABASE \"{name}\"");

    internal Task DropDatabaseAsync(string name) => ExecuteAsync("postgres", $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");

    internal Task<bool> DatabaseExistsAsync(string name) => ScalarAsync<bool>("postgres", $"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')");

    /// <summary>
    /// Every user table's row count and content hash (md5 of its rows as text, in order), and the large objects' hash:
    /// what must be equal after a restore.
    /// </summary>
    internal async Task<SortedDictionary<string, string>> SnapshotAsync(string database)
    {
        await using var connection = Connection.OpenConnection(database);
        await connection.OpenAsync();
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1", connection))
        await using (var reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        var snapshot = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var table in tables)
        {
            await using var command = new NpgsqlCommand($"SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t", connection);
            snapshot[table] = (string)(await command.ExecuteScalarAsync())!;
        }

        await using (var objects = new NpgsqlCommand("SELECT count(*) || ':' || md5(coalesce(string_agg(oid::text || '=' || md5(lo_get(oid)), ',' ORDER BY oid), '')) FROM pg_largeobject_metadata", connection))
        {
            snapshot["(large objects)"] = (string)(await objects.ExecuteScalarAsync())!;
        }

        return snapshot;
    }

    /// <summary>Runs a tool of the server's installation (pgbench, psql) with the password in its environment.</summary>
    internal async Task RunToolAsync(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(BinDirectory, tool)) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Connection.ApplyTo(start.Environment);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{tool} exited with {process.ExitCode}: {await error}{await output}");
    }

    private const string ClusterPrefix = "hm-pg-tests-";

    private static Task RunScriptAsync(string command, params string[] directories) =>
        ServiceScripts.RunAsync("postgres.sh", "the PostgreSQL tests need a real server", [command, .. directories]);

    private static Dictionary<string, string>? ReadEnvironment()
    {
        string[] names = ["HM_PG_HOST", "HM_PG_PORT", "HM_PG_USER", "HM_PG_PASSWORD", "HM_PG_BIN"];
        if (Environment.GetEnvironmentVariable("HM_PG_PORT") is null)
        {
            return null;
        }

        return names.ToDictionary(n => n, n => Environment.GetEnvironmentVariable(n) ?? throw new InvalidOperationException($"HM_PG_PORT is set but {n} is not."), StringComparer.Ordinal);
    }

}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    internal const string Name = "postgres";
}
