using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// Issue 13, defect 5: the local store's default path was relative ("backups"): under archive_command the working
/// directory is the data directory, so WAL was archived inside PGDATA and lost with it. Files and folders were created
/// under the process umask, so an unencrypted backup was readable by every local user.
/// </summary>
public sealed class Regression_LocalStorageDefaultsTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-local-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Theory]
    [InlineData("backups")]
    [InlineData("./var/backups")]
    [InlineData(null)]
    public async Task ARelativeOrMissingPath_FailsAtStartUp_NamingTheSetting(string? path)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddBackupDR(o =>
        {
            o.Encryption.ActiveKeyId = "k";
            o.Encryption.Keys.Add(new() { Id = "k", Base64 = Convert.ToBase64String(new byte[32]) });
        }).AddLocalStorage(local =>
        {
            if (path is not null)
            {
                local.Path = path;
            }
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(error.Failures, f => f.Contains("BackupDR:Storage:Local:Path", StringComparison.Ordinal) && f.Contains("absolute", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EveryFileIsOwnerOnly_AndEveryFolderToo_WhateverTheUmask()
    {
        var root = Path.Combine(_work, "store", "nested");
        using var host = new TestHost(o => o.Encryption.Enabled = false, root: root, services: s => s.AddBackupDR().AddPostgreSql());
        await host.BackupBytesAsync(Payloads.Create(100_000, seed: 1, style: 1));
        var segment = Path.Combine(_work, "000000010000000000000071");
        await File.WriteAllBytesAsync(segment, new byte[8192]);
        await host.Services.GetRequiredService<WalArchive>().PushAsync(segment, new WalArchiveOptions { SystemIdentifier = "7300000000000000004" });

        var files = Directory.GetFiles(root, "*", SearchOption.AllDirectories);
        var folders = Directory.GetDirectories(root, "*", SearchOption.AllDirectories).Append(root).Append(Path.GetDirectoryName(root)!);
        Assert.NotEmpty(files);
        Assert.All(files, f => Assert.True(File.GetUnixFileMode(f) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), $"{f}: {File.GetUnixFileMode(f)}"));
        Assert.All(folders, d => Assert.True(File.GetUnixFileMode(d) == (UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute), $"{d}: {File.GetUnixFileMode(d)}"));
    }
}
