using System.Diagnostics;
using System.Globalization;
using HealthMate.Backup.PostgreSql;
using Npgsql;

namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// A throwaway PostgreSQL 15 primary with one streaming standby (scripts/postgres.sh start + standby), for failover
/// tests that crash, pause or fence the primary. Each pair is its own pair of clusters; disposing stops both.
/// </summary>
internal sealed class PostgresPair : IAsyncDisposable
{
    private const string Prefix = "hm-pg-tests-pair-";
    private readonly string _primaryDirectory;
    private readonly string _standbyDirectory;
    private string? _secondDirectory;

    private PostgresPair(string primaryDirectory, string standbyDirectory, PostgreSqlConnectionOptions primary, PostgreSqlConnectionOptions standby, string bin)
    {
        _primaryDirectory = primaryDirectory;
        _standbyDirectory = standbyDirectory;
        Primary = primary;
        Standby = standby;
        Bin = bin;
    }

    internal PostgreSqlConnectionOptions Primary { get; }

    internal PostgreSqlConnectionOptions Standby { get; }

    /// <summary>Gets the second standby, when the pair was started with two.</summary>
    internal PostgreSqlConnectionOptions? SecondStandby { get; private set; }

    internal string Bin { get; }

    internal string PrimaryData => Path.Combine(_primaryDirectory, "data");

    internal string StandbyData => Path.Combine(_standbyDirectory, "data");

    /// <summary>Starts a primary and its standby (or two), and waits until they stream.</summary>
    internal static async Task<PostgresPair> StartAsync(bool synchronous = false, int standbys = 1)
    {
        await ServiceScripts.ReapAbandonedAsync(Prefix, d => Script("stop", d));
        var primary = Claimed("primary");
        var standby = Claimed("standby");
        await ServiceScripts.ClaimAsync(primary);
        await Script("start", primary);
        await ServiceScripts.ClaimAsync(standby);
        await Script("standby", primary, standby);
        var pair = new PostgresPair(primary, standby, Read(primary), Read(standby), PostgresFixture.ReadEnvFile(primary)["HM_PG_BIN"]);
        if (standbys == 2)
        {
            var second = Claimed("standby2");
            pair._secondDirectory = second;
            await ServiceScripts.ClaimAsync(second);
            await Script("standby", primary, second);
            pair.SecondStandby = Read(second);
        }

        if (synchronous)
        {
            await pair.ExecuteAsync(pair.Primary, "ALTER SYSTEM SET synchronous_standby_names = '*'; SELECT pg_reload_conf();");
        }

        // A silent primary is noticed by the standbys' WAL receivers in 5 s rather than 60 (docs/disaster-recovery.md
        // recommends it): it bounds how long an unfenced asynchronous primary may have committed alone.
        foreach (var node in new[] { pair.Standby, pair.SecondStandby }.OfType<PostgreSqlConnectionOptions>())
        {
            await pair.ExecuteAsync(node, "ALTER SYSTEM SET wal_receiver_timeout = '5s'; SELECT pg_reload_conf();");
        }

        await WaitAsync(async () => await pair.ScalarAsync<long>(pair.Primary, $"SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'{(synchronous ? " AND sync_state = 'sync'" : string.Empty)}") == standbys, "the standbys to stream");
        return pair;
    }

    /// <summary>Kills the primary without a shutdown checkpoint (<c>pg_ctl stop -m immediate</c>): a crash.</summary>
    internal Task CrashPrimaryAsync() => AsPostgresAsync(Path.Combine(Bin, "pg_ctl"), "-D", PrimaryData, "-m", "immediate", "-w", "stop");

    /// <summary>Starts the (crashed) primary again, as someone might by mistake after a failover.</summary>
    internal Task RestartPrimaryAsync() => AsPostgresAsync(Path.Combine(Bin, "pg_ctl"), "-D", PrimaryData, "-l", Path.Combine(_primaryDirectory, "restart.log"), "-w", "-t", "60", "start");

    /// <summary>Stops the standby (fast shutdown).</summary>
    internal Task StopStandbyAsync() => AsPostgresAsync(Path.Combine(Bin, "pg_ctl"), "-D", StandbyData, "-m", "fast", "-w", "stop");

    /// <summary>Freezes (SIGSTOP) or thaws (SIGCONT) the primary's postmaster: it accepts no new connection while frozen.</summary>
    internal void SignalPrimary(bool freeze)
    {
        var pid = int.Parse(File.ReadLines(Path.Combine(PrimaryData, "postmaster.pid")).First(), CultureInfo.InvariantCulture);
        using var kill = Process.Start("kill", [freeze ? "-STOP" : "-CONT", pid.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    internal PostgreSqlFailoverOptions FailoverOptions(Action<PostgreSqlFailoverOptions>? configure = null)
    {
        var options = new PostgreSqlFailoverOptions { Primary = Primary, Standbys = SecondStandby is null ? [Standby] : [Standby, SecondStandby] };
        configure?.Invoke(options);
        return options;
    }

    internal async Task ExecuteAsync(PostgreSqlConnectionOptions node, string sql, string database = "postgres")
    {
        await using var connection = node.OpenConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    internal async Task<T> ScalarAsync<T>(PostgreSqlConnectionOptions node, string sql, string database = "postgres")
    {
        await using var connection = node.OpenConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    internal static async Task WaitAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(seconds), $"timed out after {seconds} s waiting for {what}");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var directory in new[] { _secondDirectory, _standbyDirectory, _primaryDirectory }.OfType<string>())
        {
            var data = Path.Combine(directory, "data");
            if (File.Exists(Path.Combine(data, "postmaster.pid")))
            {
                try
                {
                    SignalIfFrozen(data);
                }
                catch (IOException)
                {
                }
            }

            await Script("stop", directory);
        }
    }

    private static void SignalIfFrozen(string data)
    {
        var pid = File.ReadLines(Path.Combine(data, "postmaster.pid")).First();
        using var kill = Process.Start("kill", ["-CONT", pid])!;
        kill.WaitForExit();
    }

    private static string Claimed(string role)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"{Prefix}{role}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        return directory;
    }

    private static PostgreSqlConnectionOptions Read(string directory)
    {
        var connection = PostgresFixture.ConnectionFrom(PostgresFixture.ReadEnvFile(directory));
        connection.ConnectTimeoutSeconds = 2;
        return connection;
    }

    private static Task Script(string command, params string[] directories) =>
        ServiceScripts.RunAsync("postgres.sh", "the failover tests need a real PostgreSQL primary and standby", [command, .. directories]);

    /// <summary>Runs a server tool as the postgres user (pg_ctl refuses root).</summary>
    private static Task AsPostgresAsync(string tool, params string[] arguments) =>
        Environment.UserName == "root" ? StockTool.RunAsync("runuser", ["-u", "postgres", "--", tool, .. arguments]) : StockTool.RunAsync(tool, arguments);
}
