using System.Text.Json.Serialization;

namespace HealthMate.Backup.Catalog;

/// <summary>Source-generated JSON for manifests: camelCase, enums as strings, no indentation.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(BackupManifest))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
