using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 13, defects 4 and 8 against the real server. An unencrypted dump whose stored object was replaced reached
/// pg_restore, which executed it before the checksum failed at the end. Applying stored globals replayed
/// pg_dumpall's <c>ALTER ROLE … PASSWORD</c> and replaced the connecting superuser's password with the source's.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class Regression_PostgreSqlRestoreSafetyTests(PostgresFixture postgres) : IAsyncLifetime
{
    private readonly List<string> _databases = [];
    private readonly List<string> _roles = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var database in _databases)
        {
            await postgres.DropDatabaseAsync(database);
        }

        foreach (var role in _roles)
        {
            await postgres.ExecuteAsync("postgres", $"DROP ROLE IF EXISTS {role}");
        }
    }

    [Fact]
    public async Task UnencryptedDumpReplacedByAnotherDump_ExecutesNothing()
    {
        // Small compression blocks: the pipeline reads little ahead of pg_restore.
        using var host = new TestHost(o => (o.Encryption.Enabled, o.Compression.BlockSize) = (false, HealthMate.Backup.Compression.CompressionOptions.MinBlockSize));
        var victim = await CreateAsync("victim_src", "CREATE TABLE patients AS SELECT i AS id, md5(i::text) || md5((i + 1)::text) AS name FROM generate_series(1, 400000) i;");
        // Both several MiB, the impostor smaller: pg_restore would read and run the impostor's CREATE TABLE long before
        // the end of the stored object, where its checksum is known to be wrong.
        var attacker = await CreateAsync("attacker_src", "CREATE TABLE pwned AS SELECT md5(i::text) || md5((i * 7)::text) AS note FROM generate_series(1, 200000) i;");
        var logical = (string database) => PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = postgres.Connection, Database = database, IncludeGlobals = false });
        var good = await host.Backups.RunAsync(logical(victim));
        var evil = await host.Backups.RunAsync(logical(attacker));
        File.Copy(host.PathOf(evil.Manifest.Data.Key), host.PathOf(good.Manifest.Data.Key), overwrite: true);

        // An existing, empty database (a restore never drops what it did not create), restored statement by statement.
        var target = await CreateAsync("victim_dst", null);
        var error = await Assert.ThrowsAnyAsync<BackupException>(() => host.Restores.RestoreAsync(good.BackupId,
            PostgreSqlBackups.ToDatabase(new LogicalRestoreOptions { Connection = postgres.Connection, Database = target, SingleTransaction = false })).AsTask());

        Assert.IsAssignableFrom<BackupIntegrityException>(error is BackupStageException { InnerException: { } inner } ? inner : error);
        Assert.Equal(0L, await postgres.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname IN ('pwned', 'patients')"));
    }

    [Fact]
    public async Task Globals_NeverChangeTheConnectingRolesPassword_NorAnExistingRolesUnlessAsked()
    {
        using var host = new TestHost(services: s => s.AddBackupDR().AddPostgreSql());
        var existing = NewRole("hm_keep");
        var recreated = NewRole("hm_new");
        await postgres.ExecuteAsync("postgres", $"CREATE ROLE {existing} LOGIN PASSWORD 'source-password-1'; CREATE ROLE {recreated} LOGIN PASSWORD 'source-password-2'");
        var source = await CreateAsync("globals_pw_src", "CREATE TABLE t (x int);");
        var backup = await host.Backups.RunAsync(PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = postgres.Connection, Database = source }));

        // The target cluster (the same server here) has moved on: the superuser's password was set again (same
        // password, new salt, so its stored hash differs from the backup's), an existing role has a new password, and
        // one role is gone and must come back with its password.
        await postgres.ExecuteAsync("postgres", $"ALTER ROLE {postgres.Connection.Username} PASSWORD '{postgres.Connection.Password}'");
        var superuserHash = await PasswordHashAsync(postgres.Connection.Username!);
        await postgres.ExecuteAsync("postgres", $"ALTER ROLE {existing} PASSWORD 'target-password-1'; DROP ROLE {recreated}");
        var existingHash = await PasswordHashAsync(existing);

        var result = await host.Services.GetRequiredService<PostgreSqlGlobals>().RestoreAsync(backup.BackupId, postgres.Connection);

        Assert.Equal(superuserHash, await PasswordHashAsync(postgres.Connection.Username!));
        Assert.Equal(existingHash, await PasswordHashAsync(existing));
        Assert.NotNull(await PasswordHashAsync(recreated));
        Assert.Contains(postgres.Connection.Username!, result.SkippedPasswords);
        Assert.Contains(existing, result.SkippedPasswords);
        Assert.DoesNotContain(recreated, result.SkippedPasswords);

        // The same connection still logs in, and asked for it, existing roles get the backup's passwords.
        await host.Services.GetRequiredService<PostgreSqlGlobals>().RestoreAsync(backup.BackupId, postgres.Connection, new GlobalsRestoreOptions { OverwriteExistingPasswords = true });
        Assert.NotEqual(existingHash, await PasswordHashAsync(existing));
        Assert.Equal(superuserHash, await PasswordHashAsync(postgres.Connection.Username!));
    }

    [Fact]
    public async Task Globals_LeaveTheConnectingRoleAsItIs_NotOnlyItsPassword()
    {
        // Found in review: only the PASSWORD clause was dropped; the rest of the connecting role's line (NOLOGIN,
        // CONNECTION LIMIT, VALID UNTIL from the source) could still lock the restore out.
        using var host = new TestHost(services: s => s.AddBackupDR().AddPostgreSql());
        var restorer = NewRole("hm_restorer");
        await postgres.ExecuteAsync("postgres", $"CREATE ROLE {restorer} SUPERUSER LOGIN PASSWORD 'restorer-pw' CONNECTION LIMIT 3");
        var source = await CreateAsync("globals_self_src", "CREATE TABLE t (x int);");
        var backup = await host.Backups.RunAsync(PostgreSqlBackups.Logical(new LogicalBackupOptions { Connection = postgres.Connection, Database = source }));
        await postgres.ExecuteAsync("postgres", $"ALTER ROLE {restorer} CONNECTION LIMIT 7");
        var asRestorer = new PostgreSqlConnectionOptions { Host = postgres.Connection.Host, Port = postgres.Connection.Port, Username = restorer, Password = "restorer-pw", SslMode = "disable", ToolsDirectory = postgres.BinDirectory };

        var result = await host.Services.GetRequiredService<PostgreSqlGlobals>().RestoreAsync(backup.BackupId, asRestorer);

        Assert.Equal(7, await postgres.ScalarAsync<int>("postgres", $"SELECT rolconnlimit FROM pg_roles WHERE rolname = '{restorer}'"));
        Assert.Contains(restorer, result.UnchangedRoles);
    }

    private string NewRole(string prefix)
    {
        var role = $"{prefix}_{Guid.NewGuid():N}"[..20];
        _roles.Add(role);
        return role;
    }

    private Task<string?> PasswordHashAsync(string role) =>
        postgres.ScalarAsync<string?>("postgres", $"SELECT rolpassword FROM pg_authid WHERE rolname = '{role}'");

    private async Task<string> CreateAsync(string prefix, string? sql)
    {
        var name = PostgresFixture.NewDatabaseName(prefix);
        _databases.Add(name);
        await postgres.CreateDatabaseAsync(name);
        if (sql is not null)
        {
            await postgres.ExecuteAsync(name, sql);
        }

        return name;
    }
}
