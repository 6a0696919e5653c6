namespace HealthMate.Backup.Benchmarks;

/// <summary>Benchmark input: the first MiBs of the file corpus when it exists (scripts/make-file-corpus.sh), else generated text.</summary>
public static class StageData
{
    public const int BlockSize = 1024 * 1024;

    public static byte[] Load(int length)
    {
        var corpus = Environment.GetEnvironmentVariable("HM_CORPUS") ?? "/tmp/hm-corpus/files.tar";
        var data = new byte[length];
        if (File.Exists(corpus))
        {
            using var file = File.OpenRead(corpus);
            file.Seek(Math.Min(64L * 1024 * 1024, Math.Max(0, file.Length - length)), SeekOrigin.Begin);
            file.ReadExactly(data);
            return data;
        }

        var random = new Random(42);
        var words = "patient record dose observation medication embedding note "u8.ToArray();
        for (var i = 0; i < length; i++)
        {
            data[i] = random.Next(8) == 0 ? (byte)random.Next(256) : words[i % words.Length];
        }

        return data;
    }
}
