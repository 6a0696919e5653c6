using System.ComponentModel.DataAnnotations;

namespace HealthMate.Backup.Storage.Local;

/// <summary>Options of the local-disk storage provider.</summary>
public sealed class LocalStorageOptions
{
    /// <summary>The default root folder, relative to the current directory.</summary>
    public const string DefaultPath = "backups";

    /// <summary>Gets or sets the root folder. It is created if missing; nothing outside it is ever read or written.</summary>
    /// <value>The default value is <c>backups</c> (relative to the current directory).</value>
    [Required]
    public string Path { get; set; } = DefaultPath;

    /// <summary>Gets or sets a value indicating whether each commit is flushed to the disk (file and folder fsync) before it returns.</summary>
    /// <value>The default value is <see langword="true"/>. Turn it off only for throwaway test storage.</value>
    public bool FlushToDisk { get; set; } = true;
}
