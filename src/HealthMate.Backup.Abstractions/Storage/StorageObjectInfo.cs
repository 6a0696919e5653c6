namespace HealthMate.Backup.Storage;

/// <summary>Describes a committed object.</summary>
/// <param name="Key">The object key.</param>
/// <param name="Size">The object size in bytes.</param>
/// <param name="LastModified">When the object was committed, as the store reports it.</param>
public sealed record StorageObjectInfo(string Key, long Size, DateTimeOffset LastModified);
