using System.Globalization;
using System.Text.Json.Serialization;
using HealthMate.Backup.Catalog;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.Pipeline;

namespace HealthMate.Backup.Failover;

/// <summary>
/// Topology records in the backup storage: <c>{prefix}dr/topology/{component}/{fencing token}.json</c>, sealed with the
/// DR records' HMAC key and written with put-if-absent. The highest token is the newest; older ones are kept (a few
/// hundred bytes per failover) as the component's history. The environment is resolved on first use: strategies take
/// this store, and the environment's options validation resolves the strategies.
/// </summary>
internal sealed class StorageFailoverTopologyStore(IServiceProvider services) : IFailoverTopologyStore
{
    private const string Folder = "dr/topology/";

    private readonly Lazy<(BackupEnvironment Environment, SealedRecords<FailoverTopology> Records)> _store = new(() =>
    {
        var environment = (BackupEnvironment)services.GetService(typeof(BackupEnvironment))!;
        return (environment, new SealedRecords<FailoverTopology>(environment, new EnvelopeKind("healthmate-backup-topology", "topology", KeyDerivation.DrRecordMacKeyInfo), TopologyJsonContext.Default.FailoverTopology));
    });

    private SealedRecords<FailoverTopology> Records => _store.Value.Records;

    private BackupEnvironment Environment => _store.Value.Environment;

    public async Task<FailoverTopology?> ReadAsync(string component, CancellationToken cancellationToken = default)
    {
        Validate(component);
        var newest = await NewestTokenAsync(component, cancellationToken).ConfigureAwait(false);
        if (newest is null)
        {
            return null;
        }

        var record = await Records.ReadAsync(Key(component, newest.Value), cancellationToken).ConfigureAwait(false);
        return record is null || record.Component == component && record.FencingToken == newest
            ? record
            : throw new BackupFormatException($"Topology record {Key(component, newest.Value)} names component '{record.Component}' and token {record.FencingToken}: it was moved, not written there.");
    }

    public async Task<bool> WriteAsync(FailoverTopology topology, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topology);
        Validate(topology.Component);
        ArgumentException.ThrowIfNullOrWhiteSpace(topology.Primary);
        ArgumentOutOfRangeException.ThrowIfNegative(topology.FencingToken);
        if (await NewestTokenAsync(topology.Component, cancellationToken).ConfigureAwait(false) is { } newest && newest >= topology.FencingToken)
        {
            return false;
        }

        return await Records.AddAsync(Key(topology.Component, topology.FencingToken), topology, cancellationToken).ConfigureAwait(false);
    }

    private static void Validate(string component)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(component);
        if (!Leases.LeaseNames.IsValid($"failover.{component}"))
        {
            throw new ArgumentException($"'{component}' is not a component name (lower-case letters, digits, '-' and '.').", nameof(component));
        }
    }

    private static string Key(string component, long token) => $"{Folder}{component}/{token.ToString("D19", CultureInfo.InvariantCulture)}.json";

    private async Task<long?> NewestTokenAsync(string component, CancellationToken cancellationToken)
    {
        var folder = Environment.Layout.Prefix + Folder + component + "/";
        long? newest = null;
        await foreach (var item in Environment.Storage.ListAsync(folder, cancellationToken).ConfigureAwait(false))
        {
            var name = item.Key[folder.Length..];
            if (name.EndsWith(".json", StringComparison.Ordinal) && long.TryParse(name.AsSpan(0, name.Length - 5), NumberStyles.None, CultureInfo.InvariantCulture, out var token) && token > (newest ?? -1))
            {
                newest = token;
            }
        }

        return newest;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(FailoverTopology))]
internal sealed partial class TopologyJsonContext : JsonSerializerContext;
