using HealthMate.Backup.Compression;

namespace HealthMate.Backup.Benchmarks;

/// <summary>Diagnostics: bytes allocated per MiB by single stage operations (dotnet run -- alloc).</summary>
internal static class AllocationProbe
{
    internal static int Run()
    {
        var block = StageData.Load(StageData.BlockSize);
        var zstd = (ZstdCompressor)CompressorFactory.Create(CompressionAlgorithm.Zstd, 1);
        var frame = new byte[zstd.GetMaxCompressedLength(block.Length)];
        var length = zstd.CompressBlock(block, frame);
        var output = new byte[block.Length];
        Measure("zstd decompress frame", () => zstd.DecompressFrame(frame.AsSpan(0, length), output));
        Measure("zstd compress block", () => zstd.CompressBlock(block, frame));
        return 0;
    }

    private static void Measure(string name, Action action)
    {
        for (var i = 0; i < 5; i++)
        {
            action();
        }

        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < 50; i++)
        {
            action();
        }

        Console.WriteLine($"{name}: {(GC.GetTotalAllocatedBytes(precise: true) - before) / 50.0:F0} bytes allocated per call");
    }
}
