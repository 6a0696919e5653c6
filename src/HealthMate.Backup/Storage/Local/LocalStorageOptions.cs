using System.ComponentModel.DataAnnotations;

namespace HealthMate.Backup.Storage.Local;

/// <summary>Options of the local-disk storage provider.</summary>
public sealed class LocalStorageOptions
{
    /// <summary>
    /// Gets or sets the root folder, an absolute path (a relative one would depend on the working directory: under
    /// PostgreSQL's <c>archive_command</c> that is the data directory, and WAL archived there is lost with it). It is
    /// created if missing, owner-only (0700); objects are files readable by the owner only (0600). Nothing outside it is
    /// ever read or written.
    /// </summary>
    /// <value>The default value is empty: the path must be set; a host with local storage and no absolute path fails at start-up.</value>
    [Required]
    public string Path { get; set; } = string.Empty;

    /// <summary>Gets or sets a value indicating whether each commit is flushed to the disk (file and folder fsync) before it returns.</summary>
    /// <value>The default value is <see langword="true"/>. Turn it off only for throwaway test storage.</value>
    public bool FlushToDisk { get; set; } = true;
}
