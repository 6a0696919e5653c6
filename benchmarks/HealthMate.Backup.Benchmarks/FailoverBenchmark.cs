using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using HealthMate.Backup.PostgreSql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace HealthMate.Backup.Benchmarks;

/// <summary>
/// <c>failover [--drills N] [--interval-ms N] [--timeout-ms N]</c>: N crash drills, each on a fresh primary + streaming standby from scripts/postgres.sh.
/// A client writes through the multi-host connection string (<c>Target Session Attributes=primary</c>,
/// <c>Host Recheck Seconds=1</c>) every 10 ms; the primary is killed with <c>pg_ctl stop -m immediate</c>; the health
/// monitor (default settings: 1 s interval, 2 s timeout, 3 failures within 10 s) and the failover coordinator promote
/// the standby. Measured: crash to the monitor's "down", to the standby taking writes, and to the client's first
/// acknowledged write on the new primary (the RTO a user sees).
/// </summary>
internal static class FailoverBenchmark
{
    internal static async Task<int> RunAsync(string[] args)
    {
        var drills = int.Parse(EndToEnd.Option(args, "--drills") ?? "10", CultureInfo.InvariantCulture);
        var probe = new MonitoredProbeOptions();
        if (EndToEnd.Option(args, "--interval-ms") is { } interval)
        {
            probe.Interval = TimeSpan.FromMilliseconds(int.Parse(interval, CultureInfo.InvariantCulture));
        }

        if (EndToEnd.Option(args, "--timeout-ms") is { } timeout)
        {
            probe.Timeout = TimeSpan.FromMilliseconds(int.Parse(timeout, CultureInfo.InvariantCulture));
        }

        var monitorOptions = new HealthMonitorOptions();
        monitorOptions.Probes["database"] = probe;
        var settings = monitorOptions.Resolve("database");
        Console.WriteLine($"{drills} crash drills; standby wal_receiver_timeout 5 s; monitor interval {settings.Interval.TotalSeconds} s, timeout {settings.Timeout.TotalSeconds} s, {settings.FailureThreshold} failures within {settings.FailureWindow.TotalSeconds} s; client Host Recheck Seconds=1; {Environment.ProcessorCount} cores");
        Console.WriteLine($"{"drill",5} {"detect ms",10} {"writable ms",12} {"first write ms",15} {"recorded RTO ms",16} {"lost acked",11}");
        var firstWrites = new List<double>();
        for (var i = 1; i <= drills; i++)
        {
            var (detect, writable, first, recorded, lost) = await DrillAsync(probe);
            firstWrites.Add(first);
            Console.WriteLine($"{i,5} {detect,10:0} {writable,12:0} {first,15:0} {recorded,16:0} {lost,11}");
        }

        firstWrites.Sort();
        var median = drills % 2 == 1 ? firstWrites[drills / 2] : (firstWrites[(drills / 2) - 1] + firstWrites[drills / 2]) / 2;
        Console.WriteLine($"crash to first write on the new primary: median {median:0} ms, max {firstWrites[^1]:0} ms, min {firstWrites[0]:0} ms over {drills} drills");
        return firstWrites[^1] < 10_000 ? 0 : 1;
    }

    private static async Task<(double Detect, double Writable, double First, double Recorded, int Lost)> DrillAsync(MonitoredProbeOptions probe)
    {
        var script = ServiceScripts.Find("postgres.sh");
        var primaryDir = Path.Combine(Path.GetTempPath(), $"hm-pg-failover-primary-{Guid.NewGuid():N}");
        var standbyDir = Path.Combine(Path.GetTempPath(), $"hm-pg-failover-standby-{Guid.NewGuid():N}");
        var root = Directory.CreateTempSubdirectory("hm-failover-store-").FullName;
        try
        {
            await ServiceScripts.RunAsync("bash", [script, "start", primaryDir]);
            await ServiceScripts.RunAsync("bash", [script, "standby", primaryDir, standbyDir]);
            var primary = Read(primaryDir);
            var standby = Read(standbyDir);
            await using (var tune = standby.OpenConnection("postgres"))
            {
                // The recommended setting (docs/disaster-recovery.md): a silent primary is noticed in 5 s, not 60.
                await tune.OpenAsync();
                await using var set = new NpgsqlCommand("ALTER SYSTEM SET wal_receiver_timeout = '5s'", tune);
                await set.ExecuteNonQueryAsync();
                await using var reload = new NpgsqlCommand("SELECT pg_reload_conf()", tune);
                await reload.ExecuteNonQueryAsync();
            }

            var options = new PostgreSqlFailoverOptions { Primary = primary, Standbys = [standby] };
            var services = new ServiceCollection();
            services.AddBackupDR(o =>
            {
                o.Encryption.ActiveKeyId = "bench";
                o.Encryption.Keys.Add(new HealthMate.Backup.Encryption.BackupKeyOptions { Id = "bench", Base64 = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)) });
                o.Monitor.Probes["backups"] = new MonitoredProbeOptions { Enabled = false };
                o.Monitor.Probes["database"] = probe;
            }).AddLocalStorage(l => l.Path = root).AddHealthMonitor().AddPostgreSqlFailover(options);
            await using var provider = services.BuildServiceProvider();
            var hosted = provider.GetServices<IHostedService>().ToList();
            foreach (var service in hosted)
            {
                await service.StartAsync(CancellationToken.None);
            }

            var monitor = provider.GetRequiredService<IHealthMonitor>();
            DateTimeOffset? downAt = null;
            monitor.StateChanged += (_, c) => downAt ??= c.Current == ComponentState.Down ? c.At : null;
            var decided = new TaskCompletionSource<FailoverDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
            provider.GetRequiredService<IFailoverCoordinator>().Decided += (_, d) =>
            {
                if (d.Outcome == FailoverOutcome.Refused && Environment.GetEnvironmentVariable("HM_BENCH_VERBOSE") == "1")
                {
                    Console.Error.WriteLine($"  refused: {d.Reason}");
                }

                if (d.Outcome is FailoverOutcome.FailedOver or FailoverOutcome.Failed)
                {
                    decided.TrySetResult(d); // refusals while the isolation is being confirmed are part of the drill
                }
            };
            var connectionString = options.ClientConnectionString("postgres");
            await using (var setup = new NpgsqlConnection(connectionString))
            {
                await setup.OpenAsync();
                await using var create = new NpgsqlCommand("CREATE TABLE acked (id bigint PRIMARY KEY)", setup);
                await create.ExecuteNonQueryAsync();
            }

            while (monitor.GetStatus("database")?.State != ComponentState.Up)
            {
                await Task.Delay(50);
            }

            using var stop = new CancellationTokenSource();
            var acked = new ConcurrentQueue<(long Id, DateTimeOffset At, int Port)>();
            var writer = Task.Run(() => WriteAsync(connectionString, acked, stop.Token));
            await Task.Delay(1500);

            var crashedAt = DateTimeOffset.UtcNow;
            await AsPostgresAsync(Path.Combine(primary.ToolsDirectory!, "pg_ctl"), "-D", Path.Combine(primaryDir, "data"), "-m", "immediate", "-w", "stop");
            var decision = await decided.Task.WaitAsync(TimeSpan.FromSeconds(120));
            var clock = Stopwatch.StartNew();
            while (!acked.Any(a => a.Port == standby.Port) && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(5);
            }

            await stop.CancelAsync();
            await writer;
            foreach (var service in Enumerable.Reverse(hosted))
            {
                await service.StopAsync(CancellationToken.None);
            }

            var first = acked.First(a => a.Port == standby.Port).At;
            var before = acked.Where(a => a.At < crashedAt).Select(a => a.Id).ToList();
            var present = new HashSet<long>();
            await using (var check = standby.OpenConnection("postgres"))
            {
                await check.OpenAsync();
                await using var select = new NpgsqlCommand("SELECT id FROM acked", check);
                await using var reader = await select.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    present.Add(reader.GetInt64(0));
                }
            }

            return (
                ((downAt ?? crashedAt) - crashedAt).TotalMilliseconds,
                ((decision.Result?.RestoredAt ?? crashedAt) - crashedAt).TotalMilliseconds,
                (first - crashedAt).TotalMilliseconds,
                decision.Record?.Rto?.TotalMilliseconds ?? double.NaN,
                before.Count(id => !present.Contains(id)));
        }
        finally
        {
            await ServiceScripts.RunAsync("bash", [script, "stop", standbyDir]);
            await ServiceScripts.RunAsync("bash", [script, "stop", primaryDir]);
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task WriteAsync(string connectionString, ConcurrentQueue<(long Id, DateTimeOffset At, int Port)> acked, CancellationToken cancellationToken)
    {
        long id = 1;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(cancellationToken);
                while (true)
                {
                    await using var insert = new NpgsqlCommand("INSERT INTO acked VALUES ($1)", connection) { Parameters = { new NpgsqlParameter { Value = id } } };
                    await insert.ExecuteNonQueryAsync(cancellationToken);
                    acked.Enqueue((id++, DateTimeOffset.UtcNow, connection.Port));
                    await Task.Delay(10, cancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                if (ex is PostgresException { SqlState: "23505" })
                {
                    id++;
                }

                try
                {
                    await Task.Delay(10, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private static PostgreSqlConnectionOptions Read(string directory)
    {
        var env = File.ReadAllLines(Path.Combine(directory, "env")).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        return new PostgreSqlConnectionOptions
        {
            Host = env["HM_PG_HOST"],
            Port = int.Parse(env["HM_PG_PORT"], CultureInfo.InvariantCulture),
            Username = env["HM_PG_USER"],
            Password = env["HM_PG_PASSWORD"],
            SslMode = "disable",
            ToolsDirectory = env["HM_PG_BIN"],
        };
    }

    private static Task AsPostgresAsync(string tool, params string[] arguments) =>
        Environment.UserName == "root"
            ? ServiceScripts.RunAsync("runuser", ["-u", "postgres", "--", tool, .. arguments])
            : ServiceScripts.RunAsync(tool, arguments);
}
