using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Encryption;

namespace HealthMate.Backup.Benchmarks;

/// <summary>One 1 MiB block through each stage, single-threaded: the per-core cost of the pipeline's work items.</summary>
[MemoryDiagnoser]
[ShortRunJob]
public class StageBenchmarks
{
    private readonly byte[] _block = StageData.Load(StageData.BlockSize);
    private byte[] _output = [];
    private byte[] _zstdFrame = [];
    private int _zstdLength;
    private ICompressor _zstd = null!;
    private ICompressor _gzip = null!;
    private BackupKeyRing _ring = null!;
    private IEncryptionSession _encrypt = null!;
    private IDecryptionSession _decrypt = null!;
    private byte[] _ciphertext = [];

    [GlobalSetup]
    public void Setup()
    {
        _zstd = CompressorFactory.Create(CompressionAlgorithm.Zstd, 1);
        _gzip = CompressorFactory.Create(CompressionAlgorithm.Gzip, 1);
        _output = new byte[_gzip.GetMaxCompressedLength(StageData.BlockSize)];
        _zstdFrame = new byte[_zstd.GetMaxCompressedLength(StageData.BlockSize)];
        _zstdLength = _zstd.CompressBlock(_block, _zstdFrame);
        _ring = new BackupKeyRing("k", [new("k", RandomNumberGenerator.GetBytes(32))]);
        var encryptor = new AesGcmStreamingEncryptor(_ring, StageData.BlockSize);
        _encrypt = encryptor.BeginEncryption([]);
        _ciphertext = new byte[StageData.BlockSize + 16];
        _encrypt.EncryptSegment(0, false, _block, _ciphertext);
        encryptor.TryBeginDecryption(new(_encrypt.Header), [], out var decrypt, out _);
        _decrypt = decrypt!;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _encrypt.Dispose();
        _decrypt.Dispose();
        _ring.Dispose();
    }

    [Benchmark]
    public int ZstdLevel1Compress() => _zstd.CompressBlock(_block, _output);

    [Benchmark]
    public int ZstdDecompress() => ((ZstdCompressor)_zstd).DecompressFrame(_zstdFrame.AsSpan(0, _zstdLength), _output);

    [Benchmark]
    public int GzipLevel1Compress() => _gzip.CompressBlock(_block, _output);

    [Benchmark]
    public void AesGcmEncryptSegment() => _encrypt.EncryptSegment(1, false, _block, _ciphertext);

    [Benchmark]
    public void AesGcmDecryptSegment() => _decrypt.DecryptSegment(0, false, _ciphertext, _output.AsSpan(0, StageData.BlockSize));

    [Benchmark]
    public byte[] Sha256() => SHA256.HashData(_block);
}
