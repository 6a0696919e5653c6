using System.Text;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace HealthMate.Backup.Tests.Catalog;

/// <summary>A manifest commits a backup, so it must be authentic, in its place, and readable with the right key only.</summary>
public sealed class ManifestAuthenticationTests : IDisposable
{
    private readonly FakeLogCollector _logs = new();
    private readonly TestHost _host;

    public ManifestAuthenticationTests() =>
        _host = new TestHost(services: s => s.AddSingleton<ILoggerFactory>(new FakeLoggerProviderFactory(_logs)));

    public void Dispose() => _host.Dispose();

    [Fact]
    public async Task FindByKind_ReadsOneManifest_AndStillAuthenticatesIt()
    {
        var backup = await _host.BackupBytesAsync([1, 2, 3]);

        Assert.Equal(backup.BackupId, (await _host.Catalog.FindAsync("stream", backup.BackupId))!.BackupId);
        Assert.Null(await _host.Catalog.FindAsync("other", backup.BackupId));
        Assert.Null(await _host.Catalog.FindAsync("stream", "20200101T000000000Z-00000000"));

        var path = _host.PathOf(TestHost.ManifestKey(backup));
        await File.WriteAllTextAsync(path, (await File.ReadAllTextAsync(path)).Replace(backup.Manifest.Data.StoredSha256, new string('1', 64), StringComparison.Ordinal));
        await Assert.ThrowsAsync<ManifestAuthenticationException>(() => _host.Catalog.FindAsync("stream", backup.BackupId).AsTask());
    }

    [Fact]
    public async Task EditedManifest_WithoutTheKey_IsRejected()
    {
        var backup = await _host.BackupBytesAsync([1, 2, 3]);
        var path = _host.PathOf(TestHost.ManifestKey(backup));
        var text = await File.ReadAllTextAsync(path);
        // A forger points the manifest at other data: changes the recorded plaintext hash.
        await File.WriteAllTextAsync(path, text.Replace(backup.Manifest.Data.PlaintextSha256, new string('0', 64), StringComparison.Ordinal));

        var error = await Assert.ThrowsAsync<ManifestAuthenticationException>(() => _host.Catalog.GetAsync(backup.BackupId).AsTask());
        Assert.Contains("HMAC", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManifestMovedToAnotherBackup_IsRejected()
    {
        var first = await _host.BackupBytesAsync([1]);
        var second = await _host.BackupBytesAsync([2]);
        File.Copy(_host.PathOf(TestHost.ManifestKey(first)), _host.PathOf(TestHost.ManifestKey(second)), overwrite: true);

        var error = await Assert.ThrowsAsync<ManifestAuthenticationException>(() => _host.Catalog.GetAsync(second.BackupId).AsTask());
        Assert.Contains(first.BackupId, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AlteredKeyIdField_IsReportedAsTampering_NotAsAMissingKey()
    {
        var backup = await _host.BackupBytesAsync([1]);
        var path = _host.PathOf(TestHost.ManifestKey(backup));
        var text = await File.ReadAllTextAsync(path);
        var envelopeField = text.IndexOf("\"keyId\":\"test-key\"", StringComparison.Ordinal);
        Assert.True(envelopeField < text.IndexOf("\"manifest\":", StringComparison.Ordinal), "the envelope's key id comes before the body");
        await File.WriteAllTextAsync(path, text[..envelopeField] + "\"keyId\":\"test-kez\"" + text[(envelopeField + "\"keyId\":\"test-key\"".Length)..]);

        var error = await Assert.ThrowsAsync<ManifestAuthenticationException>(() => _host.Catalog.GetAsync(backup.BackupId).AsTask());
        Assert.Contains("key id", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_SkipsAndLogsARejectedManifest_AndListsTheRestOldestFirst()
    {
        var a = await _host.BackupBytesAsync([1]);
        var b = await _host.BackupBytesAsync([2], kind: "other");
        var c = await _host.BackupBytesAsync([3]);
        var path = _host.PathOf(TestHost.ManifestKey(b));
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[^20] ^= 1;
        await File.WriteAllBytesAsync(path, bytes);

        var listed = await _host.Catalog.ListAsync().Select(m => m.BackupId).ToListAsync();

        Assert.Equal([a.BackupId, c.BackupId], listed);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == 1300 && r.Message.Contains(b.BackupId, StringComparison.Ordinal));
        Assert.Equal([a.BackupId, c.BackupId], await _host.Catalog.ListAsync("stream").Select(m => m.BackupId).ToListAsync());
    }

    [Fact]
    public async Task Manifest_RecordsWhatARecoveryNeeds_AndNoSecret()
    {
        var payload = Payloads.Create(100_000, 3, 1);
        var backup = await _host.BackupBytesAsync(payload);
        var text = await File.ReadAllTextAsync(_host.PathOf(TestHost.ManifestKey(backup)));
        var manifest = backup.Manifest;

        Assert.Equal(2, manifest.FormatVersion);
        Assert.Equal("zstd", manifest.Pipeline.Compression);
        Assert.Equal("AES-256-GCM-HKDF-SHA256", manifest.Pipeline.Encryption);
        Assert.Equal("test-key", manifest.Pipeline.KeyId);
        Assert.Equal(64, manifest.Pipeline.Salt!.Length);
        Assert.Equal(payload.Length, manifest.Data.PlaintextSize);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(payload)), manifest.Data.PlaintextSha256);
        Assert.DoesNotContain(Convert.ToBase64String(_host.Key), text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexString(_host.Key), text, StringComparison.OrdinalIgnoreCase);
        Assert.Equivalent(manifest, await _host.Catalog.GetAsync(backup.BackupId), strict: true);
    }

    [Fact]
    public async Task KeyRotation_NewBackupsUseTheActiveKey_OldOnesRestoreWithTheirs()
    {
        var oldKey = _host.Key;
        var old = await _host.BackupBytesAsync(Encoding.ASCII.GetBytes("written with k1"));
        var newKey = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        using var rotated = new TestHost(root: _host.Root + "-rotated", configure: o =>
        {
            o.Encryption.Keys.Add(new BackupKeyOptions { Id = "k2", Base64 = Convert.ToBase64String(newKey) });
            o.Encryption.ActiveKeyId = "k2";
        }, key: oldKey);
        TestHost.CopyTree(_host.Root, rotated.Root);

        var fresh = await rotated.BackupBytesAsync(Encoding.ASCII.GetBytes("written with k2"));

        Assert.Equal("k2", fresh.Manifest.Pipeline.KeyId);
        Assert.Equal("written with k1", Encoding.ASCII.GetString(await rotated.RestoreBytesAsync(old.BackupId)));
        Assert.Equal("written with k2", Encoding.ASCII.GetString(await rotated.RestoreBytesAsync(fresh.BackupId)));

        using var withoutOldKey = new TestHost(root: _host.Root + "-k2only", configure: o =>
        {
            o.Encryption.Keys.Clear();
            o.Encryption.Keys.Add(new BackupKeyOptions { Id = "k2", Base64 = Convert.ToBase64String(newKey) });
            o.Encryption.ActiveKeyId = "k2";
        });
        TestHost.CopyTree(rotated.Root, withoutOldKey.Root);
        var missing = await Assert.ThrowsAsync<BackupKeyNotFoundException>(() => withoutOldKey.RestoreBytesAsync(old.BackupId));
        Assert.Equal("test-key", missing.KeyId);
        Assert.Equal([fresh.BackupId], await withoutOldKey.Catalog.ListAsync().Select(m => m.BackupId).ToListAsync());
    }
}
