using HealthMate.Backup.Tests.Support;
using HealthMate.Backup.Verification;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.Catalog;

/// <summary>Verification records are authenticated and bound to their backup: an edited or moved record is refused.</summary>
public sealed class VerificationRecordTests : IDisposable
{
    private readonly TestHost _host = new();

    public void Dispose() => _host.Dispose();

    private IVerificationRecords Records => _host.Services.GetRequiredService<IVerificationRecords>();

    [Fact]
    public async Task Records_RoundTrip_InOrder_AndTheCatalogStillListsOnlyBackups()
    {
        var backup = await _host.BackupBytesAsync([1, 2, 3]);
        var started = DateTimeOffset.UtcNow;
        await Records.AddAsync(backup.Manifest, "checksum", started, null, new Dictionary<string, string> { ["bytes"] = "3" });
        await Records.AddAsync(backup.Manifest, "test-restore", started, new InvalidOperationException("it did not restore"));

        var records = await Records.ListAsync(backup.Manifest.Kind, backup.BackupId).ToListAsync();

        Assert.Equal(["checksum", "test-restore"], records.Select(r => r.Method));
        Assert.True(records[0].Succeeded);
        Assert.Equal("3", records[0].Details["bytes"]);
        Assert.Equal("it did not restore", records[1].Failure);
        Assert.Equal(backup.BackupId, Assert.Single(await _host.Catalog.ListAsync().ToListAsync()).BackupId);
        await Assert.ThrowsAsync<ArgumentException>(() => Records.AddAsync(backup.Manifest, "guess", started, null));
    }

    [Fact]
    public async Task EditedOrMovedRecord_IsRefused()
    {
        var first = await _host.BackupBytesAsync([1]);
        var second = await _host.BackupBytesAsync([2]);
        var record = await Records.AddAsync(first.Manifest, "full", DateTimeOffset.UtcNow, new IOException("bad"));
        var path = Directory.GetFiles(_host.Root, "*.json", SearchOption.AllDirectories).Single(f => f.Contains("verifications", StringComparison.Ordinal));

        // Flipping the outcome is caught by the HMAC.
        var text = await File.ReadAllTextAsync(path);
        await File.WriteAllTextAsync(path, text.Replace("\"succeeded\":false", "\"succeeded\":true", StringComparison.Ordinal));
        await Assert.ThrowsAsync<ManifestAuthenticationException>(() => Records.ListAsync(first.Manifest.Kind, first.BackupId).ToListAsync().AsTask());

        // An authentic record copied under another backup is caught by its binding.
        await File.WriteAllTextAsync(path, text);
        var moved = Path.Combine(_host.Root, "backups", second.Manifest.Kind, second.BackupId, "verifications", record.RecordId + ".json");
        Directory.CreateDirectory(Path.GetDirectoryName(moved)!);
        File.Copy(path, moved);
        await Assert.ThrowsAsync<ManifestAuthenticationException>(() => Records.ListAsync(second.Manifest.Kind, second.BackupId).ToListAsync().AsTask());
    }
}
