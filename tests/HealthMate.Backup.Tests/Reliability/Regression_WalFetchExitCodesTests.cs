using System.Security.Cryptography;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Tests.PostgreSql;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 13, defect 3: PostgreSQL treats any exit status of restore_command from 1 to 125 as "not in the archive" and
/// ends recovery there (it aborts only above 125 or on a signal). wal-fetch exited 3 on a wrong key, a damaged segment
/// or a storage error, so a restore to "latest" stopped at the first such segment, promoted, and reported success.
/// Now only "not archived" exits 1; everything else exits 255 and recovery stops with FATAL.
/// </summary>
public sealed class Regression_WalFetchExitCodesTests : IDisposable
{
    private const string SystemId = "7300000000000000003";
    private const string Name = "000000010000000000000061";
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-fetch-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task OnlyASegmentThatIsNotArchived_ExitsOne_EveryOtherFailureExitsAbove125()
    {
        using var host = new TestHost(services: s => s.AddBackupDR().AddPostgreSql());
        var segment = Path.Combine(_work, Name);
        await File.WriteAllBytesAsync(segment, Payloads.Create(256 * 1024, seed: 61, style: 0));
        await host.Services.GetRequiredService<WalArchive>().PushAsync(segment, new WalArchiveOptions { SystemIdentifier = SystemId });
        var config = WalArchiveTests.WriteCliConfig(host.Root, host.Key, _work);
        var destination = Path.Combine(_work, "RECOVERYXLOG");

        Task<(int ExitCode, string Output, string Error)> FetchAsync(string name, string configPath) =>
            WalArchiveTests.RunCliAsync("wal-fetch", name, destination, "--config", configPath, "--system-id", SystemId);

        Assert.Equal(0, (await FetchAsync(Name, config)).ExitCode);
        Assert.Equal(1, (await FetchAsync("000000010000000000000062", config)).ExitCode);

        // The same key id with another key (a key file swapped on the restore host).
        var wrongKeyFolder = Directory.CreateDirectory(Path.Combine(_work, "wrong-key")).FullName;
        var wrongKey = await FetchAsync(Name, WalArchiveTests.WriteCliConfig(host.Root, RandomNumberGenerator.GetBytes(32), wrongKeyFolder));
        Assert.True(wrongKey.ExitCode > 125, $"wrong key: exit {wrongKey.ExitCode}: {wrongKey.Error}");
        Assert.Contains(Name, wrongKey.Error, StringComparison.Ordinal);

        // A damaged segment.
        var data = Directory.GetFiles(host.Root, Name + ".*", SearchOption.AllDirectories).Single(f => !f.EndsWith(".manifest.json", StringComparison.Ordinal));
        var bytes = await File.ReadAllBytesAsync(data);
        bytes[^100] ^= 0x01;
        await File.WriteAllBytesAsync(data, bytes);
        var damaged = await FetchAsync(Name, config);
        Assert.True(damaged.ExitCode > 125, $"damaged: exit {damaged.ExitCode}: {damaged.Error}");

        // A manifest whose data is gone, a configuration that cannot be read, a malformed command line.
        File.Delete(data);
        Assert.True((await FetchAsync(Name, config)).ExitCode > 125);
        Assert.True((await FetchAsync(Name, Path.Combine(_work, "missing.json"))).ExitCode > 125);
        Assert.True((await WalArchiveTests.RunCliAsync("wal-fetch", Name, "--config", config)).ExitCode > 125);
        Assert.False(File.Exists(destination + ".partial"));
    }

    [Fact]
    public async Task AnArchiveThatLooksEmpty_IsNotTakenForTheEndOfRecovery()
    {
        // Found in review: an unmounted volume (an empty folder where the store should be) or a wrong prefix answered
        // "not archived" for every segment, and recovery ended at once.
        var empty = Directory.CreateDirectory(Path.Combine(_work, "unmounted")).FullName;
        var config = WalArchiveTests.WriteCliConfig(empty, new byte[32], Directory.CreateDirectory(Path.Combine(_work, "cfg")).FullName);
        var run = await WalArchiveTests.RunCliAsync("wal-fetch", Name, Path.Combine(_work, "RECOVERYXLOG"), "--config", config, "--system-id", SystemId);
        Assert.True(run.ExitCode > 125, $"exit {run.ExitCode}: {run.Error}");
        Assert.Contains("holds nothing", run.Error, StringComparison.Ordinal);

        // A store with a backup and no WAL of the cluster (a backup that carries its own WAL) still ends recovery.
        using var host = new TestHost(root: empty, keepRoot: true);
        await host.BackupBytesAsync([1, 2, 3]);
        var withBackup = WalArchiveTests.WriteCliConfig(empty, host.Key, Directory.CreateDirectory(Path.Combine(_work, "cfg2")).FullName);
        Assert.Equal(1, (await WalArchiveTests.RunCliAsync("wal-fetch", Name, Path.Combine(_work, "RECOVERYXLOG"), "--config", withBackup, "--system-id", SystemId)).ExitCode);
    }
}
