using System.Diagnostics;
using System.Security.Cryptography;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Health;

/// <summary>
/// Probes the backup storage end to end: writes a small random object under <c>{prefix}health/</c>, reads it back
/// and compares it, then deletes it. Unhealthy when any step fails or the bytes differ; the answer names the step.
/// </summary>
public sealed class StorageProbe : IHealthProbe
{
    private const int ProbeSize = 4096;
    private readonly IStorageProvider _storage;
    private readonly string _prefix;

    /// <summary>Initializes a new instance of the <see cref="StorageProbe"/> class.</summary>
    /// <param name="storage">The storage to probe.</param>
    /// <param name="prefix">The key prefix (the backups' prefix), or <see langword="null"/>.</param>
    /// <param name="name">The probe's name. Defaults to <c>storage</c>.</param>
    public StorageProbe(IStorageProvider storage, string? prefix = null, string name = "storage")
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _storage = storage;
        _prefix = new Catalog.StorageLayout(prefix).Prefix;
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var key = $"{_prefix}health/probe-{Guid.NewGuid():N}";
        var payload = RandomNumberGenerator.GetBytes(ProbeSize);
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        var step = "write";
        try
        {
            await _storage.PutIfAbsentAsync(key, payload, cancellationToken).ConfigureAwait(false);
            data["write_ms"] = clock.Elapsed.TotalMilliseconds;
            step = "read";
            var back = await _storage.ReadSmallAsync(key, ProbeSize * 2, cancellationToken).ConfigureAwait(false);
            data["read_ms"] = clock.Elapsed.TotalMilliseconds;
            if (!back.AsSpan().SequenceEqual(payload))
            {
                return new ProbeResult(ProbeStatus.Unhealthy, $"storage returned {back.Length} bytes that differ from the {ProbeSize} written", clock.Elapsed, data);
            }

            step = "delete";
            await _storage.DeleteAsync(key, cancellationToken).ConfigureAwait(false);
            data["delete_ms"] = clock.Elapsed.TotalMilliseconds;
            return new ProbeResult(ProbeStatus.Healthy, $"write, read and delete of {ProbeSize} bytes in {clock.Elapsed.TotalMilliseconds:0} ms", clock.Elapsed, data);
        }
        catch (Exception ex) when (ex is StorageException or IOException or UnauthorizedAccessException or Backup.BackupException)
        {
            return new ProbeResult(ProbeStatus.Unhealthy, $"storage {step} failed: {ex.Message}", clock.Elapsed, data, ex);
        }
        finally
        {
            if (step != "delete" || !data.ContainsKey("delete_ms"))
            {
                try
                {
                    await _storage.DeleteAsync(key, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is StorageException or IOException or UnauthorizedAccessException)
                {
                    // The object may never have been written; retention removes stray probe objects' folder by age otherwise.
                }
            }
        }
    }
}
