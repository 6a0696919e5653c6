using System.Text;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.Interop;

/// <summary>What we write, stock tools read: Debian's zstd, gzip and sha256sum.</summary>
public sealed class StockToolInteropTests
{
    [Theory]
    [InlineData(CompressionAlgorithm.Zstd, "zstd")]
    [InlineData(CompressionAlgorithm.Gzip, "gzip")]
    public async Task UnencryptedObject_IsDecodedByTheStockTool(CompressionAlgorithm algorithm, string tool)
    {
        using var host = new TestHost(o =>
        {
            o.Encryption.Enabled = false;
            o.Compression.Algorithm = algorithm;
            o.Compression.BlockSize = 64 * 1024;
        });
        var payload = Payloads.Create(3 * 1024 * 1024 + 12345, 11, 1);
        var backup = await host.BackupBytesAsync(payload);

        var decoded = await StockTool.RunAsync(tool, "-d", "-c", host.PathOf(backup.Manifest.Data.Key));

        Assert.True(decoded.AsSpan().SequenceEqual(payload), $"{tool} -d output differs from the backed-up bytes");
        Assert.True(backup.Manifest.Data.StoredSize < payload.Length / 2, "the text-like payload should compress");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Sha256sumOfTheStoredObject_EqualsTheManifestsStoredHash(bool encrypted)
    {
        using var host = new TestHost(o => o.Encryption.Enabled = encrypted);
        var backup = await host.BackupBytesAsync(Payloads.Create(2_000_000, 12, 2));

        var output = Encoding.ASCII.GetString(await StockTool.RunAsync("sha256sum", host.PathOf(backup.Manifest.Data.Key)));

        Assert.Equal(backup.Manifest.Data.StoredSha256, output.Split(' ')[0]);
    }
}
