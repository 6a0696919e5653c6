using System.Security.Cryptography;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.Compression;

/// <summary>facebook/zstd golden files, read in place from ../shared/vectors/zstd-golden (see its SOURCE.md).</summary>
public sealed class ZstdGoldenTests
{
    private const string Folder = "zstd-golden";

    [VectorsFact(Folder)]
    public async Task Decoder_DecodesEveryGoldenFile()
    {
        var root = SharedVectors.Require(Folder);
        var expected = new Dictionary<string, (long Size, string? Sha256)>
        {
            ["block-128k.zst"] = (131_068, "672003418993584239ec5c79232de911699178ad820cd3ca9779abbfe7f7ba7d"),
            ["empty-block.zst"] = (0, null),
            ["rle-first-block.zst"] = (1_048_576, "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58"),
            ["zeroSeq_2B.zst"] = (13, Convert.ToHexStringLower(SHA256.HashData("Hello World!\n"u8))),
        };
        var files = Directory.GetFiles(Path.Combine(root, "golden-decompression"));
        Assert.Equal(expected.Count, files.Length);
        foreach (var file in files)
        {
            var decoded = await DecodeAsync(file);
            var (size, sha) = expected[Path.GetFileName(file)];
            Assert.Equal(size, decoded.Length);
            if (sha is not null)
            {
                Assert.Equal(sha, Convert.ToHexStringLower(SHA256.HashData(decoded)));
            }
        }
    }

    [VectorsFact(Folder)]
    public async Task Decoder_RejectsEveryGoldenErrorFile()
    {
        var files = Directory.GetFiles(Path.Combine(SharedVectors.Require(Folder), "golden-decompression-errors"));
        Assert.Equal(3, files.Length);
        foreach (var file in files)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => DecodeAsync(file));
        }
    }

    [VectorsFact(Folder)]
    public async Task Pipeline_RoundTripsEveryGoldenCompressionInput_AtLevels1And19()
    {
        foreach (var level in new[] { 1, 19 })
        {
            using var host = new TestHost(o => o.Compression.Level = level);
            foreach (var file in Directory.GetFiles(Path.Combine(SharedVectors.Require(Folder), "golden-compression")))
            {
                var input = await File.ReadAllBytesAsync(file);
                var backup = await host.BackupBytesAsync(input);
                Assert.Equal(input, await host.RestoreBytesAsync(backup.BackupId));
            }
        }
    }

    private static async Task<byte[]> DecodeAsync(string file)
    {
        var compressor = CompressorFactory.Create(CompressionAlgorithm.Zstd, null);
        await using var input = File.OpenRead(file);
        await using var decoder = compressor.CreateDecompressionStream(input);
        using var output = new MemoryStream();
        await decoder.CopyToAsync(output);
        return output.ToArray();
    }
}
