using System.Diagnostics;
using System.Globalization;
using HealthMate.Backup.PostgreSql;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace HealthMate.Backup.Benchmarks;

/// <summary>
/// <c>e2e --postgres</c>: a pgbench database (scale 70, about 1 GB) plus a table of compressible clinical-note text, on a
/// throwaway PostgreSQL 15 from scripts/postgres.sh (kept in /tmp/hm-pg-bench between runs, since loading takes a
/// minute). Measures a logical backup against raw <c>pg_dump -Fc &gt; /dev/null</c> and a physical backup against
/// <c>pg_basebackup -Ft -D - -c fast | zstd -1 &gt; file</c>, each HealthMate phase in its own process.
/// </summary>
internal static class PostgresBenchmark
{
    private const string Cluster = "/tmp/hm-pg-bench";
    private const string Database = "bench";

    internal static async Task<int> RunAsync(string[] args, string corpus, string work)
    {
        var scale = int.Parse(EndToEnd.Option(args, "--scale") ?? "70", CultureInfo.InvariantCulture);
        var notes = int.Parse(EndToEnd.Option(args, "--text-rows") ?? "1500000", CultureInfo.InvariantCulture);
        await EnsureClusterAsync(scale, notes);
        var env = ReadEnv();
        foreach (var (name, value) in env)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        // The tools read the connection from libpq's environment; the password never goes on a command line.
        Environment.SetEnvironmentVariable("PGHOST", env["HM_PG_HOST"]);
        Environment.SetEnvironmentVariable("PGPORT", env["HM_PG_PORT"]);
        Environment.SetEnvironmentVariable("PGUSER", env["HM_PG_USER"]);
        Environment.SetEnvironmentVariable("PGPASSWORD", env["HM_PG_PASSWORD"]);
        var bin = env["HM_PG_BIN"];
        var size = await ScalarAsync<long>("SELECT pg_database_size('bench')");
        var clusterSize = await ScalarAsync<long>("SELECT sum(pg_database_size(datname))::bigint FROM pg_database");
        EndToEnd.PrepareWork(work);
        Console.WriteLine($"postgres 15 on {env["HM_PG_HOST"]}:{env["HM_PG_PORT"]}; database bench {size / 1048576.0:F0} MiB (pgbench scale {scale} + {notes} text rows), cluster {clusterSize / 1048576.0:F0} MiB; {Environment.ProcessorCount} cores");
        string[] common = ["--work", work, "--warmup-corpus", corpus, .. (EndToEnd.Option(args, "--warmup-mib") is { } w ? new[] { "--warmup-mib", w } : [])];
        var rows = new List<string>();
        for (var round = 1; round <= 2; round++)
        {
            rows.Add($"round {round}");
            rows.Add(EndToEnd.Row("pg_dump -Fc > /dev/null", size, await EndToEnd.Tool("bash", "-c", $"'{bin}/pg_dump' -Fc -d {Database} > /dev/null")));
            rows.Add(EndToEnd.Row("pg_dump -Fc -Z0 > /dev/null", size, await EndToEnd.Tool("bash", "-c", $"'{bin}/pg_dump' -Fc -Z0 -d {Database} > /dev/null")));
            var logical = await EndToEnd.Self(["phase", "postgres-logical", .. common]);
            rows.Add(EndToEnd.Row("HealthMate logical (pg_dump -Z0, zstd-1, AES, fsync)", size, logical));
            var file = Path.Combine(work, "base.tar.zst");
            rows.Add(EndToEnd.Row("pg_basebackup -Ft -D - -c fast | zstd -1 > file", clusterSize, await EndToEnd.Tool("bash", "-c", $"'{bin}/pg_basebackup' -Ft -D - -c fast -X fetch | zstd -q -1 -c > '{file}'")));
            rows.Add(EndToEnd.Row("  same, then sync of the file", clusterSize, await EndToEnd.Tool("bash", "-c", $"'{bin}/pg_basebackup' -Ft -D - -c fast -X fetch | zstd -q -1 -c > '{file}' && sync '{file}'")));
            File.Delete(file);
            var physical = await EndToEnd.Self(["phase", "postgres-physical", .. common]);
            rows.Add(EndToEnd.Row("HealthMate physical (pg_basebackup, zstd-1, AES, fsync)", clusterSize, physical));
            if (File.Exists("/usr/bin/pgbackrest"))
            {
                rows.Add(EndToEnd.Row("pgBackRest full (zst-1, process-max 2, start-fast)", clusterSize, await PgBackRestAsync(env)));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"{"run",-60} {"MB/s",6} {"seconds",8} {"CPU s",7} {"peak RSS",9}");
        rows.ForEach(Console.WriteLine);
        return 0;
    }

    internal static async Task<(string Id, string Note)> RunPhaseAsync(string phase, ServiceProvider provider)
    {
        var connection = new PostgreSqlConnectionOptions
        {
            Host = Environment.GetEnvironmentVariable("HM_PG_HOST")!,
            Port = int.Parse(Environment.GetEnvironmentVariable("HM_PG_PORT")!, CultureInfo.InvariantCulture),
            Username = Environment.GetEnvironmentVariable("HM_PG_USER")!,
            Password = Environment.GetEnvironmentVariable("HM_PG_PASSWORD"),
            SslMode = "disable",
            ToolsDirectory = Environment.GetEnvironmentVariable("HM_PG_BIN"),
        };
        IBackupSource source = phase == "postgres-logical"
            ? PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = connection, Database = Database })
            : PostgreSqlBackups.Physical(new PhysicalBackupOptions { Connection = connection });
        var result = await provider.GetRequiredService<IBackupRunner>().RunAsync(source);
        var data = result.Manifest.Data;
        return (result.BackupId, $"stream {data.PlaintextSize / 1048576.0:F0} MiB, stored {data.StoredSize / 1048576.0:F0} MiB");
    }

    /// <summary>pgBackRest (Debian's) backing up the same cluster into a fresh repository, as the server's user.</summary>
    private static async Task<EndToEnd.PhaseResult> PgBackRestAsync(Dictionary<string, string> env)
    {
        var root = "/tmp/hm-pgbr";
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }

        Directory.CreateDirectory(Path.Combine(root, "repo"));
        var config = Path.Combine(root, "pgbackrest.conf");
        await File.WriteAllTextAsync(config, $"""
            [global]
            repo1-path={root}/repo
            repo1-retention-full=2
            log-path={root}
            lock-path={root}
            compress-type=zst
            compress-level=1
            start-fast=y
            archive-check=n
            process-max=2

            [bench]
            pg1-path={env["HM_PG_DATA"]}
            pg1-port={env["HM_PG_PORT"]}
            pg1-socket-path={Cluster}/sock
            pg1-user=postgres
            """);
        await RunAsync("chown", "-R", "postgres:", root);
        await RunAsync("runuser", "-u", "postgres", "--", "pgbackrest", "--config=" + config, "--stanza=bench", "stanza-create");
        return await EndToEnd.Tool("runuser", "-u", "postgres", "--", "pgbackrest", "--config=" + config, "--stanza=bench", "--type=full", "backup");
    }

    private static async Task EnsureClusterAsync(int scale, int notes)
    {
        if (File.Exists(Path.Combine(Cluster, "env")) && File.Exists(Path.Combine(Cluster, "data", "postmaster.pid")) && File.Exists(Path.Combine(Cluster, $"loaded-{scale}-{notes}")))
        {
            return;
        }

        await RunAsync("bash", ServiceScripts.Find("postgres.sh"), "stop", Cluster);
        await RunAsync("bash", ServiceScripts.Find("postgres.sh"), "start", Cluster);
        var env = ReadEnv();
        Environment.SetEnvironmentVariable("PGPASSWORD", env["HM_PG_PASSWORD"]);
        var psql = Path.Combine(env["HM_PG_BIN"], "psql");
        string[] at = ["-h", env["HM_PG_HOST"], "-p", env["HM_PG_PORT"], "-U", env["HM_PG_USER"]];
        Console.Error.WriteLine($"loading pgbench scale {scale} and {notes} text rows (about a minute)...");
        await RunAsync(psql, [.. at, "-X", "-q", "-c", $"CREATE DATABASE {Database}"]);
        await RunAsync(Path.Combine(env["HM_PG_BIN"], "pgbench"), [.. at, "-i", "-q", "-s", scale.ToString(CultureInfo.InvariantCulture), Database]);
        await RunAsync(psql, [.. at, "-X", "-q", "-d", Database, "-c", $"""
            CREATE TABLE notes AS
            SELECT i AS id, now() - i * interval '1 minute' AS written_at,
                   'Patient ' || (i % 50000) || ' seen for ' || (ARRAY['follow-up', 'headache', 'fever', 'back pain', 'check-up', 'medication review'])[1 + i % 6]
                   || '. Reports ' || (ARRAY['mild', 'moderate', 'no', 'severe'])[1 + i % 4] || ' symptoms since ' || (1 + i % 14) || ' days; '
                   || 'blood pressure ' || (100 + i % 60) || '/' || (60 + i % 30) || ', temperature ' || round(36 + (i % 30) / 10.0, 1)
                   || '. Plan: ' || (ARRAY['continue current treatment', 'lab tests ordered', 'refer to specialist', 'review in two weeks'])[1 + i % 4]
                   || '. Ref ' || md5(i::text) AS body
            FROM generate_series(1, {notes}) i;
            CHECKPOINT;
            """]);
        await File.WriteAllTextAsync(Path.Combine(Cluster, $"loaded-{scale}-{notes}"), string.Empty);
    }

    private static Dictionary<string, string> ReadEnv() =>
        File.ReadAllLines(Path.Combine(Cluster, "env")).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    private static async Task<T> ScalarAsync<T>(string sql)
    {
        var env = ReadEnv();
        await using var connection = new NpgsqlConnection($"Host={env["HM_PG_HOST"]};Port={env["HM_PG_PORT"]};Username={env["HM_PG_USER"]};Password={env["HM_PG_PASSWORD"]};Database={Database};Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static Task RunAsync(string command, params string[] arguments) => ServiceScripts.RunAsync(command, arguments);
}
