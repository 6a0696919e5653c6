using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.Pipeline;

/// <summary>Damage to stored data or manifests is caught by verify and by restore, and named for what it is.</summary>
public sealed class CorruptionTests : IDisposable
{
    private const int PayloadLength = 40_000;
    private readonly Dictionary<(CompressionAlgorithm, bool), (TestHost Host, BackupResult Backup, byte[] Object, byte[] Manifest)> _fixtures = [];

    public void Dispose()
    {
        foreach (var fixture in _fixtures.Values)
        {
            fixture.Host.Dispose();
        }
    }

    [Property(MaxTest = 120)]
    public bool Any_flipped_bit_in_the_stored_object_is_caught_by_verify_and_restore(PositiveInt position, byte bit, bool encrypted, bool zstd)
    {
        var (host, backup, original, _) = Fixture(zstd ? CompressionAlgorithm.Zstd : CompressionAlgorithm.Gzip, encrypted);
        var damaged = (byte[])original.Clone();
        // Half the cases hit the first 128 bytes: the header and first segment, where the format's fields are.
        var offset = position.Get % 2 == 0 ? position.Get / 2 % Math.Min(128, damaged.Length) : position.Get % damaged.Length;
        damaged[offset] ^= (byte)(1 << (bit % 8));
        return WithObject(host, backup, damaged, () => IsCaught(host, backup.BackupId));
    }

    [Property(MaxTest = 60)]
    public bool Any_flipped_bit_in_the_manifest_is_caught_by_verify_and_restore(PositiveInt position, byte bit, bool encrypted)
    {
        var (host, backup, _, manifest) = Fixture(CompressionAlgorithm.Zstd, encrypted);
        var damaged = (byte[])manifest.Clone();
        damaged[position.Get % damaged.Length] ^= (byte)(1 << (bit % 8));
        var path = host.PathOf(TestHost.ManifestKey(backup));
        File.WriteAllBytes(path, damaged);
        try
        {
            var verify = Sync.Run(() => host.Verifier.VerifyAsync(backup.BackupId, VerificationLevel.Checksum).AsTask());
            var restore = Sync.Run(() => Record.ExceptionAsync(() => host.RestoreBytesAsync(backup.BackupId)));
            return !verify.IsValid && restore is BackupIntegrityException;
        }
        finally
        {
            File.WriteAllBytes(path, manifest);
        }
    }

    [Property(MaxTest = 60)]
    public bool Truncation_at_any_offset_is_reported_as_truncation(PositiveInt cut, bool encrypted)
    {
        var (host, backup, original, _) = Fixture(CompressionAlgorithm.Zstd, encrypted);
        var length = cut.Get % original.Length;
        return WithObject(host, backup, original[..length], () =>
        {
            var verify = Sync.Run(() => host.Verifier.VerifyAsync(backup.BackupId, VerificationLevel.Full).AsTask());
            var restore = Sync.Run(() => Record.ExceptionAsync(() => host.RestoreBytesAsync(backup.BackupId)));
            return verify.Failure is BackupTruncatedException && restore is BackupTruncatedException;
        });
    }

    [Fact]
    public async Task Swapped_segments_are_reported_as_reordering()
    {
        var (host, backup, original, _) = Fixture(CompressionAlgorithm.None, encrypted: true);
        var headerLength = EncryptedObjectHeader.FixedLength + "test-key".Length;
        var segment = 4096 + 16;
        var damaged = (byte[])original.Clone();
        Array.Copy(original, headerLength + (2 * segment), damaged, headerLength + (3 * segment), segment);
        Array.Copy(original, headerLength + (3 * segment), damaged, headerLength + (2 * segment), segment);

        var verify = await WithObjectAsync(host, backup, damaged, () => host.Verifier.VerifyAsync(backup.BackupId).AsTask());
        var restore = await WithObjectAsync(host, backup, damaged, () => Record.ExceptionAsync(() => host.RestoreBytesAsync(backup.BackupId)));

        var reordered = Assert.IsType<BackupSegmentOrderException>(verify.Failure);
        Assert.Equal(2, reordered.Position);
        Assert.Equal(3, reordered.WrittenAs);
        Assert.IsType<BackupSegmentOrderException>(restore);
    }

    [Fact]
    public async Task A_changed_segment_is_reported_as_tampering_naming_the_segment()
    {
        var (host, backup, original, _) = Fixture(CompressionAlgorithm.None, encrypted: true);
        var damaged = (byte[])original.Clone();
        var headerLength = EncryptedObjectHeader.FixedLength + "test-key".Length;
        damaged[headerLength + (4096 + 16) + 100] ^= 0x01;

        var error = await WithObjectAsync(host, backup, damaged, () => Record.ExceptionAsync(() => host.RestoreBytesAsync(backup.BackupId)));

        var tampered = Assert.IsType<BackupTamperedException>(error);
        Assert.Equal(1, tampered.SegmentIndex);
        Assert.Equal("test-key", tampered.KeyId);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_wrong_key_is_reported_as_a_wrong_key_not_as_corruption(bool encrypted)
    {
        var (host, backup, _, _) = Fixture(CompressionAlgorithm.Zstd, encrypted);
        using var other = new TestHost(o => TestHost.Small(o, CompressionAlgorithm.Zstd, encrypted), root: host.Root + "-copy");
        TestHost.CopyTree(host.Root, other.Root);

        var restore = await Record.ExceptionAsync(() => other.RestoreBytesAsync(backup.BackupId));
        var verify = await Record.ExceptionAsync(() => other.Verifier.VerifyAsync(backup.BackupId).AsTask());

        Assert.Equal("test-key", Assert.IsType<WrongKeyException>(restore).KeyId);
        Assert.IsType<WrongKeyException>(verify);
        Assert.DoesNotContain(Convert.ToBase64String(host.Key), restore!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_key_for_an_encrypted_object_is_reported_as_a_wrong_key()
    {
        using var right = new BackupKeyRing("k", [new("k", new byte[32])]);
        var wrongMaterial = new byte[32];
        wrongMaterial[0] = 1;
        using var wrong = new BackupKeyRing("k", [new("k", wrongMaterial)]);
        using var session = new AesGcmStreamingEncryptor(right, 4096).BeginEncryption([]);

        var error = Record.Exception(() => new AesGcmStreamingEncryptor(wrong, 4096).TryBeginDecryption(new(session.Header), [], out _, out _));

        Assert.Equal("k", Assert.IsType<WrongKeyException>(error).KeyId);
        await Task.CompletedTask;
    }

    private static bool IsCaught(TestHost host, string backupId)
    {
        var checksum = Sync.Run(() => host.Verifier.VerifyAsync(backupId, VerificationLevel.Checksum).AsTask());
        var full = Sync.Run(() => host.Verifier.VerifyAsync(backupId, VerificationLevel.Full).AsTask());
        var restore = Sync.Run(() => Record.ExceptionAsync(() => host.RestoreBytesAsync(backupId)));
        return !checksum.IsValid && !full.IsValid && restore is BackupIntegrityException;
    }

    private static bool WithObject(TestHost host, BackupResult backup, byte[] content, Func<bool> check)
    {
        var path = host.PathOf(backup.Manifest.Data.Key);
        var original = File.ReadAllBytes(path);
        File.WriteAllBytes(path, content);
        try
        {
            return check();
        }
        finally
        {
            File.WriteAllBytes(path, original);
        }
    }

    private static async Task<T> WithObjectAsync<T>(TestHost host, BackupResult backup, byte[] content, Func<Task<T>> check)
    {
        var path = host.PathOf(backup.Manifest.Data.Key);
        var original = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, content);
        try
        {
            return await check();
        }
        finally
        {
            await File.WriteAllBytesAsync(path, original);
        }
    }

    private (TestHost Host, BackupResult Backup, byte[] Object, byte[] Manifest) Fixture(CompressionAlgorithm algorithm, bool encrypted)
    {
        if (!_fixtures.TryGetValue((algorithm, encrypted), out var fixture))
        {
            var host = new TestHost(o => TestHost.Small(o, algorithm, encrypted));
            var backup = Sync.Run(() => host.BackupBytesAsync(Payloads.Create(PayloadLength, seed: 7, style: 2)));
            fixture = (host, backup, File.ReadAllBytes(host.PathOf(backup.Manifest.Data.Key)), File.ReadAllBytes(host.PathOf(TestHost.ManifestKey(backup))));
            _fixtures[(algorithm, encrypted)] = fixture;
        }

        return fixture;
    }
}
