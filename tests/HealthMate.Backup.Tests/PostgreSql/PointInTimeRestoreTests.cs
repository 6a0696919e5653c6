using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace HealthMate.Backup.Tests.PostgreSql;

/// <summary>
/// Point-in-time recovery against the real server, as PostgreSQL's own recovery tests do it (003_recovery_targets,
/// 004_timeline_switch): the server archives its WAL with `healthmate-backup wal-push` as archive_command, and each
/// restore replays it with `healthmate-backup wal-fetch` as restore_command to a time, an LSN, a transaction, a named
/// restore point, the end of the backup, and the end of the archive, each giving exactly the rows written by then.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PointInTimeRestoreTests(PostgresFixture postgres) : IAsyncLifetime
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), $"hmb-pitr-{Guid.NewGuid():N}");
    private readonly List<string> _dataDirectories = [];
    private TestHost _host = null!;
    private string _config = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        // The server's user runs wal-push and wal-fetch: it must reach the storage, the config and the key.
        Directory.CreateDirectory(Path.Combine(_work, "storage"));
        _host = new TestHost(root: Path.Combine(_work, "storage"), services: s => s.AddBackupDR().AddPostgreSql());
        _config = WalArchiveTests.WriteCliConfig(_host.Root, _host.Key, _work);
        await ChownAsync(_work);
        await postgres.ExecuteAsync("postgres", $"ALTER SYSTEM SET archive_command = {Quote(Cli("wal-push %p"))}");
        await postgres.ExecuteAsync("postgres", "SELECT pg_reload_conf()");
        _database = PostgresFixture.NewDatabaseName("pitr");
        await postgres.CreateDatabaseAsync(_database);
    }

    public async Task DisposeAsync()
    {
        await postgres.ExecuteAsync("postgres", "ALTER SYSTEM SET archive_command = '/bin/true'");
        await postgres.ExecuteAsync("postgres", "SELECT pg_reload_conf()");
        foreach (var directory in _dataDirectories)
        {
            await StopAsync(directory);
        }

        await postgres.DropDatabaseAsync(_database);
        _host.Dispose();
        if (Directory.Exists(_work))
        {
            Directory.Delete(_work, recursive: true);
        }
    }

    [Fact]
    public async Task EveryKindOfTarget_GivesExactlyTheRowsWrittenByThen_AndATargetBeyondTheArchiveIsAnError()
    {
        await postgres.ExecuteAsync(_database, "CREATE TABLE pitr (id int, tag text)");
        var backup = await _host.Backups.RunAsync(PostgreSqlBackups.Physical(new PhysicalBackupOptions { Connection = postgres.Connection, Wal = BaseBackupWal.None }));
        Assert.Equal("base-tar", backup.Manifest.Properties["postgres.format"]);
        Assert.Equal(await postgres.ScalarAsync<string>("postgres", "SELECT system_identifier::text FROM pg_control_system()"), backup.Manifest.Properties["postgres.system-identifier"]);
        Assert.True(Lsn(backup.Manifest.Properties["postgres.start-lsn"]) <= Lsn(backup.Manifest.Properties["postgres.stop-lsn"]));

        var xidA = await InsertAsync(1, 100, "a");
        var timeA = await postgres.ScalarAsync<DateTime>(_database, "SELECT clock_timestamp()");
        await postgres.ExecuteAsync(_database, "SELECT pg_create_restore_point('after_a')");
        await Task.Delay(20);
        await InsertAsync(101, 200, "b");
        var lsnB = await postgres.ScalarAsync<string>(_database, "SELECT pg_current_wal_lsn()::text");
        await InsertAsync(201, 300, "c");
        await ArchiveEverythingAsync();

        Assert.Equal(100, await RestoreAndCountAsync(RecoveryTarget.AtTime(new DateTimeOffset(timeA, TimeSpan.Zero))));
        Assert.Equal(200, await RestoreAndCountAsync(RecoveryTarget.AtLsn(lsnB)));
        Assert.Equal(100, await RestoreAndCountAsync(RecoveryTarget.AtTransaction(xidA)));
        Assert.Equal(0, await RestoreAndCountAsync(RecoveryTarget.AtTransaction(xidA) with { Inclusive = false }));
        Assert.Equal(100, await RestoreAndCountAsync(RecoveryTarget.AtRestorePoint("after_a")));
        Assert.Equal(0, await RestoreAndCountAsync(RecoveryTarget.Immediate));
        Assert.Equal(300, await RestoreAndCountAsync(RecoveryTarget.Latest));

        var beyond = await Assert.ThrowsAsync<RecoveryTargetNotReachedException>(() => RestoreAsync(RecoveryTarget.AtTime(DateTimeOffset.UtcNow.AddHours(1))));
        Assert.Contains("recovery ended before configured recovery target was reached", beyond.ServerLog, StringComparison.Ordinal);
        var occupied = _dataDirectories[^2];
        await Assert.ThrowsAsync<InvalidOperationException>(() => Pitr.RestoreAsync(Options(occupied, RecoveryTarget.Latest)));
    }

    [Fact]
    public async Task Retention_PrunesWalBeforeTheOldestKeptBaseBackup_AndTheKeptBackupStillRecoversToTheEnd()
    {
        await postgres.ExecuteAsync(_database, "CREATE TABLE pitr (id int, tag text)");
        var physical = new PhysicalBackupOptions { Connection = postgres.Connection, Wal = BaseBackupWal.None };
        var first = await _host.Backups.RunAsync(PostgreSqlBackups.Physical(physical));
        await InsertAsync(1, 100, "a");
        await ArchiveEverythingAsync();
        var second = await _host.Backups.RunAsync(PostgreSqlBackups.Physical(physical));
        await InsertAsync(101, 200, "b");
        await ArchiveEverythingAsync();
        await Task.Delay(1100);

        var system = second.Manifest.Properties["postgres.system-identifier"];
        var timeline = second.Manifest.Properties["postgres.start-wal-file"][..8];
        var wal = _host.Services.GetRequiredService<WalArchive>();
        var before = await wal.ListAsync(system, timeline).ToListAsync();
        using var pruning = new TestHost(
            o => o.Retention.Kinds["postgres-base"] = new HealthMate.Backup.Retention.RetentionPolicy { KeepLast = 1, PointInTimeWindow = TimeSpan.FromSeconds(1) },
            _host.Root, _host.Key, s => s.AddBackupDR().AddPostgreSql(), keepRoot: true);
        var retention = pruning.Services.GetRequiredService<HealthMate.Backup.Retention.IBackupRetention>();

        var result = await retention.ApplyAsync();

        Assert.Equal([first.BackupId], result.DeletedBackups);
        var startFile = second.Manifest.Properties["postgres.start-wal-file"];
        var after = await wal.ListAsync(system, timeline).ToListAsync();
        Assert.True(result.DeletedArchiveObjects > 0, "no WAL was pruned");
        Assert.Equal(before.Where(n => string.CompareOrdinal(n[..24], startFile) >= 0 || n.EndsWith(".history", StringComparison.Ordinal)), after);
        Assert.Equal(200, await RestoreAndCountAsync(RecoveryTarget.Latest));
        Assert.Empty((await retention.PlanAsync()).ArchiveObjects);
    }

    [Fact]
    public async Task Recovery_FollowsATimelineSwitch_AfterAPromotion()
    {
        await postgres.ExecuteAsync(_database, "CREATE TABLE pitr (id int, tag text)");
        await _host.Backups.RunAsync(PostgreSqlBackups.Physical(new PhysicalBackupOptions { Connection = postgres.Connection, Wal = BaseBackupWal.None }));
        await InsertAsync(1, 100, "before the switch");
        await ArchiveEverythingAsync();

        // Restore and promote a copy that archives into the same archive: timeline 2, with its .history file.
        var promoted = NewDataDirectory();
        var options = Options(promoted, RecoveryTarget.Latest);
        options.Settings["archive_mode"] = "on";
        options.Settings["archive_command"] = Quote(Cli("wal-push %p"));
        var first = await Pitr.RestoreAsync(options);
        Assert.Equal(2, first.Timeline);
        var port = options.Port;
        await using (var connection = Connect(port))
        {
            await connection.OpenAsync();
            // Two commands: in one batch they would share a transaction, and the commit would follow the switch.
            await using var write = new NpgsqlCommand("INSERT INTO pitr SELECT i, 'timeline 2' FROM generate_series(101, 150) i", connection);
            await write.ExecuteNonQueryAsync();
            await using var @switch = new NpgsqlCommand("SELECT pg_walfile_name(pg_switch_wal())", connection);
            var switched = (string)(await @switch.ExecuteScalarAsync())!;
            await WaitArchivedAsync(connection, switched, Path.Combine(promoted, "healthmate-recovery.log"));
        }

        await StopAsync(promoted);

        // A restore of the same base backup to the latest point follows the history file onto timeline 2.
        var again = Options(NewDataDirectory(), RecoveryTarget.Latest);
        var result = await Pitr.RestoreAsync(again);
        Assert.Equal(3, result.Timeline);
        var count = await CountAsync(again.Port);
        Assert.True(150L == count, $"{count} rows; archive: {string.Join(", ", _host.AllFiles().Where(f => f.StartsWith("wal/", StringComparison.Ordinal)))}; promoted status: {string.Join(", ", Directory.GetFiles(Path.Combine(promoted, "pg_wal"), "*", SearchOption.AllDirectories).Select(Path.GetFileName))}\n{Tail(Path.Combine(again.DataDirectory, "healthmate-recovery.log"))}");
        await StopAsync(again.DataDirectory);

        // Found in review: a hole just before the switch (common after a failover: the standby does not archive the
        // old timeline's last segments) ended recovery on timeline 1, and only timeline 1 was compared.
        var walFolder = Path.Combine(_host.Root, "wal", (await _host.Catalog.GetAsync(first.BackupId)).Properties["postgres.system-identifier"]);
        string[] Segments(string timeline) => [.. Directory.GetFiles(Path.Combine(walFolder, timeline), "*.manifest.json").Select(f => Path.GetFileName(f)[..^".manifest.json".Length]).Where(n => n.Length == 24)];
        var switchSegment = Segments("00000002").Min(StringComparer.Ordinal)!;
        var beforeSwitch = Segments("00000001").Where(n => string.CompareOrdinal(n[8..], switchSegment[8..]) < 0).Max(StringComparer.Ordinal)!;
        File.Delete(Path.Combine(walFolder, "00000001", beforeSwitch + ".manifest.json"));
        var gap = await Assert.ThrowsAsync<WalSegmentUnavailableException>(() => Pitr.RestoreAsync(Options(NewDataDirectory(), RecoveryTarget.Latest)));
        Assert.Equal(beforeSwitch, gap.SegmentName);
    }

    [Fact]
    public async Task The_region_outage_playbook_restores_the_database_to_the_end_of_the_archive_and_records_the_restore()
    {
        await postgres.ExecuteAsync(_database, "CREATE TABLE pitr (id int, tag text)");
        await _host.Backups.RunAsync(PostgreSqlBackups.Physical(new PhysicalBackupOptions { Connection = postgres.Connection, Wal = BaseBackupWal.None }));
        await InsertAsync(1, 250, "before the outage");
        await ArchiveEverythingAsync();
        var marker = Path.Combine(_work, "hooks.log");
        var options = Options(NewDataDirectory(), RecoveryTarget.Latest);
        HealthMate.Backup.Hooks.HookOptions Hook(string step) => new() { Command = new HealthMate.Backup.Hooks.CommandHookOptions { FileName = "/bin/sh", Arguments = ["-c", $"echo \"$HM_ACTION drill=$HM_DRILL\" >> '{marker}'"] } };

        // The recovery host: the same storage (another region's copy) and key, nothing else.
        using var recovery = new TestHost(
            o => o.Playbooks["region-outage"] = new HealthMate.Backup.Playbooks.PlaybookOptions
            {
                Hooks = { ["deploy-application"] = Hook("deploy-application"), ["update-dns"] = Hook("update-dns") },
                Probes = ["restored"],
            },
            _host.Root,
            _host.Key,
            s => s.AddBackupDR().AddPostgreSql()
                .AddPostgreSqlRegionRestore(o =>
                {
                    o.DataDirectory = options.DataDirectory;
                    o.RestoreCommand = options.RestoreCommand;
                    o.Port = options.Port;
                    o.Connection = options.Connection;
                    o.Timeout = options.Timeout;
                    o.Tier = "high";
                })
                .AddHealthProbe(_ => new PostgreSqlHealthProbe(new PostgreSqlProbeOptions { Name = "restored", Connection = new PostgreSqlConnectionOptions { Host = postgres.Connection.Host, Port = options.Port, Username = postgres.Connection.Username, Password = postgres.Connection.Password, SslMode = "disable" } })),
            keepRoot: true);
        var outage = DateTimeOffset.UtcNow;

        var report = await recovery.Services.GetRequiredService<HealthMate.Backup.Playbooks.IPlaybookRunner>().RunAsync("region-outage",
            new HealthMate.Backup.Playbooks.PlaybookRunOptions { Mode = HealthMate.Backup.Playbooks.PlaybookMode.Drill, Reason = "region drill", OutageStartedAt = outage });

        Assert.True(report.Outcome == HealthMate.Backup.Playbooks.PlaybookOutcome.Succeeded, string.Join("\n", report.Steps.Select(s => $"{s.Name} {s.Outcome}: {s.Output}")));
        Assert.Equal(250, await CountAsync(options.Port));
        Assert.Equal(["deploy-application drill=1", "update-dns drill=1"], (await File.ReadAllLinesAsync(marker)).Select(l => l.Trim()));
        Assert.NotNull(report.Rpo);
        Assert.True(report.Rpo < TimeSpan.FromMinutes(15), $"RPO {report.Rpo}");
        var records = await recovery.Services.GetRequiredService<HealthMate.Backup.Recovery.IRecoveryRecords>().ListAsync(outage.AddMinutes(-1)).ToListAsync();
        var restore = Assert.Single(records, r => r.Kind == HealthMate.Backup.Recovery.RecoveryKind.Restore);
        Assert.True(restore.IsDrill && restore.Succeeded && restore.Rpo is not null && restore.RtoObjective == TimeSpan.FromMinutes(60), restore.ToString());
        Assert.Single(records, r => r.Kind == HealthMate.Backup.Recovery.RecoveryKind.Playbook && r.Compliant);
    }

    [Fact]
    public async Task RestoreToLatest_WithAMissingDamagedOrForeignSegment_FailsNamingIt_NeverStopsEarlyAndCallsItDone()
    {
        // Issue 13, defect 3: each of these used to end recovery at the segment before, promote, and report success.
        await postgres.ExecuteAsync(_database, "CREATE TABLE pitr (id int, tag text)");
        var backup = await _host.Backups.RunAsync(PostgreSqlBackups.Physical(new PhysicalBackupOptions { Connection = postgres.Connection, Wal = BaseBackupWal.None }));
        var segments = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            await InsertAsync((i * 100) + 1, (i + 1) * 100, $"batch {i}");
            segments.Add(await ArchiveEverythingAsync());
        }

        var middle = segments[1];
        var folder = Path.Combine(_host.Root, "wal", backup.Manifest.Properties["postgres.system-identifier"], middle[..8]);
        var files = Directory.GetFiles(folder, middle + ".*").ToDictionary(f => f, File.ReadAllBytes);
        void PutBack()
        {
            foreach (var file in Directory.GetFiles(folder, middle + ".*"))
            {
                File.Delete(file);
            }

            foreach (var (file, bytes) in files)
            {
                File.WriteAllBytes(file, bytes);
            }
        }

        async Task AssertFailsNamingAsync(string damage)
        {
            var directory = NewDataDirectory();
            var error = await Assert.ThrowsAsync<WalSegmentUnavailableException>(() => Pitr.RestoreAsync(Options(directory, RecoveryTarget.Latest)));
            Assert.True(error.SegmentName == middle, $"{damage}: {error.Message}");
            Assert.Contains(middle, error.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(directory, "postmaster.pid")), $"{damage}: the restored server was left running");
        }

        // Missing: its manifest is gone (the archive lost it).
        File.Delete(files.Keys.Single(f => f.EndsWith(".manifest.json", StringComparison.Ordinal)));
        await AssertFailsNamingAsync("missing");
        PutBack();

        // Damaged: one bit of its stored data flipped.
        var data = files.Keys.Single(f => !f.EndsWith(".manifest.json", StringComparison.Ordinal));
        var flipped = (byte[])files[data].Clone();
        flipped[flipped.Length / 2] ^= 0x01;
        await File.WriteAllBytesAsync(data, flipped);
        await AssertFailsNamingAsync("damaged");
        PutBack();

        // Foreign: archived again under the same key id with another key (a second cluster's archiver, a swapped key).
        var original = Path.Combine(_work, middle);
        Assert.True(await _host.Services.GetRequiredService<WalArchive>().FetchAsync(middle, original, new WalArchiveOptions { SystemIdentifier = backup.Manifest.Properties["postgres.system-identifier"] }));
        foreach (var file in files.Keys)
        {
            File.Delete(file);
        }

        using (var foreign = new TestHost(root: _host.Root, key: System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), services: s => s.AddBackupDR().AddPostgreSql(), keepRoot: true))
        {
            await foreign.Services.GetRequiredService<WalArchive>().PushAsync(original);
        }

        await ChownAsync(folder);
        await AssertFailsNamingAsync("foreign key");
        PutBack();
        await ChownAsync(folder);

        // With the archive whole again, the same restore reaches the end.
        Assert.Equal(400, await RestoreAndCountAsync(RecoveryTarget.Latest));
    }

    private PointInTimeRestore Pitr => _host.Services.GetRequiredService<PointInTimeRestore>();

    private async Task<PointInTimeRestoreResult> RestoreAsync(RecoveryTarget target)
    {
        var options = Options(NewDataDirectory(), target);
        _lastPort = options.Port;
        return await Pitr.RestoreAsync(options);
    }

    private int _lastPort;

    private async Task<long> RestoreAndCountAsync(RecoveryTarget target)
    {
        var result = await RestoreAsync(target);
        Assert.NotNull(result.StopReason);
        var count = await CountAsync(_lastPort);
        await StopAsync(result.DataDirectory);
        return count;
    }

    private async Task<long> CountAsync(int port)
    {
        await using var connection = Connect(port);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pitr", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private NpgsqlConnection Connect(int port) => new PostgreSqlConnectionOptions
    {
        Host = postgres.Connection.Host,
        Port = port,
        Username = postgres.Connection.Username,
        Password = postgres.Connection.Password,
        SslMode = "disable",
    }.OpenConnection(_database);

    private PointInTimeRestoreOptions Options(string dataDirectory, RecoveryTarget target) => new()
    {
        DataDirectory = dataDirectory,
        Target = target,
        RestoreCommand = Cli("wal-fetch %f %p"),
        Port = FreePort(),
        Connection = new PostgreSqlConnectionOptions { Host = postgres.Connection.Host, Username = postgres.Connection.Username, Password = postgres.Connection.Password, SslMode = "disable", ToolsDirectory = postgres.BinDirectory },
        Timeout = TimeSpan.FromMinutes(2),
    };

    private string NewDataDirectory()
    {
        var directory = Path.Combine(_work, $"restore-{_dataDirectories.Count}");
        _dataDirectories.Add(directory);
        return directory;
    }

    private async Task<ulong> InsertAsync(int from, int to, string tag)
    {
        await using var connection = postgres.Connection.OpenConnection(_database);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var insert = new NpgsqlCommand($"INSERT INTO pitr SELECT i, '{tag}' FROM generate_series({from}, {to}) i; SELECT pg_current_xact_id()::text::bigint", connection, transaction);
        var xid = (long)(await insert.ExecuteScalarAsync())!;
        await transaction.CommitAsync();
        return (ulong)xid;
    }

    /// <summary>Switches to a new segment and waits until the server has archived everything up to it; returns the
    /// segment that was completed.</summary>
    private async Task<string> ArchiveEverythingAsync()
    {
        await using var connection = postgres.Connection.OpenConnection("postgres");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_walfile_name(pg_switch_wal())", connection);
        var switched = (string)(await command.ExecuteScalarAsync())!;
        await WaitArchivedAsync(connection, switched, null);
        return switched;
    }

    /// <summary>Waits until the server has archived <paramref name="segment"/> (the one pg_switch_wal completed).</summary>
    private static async Task WaitArchivedAsync(NpgsqlConnection connection, string segment, string? serverLog)
    {
        await using var command = new NpgsqlCommand("SELECT coalesce(last_archived_wal, '') >= $1, failed_count, coalesce(last_failed_wal, '') FROM pg_stat_archiver", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = segment });
        for (var attempt = 0; attempt < 600; attempt++)
        {
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            if (reader.GetBoolean(0))
            {
                return;
            }

            var failed = reader.GetInt64(1);
            var failedWal = reader.GetString(2);
            await reader.CloseAsync();
            Assert.True(failed == 0, $"archive_command failed {failed} times (last: {failedWal}):\n{(serverLog is null ? "see the server log" : Tail(serverLog))}");
            await Task.Delay(100);
        }

        await using var state = new NpgsqlCommand("SELECT current_setting('archive_mode') || ' | ' || current_setting('archive_command') || ' | ' || (SELECT row(s.*)::text FROM pg_stat_archiver s) || ' | ' || pg_walfile_name(pg_current_wal_lsn())", connection);
        Assert.Fail($"The server did not archive its WAL within 60 s: {await state.ExecuteScalarAsync()}\n{(serverLog is null ? string.Empty : Tail(serverLog))}");
    }

    private async Task StopAsync(string dataDirectory)
    {
        if (File.Exists(Path.Combine(dataDirectory, "postmaster.pid")))
        {
            await Commands.RunAsync("runuser", "-u", "postgres", "--", Path.Combine(postgres.BinDirectory, "pg_ctl"), "stop", "-D", dataDirectory, "-m", "immediate", "-w");
        }
    }

    private static string Tail(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var text = new StreamReader(file).ReadToEnd();
        return text.Length > 3000 ? text[^3000..] : text;
    }

    private string Cli(string command) =>
        $"dotnet {Path.Combine(AppContext.BaseDirectory, "healthmate-backup.dll")} {command} --config {_config}";

    private static string Quote(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static Lsn Lsn(string text) => HealthMate.Backup.PostgreSql.Lsn.TryParse(text, out var lsn) ? lsn : throw new FormatException(text);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Task ChownAsync(string path) => Commands.RunAsync("chown", "-R", "postgres:", path);
}
