namespace HealthMate.Backup;

/// <summary>The stages of the backup, restore and verify pipelines.</summary>
public enum PipelineStage
{
    /// <summary>Reading from the backup source.</summary>
    Source,

    /// <summary>Compressing blocks.</summary>
    Compress,

    /// <summary>Encrypting segments.</summary>
    Encrypt,

    /// <summary>Hashing and writing to storage.</summary>
    Store,

    /// <summary>Writing and committing the manifest.</summary>
    Manifest,

    /// <summary>Reading and hashing from storage.</summary>
    Read,

    /// <summary>Decrypting and authenticating segments.</summary>
    Decrypt,

    /// <summary>Decompressing.</summary>
    Decompress,

    /// <summary>Handing restored bytes to the restore target.</summary>
    Target,

    /// <summary>Comparing checksums and sizes with the manifest.</summary>
    Verify,

    /// <summary>The run finished.</summary>
    Completed,
}
