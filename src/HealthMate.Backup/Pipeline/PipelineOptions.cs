namespace HealthMate.Backup.Pipeline;

/// <summary>Parallelism of the pipeline's block stages.</summary>
public sealed class PipelineOptions
{
    /// <summary>The largest accepted parallelism.</summary>
    public const int MaxParallelism = 256;

    /// <summary>Gets or sets how many blocks are compressed, encrypted, decrypted or decompressed at once, from 1 to 256.</summary>
    /// <value>The default value is <see cref="Environment.ProcessorCount"/>.</value>
    public int Parallelism { get; set; } = Environment.ProcessorCount;
}
