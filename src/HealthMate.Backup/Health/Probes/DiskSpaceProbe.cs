using System.Diagnostics;

namespace HealthMate.Backup.Health;

/// <summary>Which disk the probe watches and the free space it expects.</summary>
public sealed class DiskSpaceProbeOptions
{
    /// <summary>Gets or sets the probe's name.</summary>
    public string Name { get; set; } = "disk";

    /// <summary>Gets or sets a path on the disk to watch (the backup folder, the database's data folder).</summary>
    public string Path { get; set; } = ".";

    /// <summary>Gets or sets the free bytes below which the disk is degraded. Defaults to 10 GiB.</summary>
    public long DegradedBelowBytes { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>Gets or sets the free bytes below which the disk is unhealthy. Defaults to 1 GiB.</summary>
    public long UnhealthyBelowBytes { get; set; } = 1L * 1024 * 1024 * 1024;

    /// <summary>Gets or sets the free share (0 to 1) below which the disk is degraded. Defaults to 0.1.</summary>
    public double DegradedBelowFraction { get; set; } = 0.1;

    /// <summary>Gets or sets the free share below which the disk is unhealthy. Defaults to 0.02.</summary>
    public double UnhealthyBelowFraction { get; set; } = 0.02;
}

/// <summary>Probes the free space of the disk holding a path (as available to this process).</summary>
public sealed class DiskSpaceProbe : IHealthProbe
{
    private readonly DiskSpaceProbeOptions _options;

    /// <summary>Initializes a new instance of the <see cref="DiskSpaceProbe"/> class.</summary>
    /// <param name="options">The disk and thresholds; validated here.</param>
    public DiskSpaceProbe(DiskSpaceProbeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Name) || string.IsNullOrWhiteSpace(options.Path) || options.UnhealthyBelowBytes < 0 || options.DegradedBelowBytes < options.UnhealthyBelowBytes
            || options.UnhealthyBelowFraction is < 0 or > 1 || options.DegradedBelowFraction < options.UnhealthyBelowFraction || options.DegradedBelowFraction > 1)
        {
            throw new ArgumentException("The disk probe needs a Name and a Path; thresholds not negative, the degraded ones at least the unhealthy ones, fractions within 0..1.", nameof(options));
        }

        _options = options;
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <inheritdoc />
    public ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var drive = new DriveInfo(System.IO.Path.GetFullPath(_options.Path));
            var free = drive.AvailableFreeSpace;
            var total = drive.TotalSize;
            var fraction = total == 0 ? 0 : (double)free / total;
            var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["free_bytes"] = free, ["total_bytes"] = total, ["free_fraction"] = fraction, ["mount"] = drive.RootDirectory.FullName };
            var line = $"{free / (1024.0 * 1024 * 1024):0.##} GiB free of {total / (1024.0 * 1024 * 1024):0.##} GiB ({fraction:P1}) on {drive.RootDirectory.FullName}";
            var status = free < _options.UnhealthyBelowBytes || fraction < _options.UnhealthyBelowFraction ? ProbeStatus.Unhealthy
                : free < _options.DegradedBelowBytes || fraction < _options.DegradedBelowFraction ? ProbeStatus.Degraded
                : ProbeStatus.Healthy;
            return ValueTask.FromResult(new ProbeResult(status, line, clock.Elapsed, data));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return ValueTask.FromResult(new ProbeResult(ProbeStatus.Unhealthy, $"cannot read the free space of {_options.Path}: {ex.Message}", clock.Elapsed, new Dictionary<string, object>(), ex));
        }
    }
}
