using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.Pipeline;

/// <summary>Whatever goes in comes out: every compressor, encrypted or not, any size and any write and read chunking.</summary>
public sealed class RoundTripPropertyTests
{
    // The tests run with 4 KiB segments and 64 KiB compression blocks so that every boundary is cheap to reach.
    private const int Segment = 4096;
    private const int Block = 64 * 1024;

    [Property(MaxTest = 160, Arbitrary = [typeof(Generators)])]
    public bool Restored_bytes_equal_backed_up_bytes(RoundTripCase testCase)
    {
        using var host = new TestHost(o =>
        {
            TestHost.Small(o, testCase.Algorithm, testCase.Encrypted);
            o.Compression.ZstdFrameChecksums = testCase.FrameChecksums;
        });
        var payload = Payloads.Create(testCase.Length, testCase.Seed, testCase.Style);
        var backup = Sync.Run(() => host.BackupBytesAsync(payload, testCase.WriteChunk));
        var restored = Sync.Run(() => host.RestoreBytesAsync(backup.BackupId, testCase.ReadChunk));
        return backup.Manifest.Data.PlaintextSize == payload.Length && restored.AsSpan().SequenceEqual(payload);
    }

    public sealed record RoundTripCase(int Length, int Seed, int Style, int WriteChunk, int ReadChunk, CompressionAlgorithm Algorithm, bool Encrypted, bool FrameChecksums);

    public static class Generators
    {
        public static Arbitrary<RoundTripCase> Cases()
        {
            // Sizes around every boundary: empty, one byte, segment and block multiples ±1, and several MiB.
            var boundaries = new[] { Segment, Block }
                .SelectMany(b => new[] { 1, 2, 3, 16 }.Select(k => k * b))
                .SelectMany(n => new[] { n - 1, n, n + 1 })
                .Concat([0, 1, 2, 15, 16, 17, 4095 + 16, 3 * 1024 * 1024 + 7])
                .ToArray();
            var length = Gen.OneOf(Gen.Elements(boundaries), Gen.Choose(0, 300_000));
            var chunk = Gen.OneOf(Gen.Elements(1, 7, 4096, 4097, 65536, 1 << 20), Gen.Choose(1, 200_000));
            var algorithm = Gen.Elements(Enum.GetValues<CompressionAlgorithm>());
            return (from len in length
                    from seed in Gen.Choose(0, int.MaxValue - 1)
                    from style in Gen.Choose(0, 2)
                    from write in chunk
                    from read in chunk
                    from alg in algorithm
                    from encrypted in Gen.Elements(true, false)
                    from checksums in Gen.Elements(true, false)
                    select new RoundTripCase(len, seed, style, write, read, alg, encrypted, checksums)).ToArbitrary();
        }
    }
}
