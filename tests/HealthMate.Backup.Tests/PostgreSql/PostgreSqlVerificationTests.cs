using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using HealthMate.Backup.Health;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Tests.Support;
using HealthMate.Backup.Verification;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.PostgreSql;

/// <summary>Test restores prove a backup restores and record it (with the time it took); the probe reports role and archiving.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgreSqlVerificationTests(PostgresFixture postgres) : IDisposable
{
    private readonly TestHost _host = new(services: s => s.AddBackupDR().AddPostgreSql());
    private readonly List<string> _databases = [];

    public void Dispose()
    {
        foreach (var database in _databases)
        {
            postgres.DropDatabaseAsync(database).GetAwaiter().GetResult();
        }

        _host.Dispose();
    }

    private PostgreSqlTestRestore TestRestore => _host.Services.GetRequiredService<PostgreSqlTestRestore>();

    private IVerificationRecords Records => _host.Services.GetRequiredService<IVerificationRecords>();

    [Fact]
    public async Task LogicalTestRestore_PassesOnAGoodBackup_RecordsRowsAndTime_AndLeavesNothingBehind()
    {
        var backup = await BackupAsync("CREATE TABLE patients (id int); INSERT INTO patients SELECT generate_series(1, 1234); CREATE TABLE notes (t text);");
        var options = new TestRestoreOptions { Connection = postgres.Connection };
        options.Assertions.Add("SELECT count(*) = 1234 FROM patients");

        var result = await TestRestore.RunAsync(backup.BackupId, options);

        Assert.True(result.Succeeded, result.Failure?.ToString());
        Assert.Equal("1234", result.Details["rows.public.patients"]);
        Assert.Equal("0", result.Details["rows.public.notes"]);
        Assert.Equal("2", result.Details["tables"]);
        Assert.True(result.RestoreTime > TimeSpan.Zero);
        var stored = Assert.Single(await Records.ListAsync(backup.Manifest.Kind, backup.BackupId).ToListAsync());
        Assert.Equal(result.Record, stored with { Details = result.Record.Details });
        Assert.Equal(result.Record.Details, stored.Details);
        Assert.True(stored.Succeeded);
        Assert.Equal("test-restore", stored.Method);
        Assert.Equal(0L, await postgres.ScalarAsync<long>("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'healthmate_test_restore%'"));
    }

    [Fact]
    public async Task LogicalTestRestore_FailsOnACorruptedBackup_AndOnAFailedAssertion_AndRecordsBoth()
    {
        var backup = await BackupAsync("CREATE TABLE t AS SELECT i, md5(i::text) AS h FROM generate_series(1, 100000) i;");
        var options = new TestRestoreOptions { Connection = postgres.Connection };
        options.Assertions.Add("SELECT count(*) = 5 FROM t");

        var wrong = await TestRestore.RunAsync(backup.BackupId, options);
        Assert.False(wrong.Succeeded);
        Assert.Contains("Assertion 1 did not hold", wrong.Failure!.Message, StringComparison.Ordinal);

        var path = _host.PathOf(backup.Manifest.Data.Key);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[bytes.Length / 2] ^= 0x01;
        await File.WriteAllBytesAsync(path, bytes);
        var corrupted = await TestRestore.RunAsync(backup.BackupId, new TestRestoreOptions { Connection = postgres.Connection });

        Assert.False(corrupted.Succeeded);
        Assert.IsAssignableFrom<BackupException>(corrupted.Failure);
        var records = await Records.ListAsync(backup.Manifest.Kind, backup.BackupId).ToListAsync();
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.False(r.Succeeded));
        Assert.Equal(0L, await postgres.ScalarAsync<long>("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'healthmate_test_restore%'"));
    }

    [Fact]
    public async Task PhysicalTestRestore_StartsAThrowawayCluster_CountsEveryDatabase_AndRemovesIt()
    {
        var database = PostgresFixture.NewDatabaseName("phys");
        _databases.Add(database);
        await postgres.CreateDatabaseAsync(database);
        await postgres.ExecuteAsync(database, "CREATE TABLE visits (id int); INSERT INTO visits SELECT generate_series(1, 777);");
        var scratch = Path.Combine(Path.GetTempPath(), $"hmb-phys-{Guid.NewGuid():N}");
        Directory.CreateDirectory(scratch);
        try
        {
            var backup = await _host.Backups.RunAsync(PostgreSqlBackups.Physical(new PhysicalBackupOptions { Connection = postgres.Connection }));
            var options = new TestRestoreOptions
            {
                Connection = postgres.Connection,
                ScratchDirectory = scratch,
                Physical = new PointInTimeRestoreOptions { RestoreCommand = "/bin/false %f %p", Port = FreePort(), Timeout = TimeSpan.FromMinutes(2) },
            };

            var result = await TestRestore.RunAsync(backup.BackupId, options);

            Assert.True(result.Succeeded, result.Failure?.ToString());
            Assert.Equal("777", result.Details[$"rows.{database}.public.visits"]);
            Assert.Empty(Directory.EnumerateFileSystemEntries(scratch));
            Assert.True(Assert.Single(await Records.ListAsync(backup.Manifest.Kind, backup.BackupId).ToListAsync()).Succeeded);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [Fact]
    public async Task Probe_ReportsPrimaryAndArchiving_AndAWrongPasswordIsUnhealthyWithoutThePassword()
    {
        var probe = new PostgreSqlHealthProbe(new PostgreSqlProbeOptions { Connection = postgres.Connection });
        var healthy = await probe.ProbeAsync();
        Assert.Equal(ProbeStatus.Healthy, healthy.Status);
        Assert.Equal("primary", healthy.Data["role"]);
        Assert.Equal("on", healthy.Data["archive_mode"]);

        var wrong = postgres.Connection.With(password: "definitely-wrong-31337");
        var unhealthy = await new PostgreSqlHealthProbe(new PostgreSqlProbeOptions { Connection = wrong }).ProbeAsync();
        Assert.Equal(ProbeStatus.Unhealthy, unhealthy.Status);
        Assert.Contains("password authentication failed", unhealthy.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("definitely-wrong-31337", unhealthy.Description + unhealthy.Error, StringComparison.Ordinal);

        var nobody = postgres.Connection.With(port: FreePort());
        Assert.Equal(ProbeStatus.Unhealthy, (await new PostgreSqlHealthProbe(new PostgreSqlProbeOptions { Connection = nobody, Timeout = TimeSpan.FromSeconds(2) }).ProbeAsync()).Status);
    }

    [Fact]
    public async Task Probe_ReportsAStreamingStandby_WithItsReplayPositionsAndLag()
    {
        var (standby, stop) = await postgres.StartStandbyAsync();
        await using (stop)
        {
            await postgres.ExecuteAsync("postgres", "CREATE TABLE IF NOT EXISTS probe_standby (x int); INSERT INTO probe_standby VALUES (1);");
            var result = await new PostgreSqlHealthProbe(new PostgreSqlProbeOptions { Connection = standby }).ProbeAsync();

            Assert.Equal(ProbeStatus.Healthy, result.Status);
            Assert.Equal("standby", result.Data["role"]);
            Assert.Matches("^[0-9A-F]+/[0-9A-F]+$", (string)result.Data["replay_lsn"]);
            Assert.True((long)result.Data["replay_lag_bytes"] >= 0);
            Assert.True((double)result.Data["replay_lag_seconds"] >= 0);
            Assert.Throws<ArgumentException>(() => new PostgreSqlHealthProbe(new PostgreSqlProbeOptions { Connection = standby, MaxReplayLag = TimeSpan.FromSeconds(-1) }));
        }
    }

    [Theory]
    [InlineData("000000010000000000000003", "000000010000000000000004", 0)]
    [InlineData("000000010000000000000003", "000000010000000000000009", 5)]
    [InlineData("0000000100000000000000FF", "000000010000000100000001", 1)]
    [InlineData("", "000000010000000000000009", 0)]
    public void ArchiveLag_CountsSegmentsNotYetArchived(string archived, string current, long lag) =>
        Assert.Equal(lag, PostgreSqlHealthProbe.SegmentsBetween(archived, current));

    private async Task<BackupResult> BackupAsync(string sql)
    {
        var database = PostgresFixture.NewDatabaseName("verify");
        _databases.Add(database);
        await postgres.CreateDatabaseAsync(database);
        await postgres.ExecuteAsync(database, sql);
        return await _host.Backups.RunAsync(PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = postgres.Connection, Database = database, IncludeGlobals = false }));
    }


    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
