namespace HealthMate.Backup.Catalog;

/// <summary>The storage keys of the on-storage layout (docs/format.md): <c>{prefix}backups/{kind}/{id}/data</c> and <c>manifest.json</c>.</summary>
internal sealed class StorageLayout
{
    internal const string ManifestName = "manifest.json";
    internal const string DataName = "data";

    internal StorageLayout(string? prefix)
    {
        var trimmed = (prefix ?? string.Empty).Trim('/');
        Prefix = trimmed.Length == 0 ? string.Empty : trimmed + "/";
    }

    internal string Prefix { get; }

    internal string BackupsPrefix => Prefix + "backups/";

    internal static bool IsValidKind(string? kind) =>
        kind is { Length: > 0 and <= 32 } && char.IsAsciiLetterLower(kind[0]) && kind.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    internal string KindPrefix(string kind) => $"{BackupsPrefix}{kind}/";

    internal string DataKey(string kind, string backupId) => Prefix + RelativeDataKey(kind, backupId);

    /// <summary>The data key without the prefix, as the manifest records it, so a store copied under another prefix still restores.</summary>
    internal static string RelativeDataKey(string kind, string backupId) => $"backups/{kind}/{backupId}/{DataName}";

    internal string ObjectKey(string kind, string backupId, string name) => Prefix + RelativeObjectKey(kind, backupId, name);

    internal static string RelativeObjectKey(string kind, string backupId, string name) => $"backups/{kind}/{backupId}/{name}";

    internal string ManifestKey(string kind, string backupId) => $"{BackupsPrefix}{kind}/{backupId}/{ManifestName}";

    /// <summary>Parses <c>{prefix}backups/{kind}/{id}/manifest.json</c>.</summary>
    internal bool TryParseManifestKey(string key, out string kind, out string backupId)
    {
        kind = backupId = string.Empty;
        if (!key.StartsWith(BackupsPrefix, StringComparison.Ordinal) || !key.EndsWith("/" + ManifestName, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = key[BackupsPrefix.Length..^(ManifestName.Length + 1)].Split('/');
        if (parts.Length != 2 || !IsValidKind(parts[0]) || !BackupId.IsValid(parts[1]))
        {
            return false;
        }

        (kind, backupId) = (parts[0], parts[1]);
        return true;
    }
}
