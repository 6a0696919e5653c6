namespace HealthMate.Backup.Health;

/// <summary>How one probe is run by the health monitor; unset values come from <see cref="HealthMonitorOptions.Defaults"/>.</summary>
public sealed class MonitoredProbeOptions
{
    /// <summary>Gets or sets whether the monitor runs the probe.</summary>
    public bool? Enabled { get; set; }

    /// <summary>Gets or sets the pause between the end of one probe and the start of the next (Patroni's loop wait).</summary>
    public TimeSpan? Interval { get; set; }

    /// <summary>Gets or sets how long one probe may take; it is then cancelled and counts as a failure.</summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>Gets or sets how many failures in a row declare the component down.</summary>
    public int? FailureThreshold { get; set; }

    /// <summary>Gets or sets the longest time those failures may span (from the first one's start to the last one's);
    /// failures spread wider do not declare it down.</summary>
    public TimeSpan? FailureWindow { get; set; }

    /// <summary>Gets or sets how many successes in a row bring a down component back up.</summary>
    public int? RecoveryThreshold { get; set; }

    /// <summary>Gets or sets whether a degraded answer counts as a failure.</summary>
    public bool? DegradedIsFailure { get; set; }
}

/// <summary>The effective settings of one monitored probe.</summary>
/// <param name="Enabled">Whether it runs.</param>
/// <param name="Interval">Pause between probes.</param>
/// <param name="Timeout">Per-probe timeout.</param>
/// <param name="FailureThreshold">Failures in a row to declare down.</param>
/// <param name="FailureWindow">Longest span of those failures.</param>
/// <param name="RecoveryThreshold">Successes in a row to come back up.</param>
/// <param name="DegradedIsFailure">Whether degraded counts as a failure.</param>
public sealed record MonitoredProbeSettings(bool Enabled, TimeSpan Interval, TimeSpan Timeout, int FailureThreshold, TimeSpan FailureWindow, int RecoveryThreshold, bool DegradedIsFailure);

/// <summary>
/// The <c>BackupDR:Monitor</c> section. The defaults detect a crashed database in about 2 s (three refused connections
/// one second apart) and a hung one in about 9 s (three 2 s timeouts), while one slow answer only makes it suspect.
/// </summary>
public sealed class HealthMonitorOptions
{
    /// <summary>Gets or sets whether the monitor runs (once <c>AddHealthMonitor()</c> is called).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the settings every probe starts from.</summary>
    public MonitoredProbeOptions Defaults { get; set; } = new()
    {
        Enabled = true,
        Interval = TimeSpan.FromSeconds(1),
        Timeout = TimeSpan.FromSeconds(2),
        FailureThreshold = 3,
        FailureWindow = TimeSpan.FromSeconds(10),
        RecoveryThreshold = 2,
        DegradedIsFailure = false,
    };

    /// <summary>Gets or sets per-probe overrides by probe name. The expensive <c>backups</c> probe runs every 5 minutes by default.</summary>
    public Dictionary<string, MonitoredProbeOptions> Probes { get; set; } = new(StringComparer.Ordinal)
    {
        ["backups"] = new() { Interval = TimeSpan.FromMinutes(5), Timeout = TimeSpan.FromMinutes(1), FailureThreshold = 1, FailureWindow = TimeSpan.FromMinutes(1) },
    };

    /// <summary>Gets or sets how many answers per probe the monitor keeps.</summary>
    /// <value>The default value is 30.</value>
    public int HistorySize { get; set; } = 30;

    /// <summary>Resolves a probe's effective settings.</summary>
    /// <param name="probe">The probe's name.</param>
    /// <returns>The settings.</returns>
    public MonitoredProbeSettings Resolve(string probe)
    {
        Probes.TryGetValue(probe, out var own);
        return new MonitoredProbeSettings(
            own?.Enabled ?? Defaults.Enabled ?? true,
            own?.Interval ?? Defaults.Interval ?? TimeSpan.FromSeconds(1),
            own?.Timeout ?? Defaults.Timeout ?? TimeSpan.FromSeconds(2),
            own?.FailureThreshold ?? Defaults.FailureThreshold ?? 3,
            own?.FailureWindow ?? Defaults.FailureWindow ?? TimeSpan.FromSeconds(10),
            own?.RecoveryThreshold ?? Defaults.RecoveryThreshold ?? 2,
            own?.DegradedIsFailure ?? Defaults.DegradedIsFailure ?? false);
    }

    /// <summary>Lists what is wrong with the settings of the defaults and of every named probe.</summary>
    /// <returns>One message per problem.</returns>
    internal IEnumerable<string> Validate()
    {
        if (HistorySize is < 1 or > 10_000)
        {
            yield return $"Monitor:HistorySize {HistorySize} is outside 1..10000.";
        }

        foreach (var (name, settings) in Probes.Keys.Select(k => (k, Resolve(k))).Prepend(("Defaults", Resolve("\0"))))
        {
            var at = name == "Defaults" ? "Monitor:Defaults" : $"Monitor:Probes:{name}";
            if (settings.Interval <= TimeSpan.Zero || settings.Timeout <= TimeSpan.Zero || settings.FailureWindow <= TimeSpan.Zero)
            {
                yield return $"{at}: Interval, Timeout and FailureWindow must be positive.";
                continue;
            }

            if (settings.FailureThreshold is < 1 or > 1000 || settings.RecoveryThreshold is < 1 or > 1000)
            {
                yield return $"{at}: FailureThreshold and RecoveryThreshold must be within 1..1000.";
                continue;
            }

            // A hung component answers nothing: each failure then takes Timeout, and the next starts Interval later.
            var slowest = (settings.FailureThreshold - 1) * (settings.Interval + settings.Timeout);
            if (settings.FailureWindow < slowest)
            {
                yield return $"{at}: FailureWindow {settings.FailureWindow} is shorter than {settings.FailureThreshold} failures of a hung component take to start ({slowest}); it would never be declared down. Lengthen the window or shorten Timeout/Interval.";
            }
        }
    }
}
