using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace HealthMate.Backup.Tests.PostgreSql;

/// <summary>Logical backups against a real PostgreSQL 15: what is restored equals what was backed up, table by table.</summary>
[Collection(PostgresCollection.Name)]
public sealed class LogicalBackupTests(PostgresFixture postgres) : IDisposable
{
    private const string ManyTypes = """
        CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
        CREATE TABLE kinds (id serial PRIMARY KEY, m mood, p positive_int, arr int[], tags text[], doc jsonb, raw bytea,
                            amount numeric(30, 10), at timestamptz, note text);
        INSERT INTO kinds (m, p, arr, tags, doc, raw, amount, at, note)
        SELECT (ARRAY['sad', 'ok', 'happy'])[1 + i % 3]::mood, i + 1, ARRAY[i, i * 2, NULL], ARRAY['a' || i, 'ünïcødé', '日本語', ''],
               jsonb_build_object('i', i, 'nested', jsonb_build_object('x', i * 1.5, 'list', jsonb_build_array(i, 'ü'))),
               decode(md5(i::text), 'hex') || '\x00ff'::bytea, i * 12345.6789012345, '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 minute 1.5 seconds',
               repeat('Zeile ' || i || ' — ', i % 7)
        FROM generate_series(1, 2000) i;
        CREATE TABLE events (id bigint, at date, payload text) PARTITION BY RANGE (at);
        CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        INSERT INTO events SELECT i, '2025-06-01'::date + (i % 400), 'event ' || i FROM generate_series(1, 3000) i;
        SELECT lo_from_bytea(0, convert_to(repeat('large object ' || i || ' ', 5000), 'UTF8')) FROM generate_series(1, 5) i;
        CREATE VIEW happy_kinds AS SELECT * FROM kinds WHERE m = 'happy';
        CREATE TABLE "Mixed Case ""Quoted"" Table" (id int);
        INSERT INTO "Mixed Case ""Quoted"" Table" VALUES (1), (2);
        """;

    private readonly TestHost _host = new();
    private readonly List<string> _databases = [];

    public void Dispose()
    {
        foreach (var database in _databases)
        {
            postgres.DropDatabaseAsync(database).GetAwaiter().GetResult();
        }

        _host.Dispose();
    }

    [Fact]
    public async Task ManyTypes_RoundTrip_EveryTableAndLargeObjectEqual()
    {
        var source = await CreateAsync("types_src", ManyTypes);
        var before = await postgres.SnapshotAsync(source);
        Assert.Equal("2000", before["public.kinds"].Split(':')[0]);
        Assert.Equal("5", before["(large objects)"].Split(':')[0]);

        var backup = await _host.Backups.RunAsync(PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = postgres.Connection, Database = source }));

        Assert.Equal("custom", backup.Manifest.Properties["postgres.format"]);
        Assert.StartsWith("15", backup.Manifest.Properties["postgres.server-version"], StringComparison.Ordinal);
        Assert.True(backup.Manifest.Objects!.ContainsKey("globals"));
        var target = Track(PostgresFixture.NewDatabaseName("types_dst"));
        await _host.Restores.RestoreAsync(backup.BackupId, PostgreSqlBackups.ToDatabase(new LogicalRestoreOptions { Connection = postgres.Connection, Database = target }));

        Assert.Equal(before, await postgres.SnapshotAsync(target));
        Assert.Equal(667L, await postgres.ScalarAsync<long>(target, "SELECT count(*) FROM happy_kinds"));
    }

    [Fact]
    public async Task Globals_RecreateARoleDroppedAfterTheBackup_AndReportWhatAlreadyExisted()
    {
        using var host = new TestHost(services: s => s.AddBackupDR().AddPostgreSql());
        var role = $"hm_role_{Guid.NewGuid():N}"[..20];
        var source = await CreateAsync("globals_src", "CREATE TABLE t (x int);");
        await postgres.ExecuteAsync("postgres", $"CREATE ROLE {role} NOLOGIN");
        try
        {
            var backup = await host.Backups.RunAsync(PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = postgres.Connection, Database = source }));
            await postgres.ExecuteAsync("postgres", $"DROP ROLE {role}");

            var result = await host.Services.GetRequiredService<PostgreSqlGlobals>().RestoreAsync(backup.BackupId, postgres.Connection);

            Assert.True(await postgres.ScalarAsync<bool>("postgres", $"SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}')"));
            Assert.Contains(result.Errors, e => e.Contains("role \"postgres\" already exists", StringComparison.Ordinal));
            var withoutGlobals = await host.Backups.RunAsync(PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = postgres.Connection, Database = source, IncludeGlobals = false }));
            await Assert.ThrowsAsync<InvalidOperationException>(() => host.Services.GetRequiredService<PostgreSqlGlobals>().RestoreAsync(withoutGlobals.BackupId, postgres.Connection));
        }
        finally
        {
            await postgres.ExecuteAsync("postgres", $"DROP ROLE IF EXISTS {role}");
        }
    }

    [Fact]
    public async Task Pgbench_RoundTrip()
    {
        var source = await CreateAsync("bench_src", null);
        await postgres.RunToolAsync("pgbench", "-i", "-q", "-s", "2", "-h", postgres.Connection.Host, "-p", postgres.Connection.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", postgres.Connection.Username, source);
        var before = await postgres.SnapshotAsync(source);
        Assert.Equal("200000", before["public.pgbench_accounts"].Split(':')[0]);

        var backup = await _host.Backups.RunAsync(PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = postgres.Connection, Database = source, IncludeGlobals = false }));
        var target = Track(PostgresFixture.NewDatabaseName("bench_dst"));
        await _host.Restores.RestoreAsync(backup.BackupId, PostgreSqlBackups.ToDatabase(new LogicalRestoreOptions { Connection = postgres.Connection, Database = target }));

        Assert.Equal(before, await postgres.SnapshotAsync(target));
    }

    [Fact]
    public async Task ExcludedTables_AndTableData_AreLeftOut()
    {
        var source = await CreateAsync("filter_src", "CREATE TABLE keep (x int); INSERT INTO keep VALUES (1); CREATE TABLE cache (x int); INSERT INTO cache VALUES (2); CREATE TABLE audit (x int); INSERT INTO audit VALUES (3);");
        var options = new LogicalBackupOptions { Connection = postgres.Connection, Database = source };
        options.ExcludeTables.Add("cache");
        options.ExcludeTableData.Add("audit");
        var backup = await _host.Backups.RunAsync(PostgreSqlBackups.Logical(options));

        var target = Track(PostgresFixture.NewDatabaseName("filter_dst"));
        await _host.Restores.RestoreAsync(backup.BackupId, PostgreSqlBackups.ToDatabase(new LogicalRestoreOptions { Connection = postgres.Connection, Database = target }));

        var restored = await postgres.SnapshotAsync(target);
        Assert.Equal(["public.audit", "public.keep"], restored.Keys.Where(k => k.StartsWith("public.", StringComparison.Ordinal)));
        Assert.StartsWith("0:", restored["public.audit"], StringComparison.Ordinal);
        Assert.StartsWith("1:", restored["public.keep"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongDatabase_FailsWithPgDumpsMessage_AndStoresNothing()
    {
        var error = await Assert.ThrowsAsync<BackupStageException>(() => _host.Backups.RunAsync(
            PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = postgres.Connection, Database = "no_such_database" })).AsTask());

        Assert.Equal(PipelineStage.Source, error.Stage);
        var tool = Assert.IsType<PostgreSqlToolException>(error.InnerException);
        Assert.Equal("pg_dump", tool.Tool);
        Assert.Contains("database \"no_such_database\" does not exist", tool.Message, StringComparison.Ordinal);
        Assert.Empty(_host.AllFiles());
    }

    [Fact]
    public async Task WrongPassword_FailsClearly_NeverShowingThePassword()
    {
        const string Wrong = "not-the-password-7f3a9c";
        var logs = new FakeLogCollector();
        using var host = new TestHost(services: s => s.AddSingleton<ILoggerFactory>(new FakeLoggerProviderFactory(logs)));
        var connection = postgres.Connection.With(password: Wrong);

        var error = await Assert.ThrowsAsync<BackupStageException>(() => host.Backups.RunAsync(
            PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = connection, Database = "postgres" })).AsTask());

        Assert.Contains("password authentication failed", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Wrong, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(postgres.Connection.Password!, error.ToString(), StringComparison.Ordinal);
        var logged = string.Join("\n", logs.GetSnapshot().Select(r => r.Message + " " + r.Exception));
        Assert.NotEmpty(logged);
        Assert.DoesNotContain(Wrong, logged, StringComparison.Ordinal);
        Assert.DoesNotContain(Wrong, connection.ToString(), StringComparison.Ordinal);
        Assert.Empty(host.AllFiles());
    }

    [Fact]
    public async Task NonEmptyDatabase_IsRefused_UnlessClean()
    {
        var source = await CreateAsync("clean_src", "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2);");
        var backup = await _host.Backups.RunAsync(PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = postgres.Connection, Database = source, IncludeGlobals = false }));
        var target = await CreateAsync("clean_dst", "CREATE TABLE t (x int); INSERT INTO t VALUES (42); CREATE TABLE other (y int);");

        var error = await Assert.ThrowsAsync<BackupStageException>(() => _host.Restores.RestoreAsync(backup.BackupId, PostgreSqlBackups.ToDatabase(new LogicalRestoreOptions { Connection = postgres.Connection, Database = target })).AsTask());
        Assert.Contains("already holds", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(42, await postgres.ScalarAsync<int>(target, "SELECT x FROM t"));

        await _host.Restores.RestoreAsync(backup.BackupId, PostgreSqlBackups.ToDatabase(new LogicalRestoreOptions { Connection = postgres.Connection, Database = target, Clean = true }));
        Assert.Equal(3L, await postgres.ScalarAsync<long>(target, "SELECT sum(x) FROM t"));
        Assert.Equal(0L, await postgres.ScalarAsync<long>(target, "SELECT count(*) FROM other"));
    }

    [Fact]
    public async Task CorruptedBackup_FailsTheRestore_AndLeavesNoDatabaseBehind()
    {
        var source = await CreateAsync("corrupt_src", "CREATE TABLE t AS SELECT i, md5(i::text) AS h FROM generate_series(1, 200000) i;");
        var backup = await _host.Backups.RunAsync(PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = postgres.Connection, Database = source, IncludeGlobals = false }));
        var path = _host.PathOf(backup.Manifest.Data.Key);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[bytes.Length / 2] ^= 0x10;
        await File.WriteAllBytesAsync(path, bytes);

        var target = Track(PostgresFixture.NewDatabaseName("corrupt_dst"));
        await Assert.ThrowsAnyAsync<BackupException>(() => _host.Restores.RestoreAsync(backup.BackupId, PostgreSqlBackups.ToDatabase(new LogicalRestoreOptions { Connection = postgres.Connection, Database = target })).AsTask());

        Assert.False(await postgres.DatabaseExistsAsync(target));
    }

    [Fact]
    public async Task RestoringAFileBackupIntoADatabase_IsRefused()
    {
        var backup = await _host.BackupBytesAsync([1, 2, 3]);
        var target = Track(PostgresFixture.NewDatabaseName("wrong_kind"));

        var error = await Assert.ThrowsAsync<BackupStageException>(() => _host.Restores.RestoreAsync(backup.BackupId, PostgreSqlBackups.ToDatabase(new LogicalRestoreOptions { Connection = postgres.Connection, Database = target })).AsTask());

        Assert.Contains("not a logical PostgreSQL backup", error.ToString(), StringComparison.Ordinal);
        Assert.False(await postgres.DatabaseExistsAsync(target));
    }

    private async Task<string> CreateAsync(string prefix, string? sql)
    {
        var name = Track(PostgresFixture.NewDatabaseName(prefix));
        await postgres.CreateDatabaseAsync(name);
        if (sql is not null)
        {
            await postgres.ExecuteAsync(name, sql);
        }

        return name;
    }

    private string Track(string database)
    {
        _databases.Add(database);
        return database;
    }
}

/// <summary>Options and tool-version rules that need no server.</summary>
public sealed class PostgreSqlOptionsTests
{
    [Fact]
    public void InvalidOptions_ListEveryProblem()
    {
        var options = new LogicalBackupOptions { Connection = new PostgreSqlConnectionOptions { Host = "", Port = 0, SslMode = "sometimes" } };

        var error = Assert.Throws<ArgumentException>(() => PostgreSqlBackups.Logical(options));

        Assert.Contains("Host", error.Message, StringComparison.Ordinal);
        Assert.Contains("Port 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("SslMode", error.Message, StringComparison.Ordinal);
        Assert.Contains("database to back up", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => PostgreSqlBackups.ToDatabase(new LogicalRestoreOptions()));
    }

    [Theory]
    [InlineData("pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n", 15)]
    [InlineData("pg_restore (PostgreSQL) 17.2\n", 17)]
    [InlineData("pg_dump (PostgreSQL) 9.6.24\n", 9)]
    public void ToolVersion_IsRead(string output, int major) => Assert.Equal(major, PgTool.ParseMajorVersion(output));

    [Fact]
    public void OlderToolThanServer_IsRefusedWithTheFix()
    {
        var error = Assert.Throws<InvalidOperationException>(() => ServerVersion.EnsureToolCanServe("pg_dump", 14, new ServerVersion(150014, "15.14")));
        Assert.Contains("version 15 or newer", error.Message, StringComparison.Ordinal);
        ServerVersion.EnsureToolCanServe("pg_dump", 16, new ServerVersion(150014, "15.14"));
    }

    [Fact]
    public void DatabaseNames_CannotSmuggleConnectionOptions()
    {
        Assert.Equal("dbname='a b\\' host=evil'", PgDumpSource.Quote("a b' host=evil"));
    }
}
